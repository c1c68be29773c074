"""Charts of answers: the choice from the columns' types and the row count, the PNG read back, real course rows."""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest
from PIL import Image

from bot.charts import MAX_BARS, chart_for, draw_chart, make_chart, plan_chart
from bot.core import Reply

DEPARTMENTS = (("Mathematics", 305), ("Computer Science", 294), ("Computer Engineering", 239), ("Physics", 202))


@pytest.mark.parametrize("columns, rows, kind, x, y", [
    (("department", "students"), DEPARTMENTS, "barh", "department", "students"),  # long labels lie on their side
    (("code", "credits"), (("CE 1100", 3), ("CE 2200", 4), ("CE 2300", 3)), "bars", "code", "credits"),
    (("admit_year", "students"), ((2021, 46), (2022, 94), (2023, 103)), "line", "admit_year", "students"),
    (("starts_on", "sections"), (("2025-08-25", 49), ("2026-01-12", 49)), "line", "starts_on", "sections"),
    (("week", "topics"), ((1, 2), (2, 3), (3, 1)), "line", "week", "topics"),
    (("section_id", "enrolled"), ((12, 30), (14, 25)), "bars", "section_id", "enrolled"),  # an id labels, never counts
    (("credits", "courses"), ((2, 4), (3, 30), (4, 11)), "line", "credits", "courses"),  # ordered by the query
    (("code", "title", "credits"), (("CS 2110", "Data Structures", 4), ("CS 1110", "Intro", 3)), "bars", "code",
     "credits"),
])
def test_the_picture_follows_the_column_types(columns, rows, kind, x, y):
    plan = plan_chart(columns, rows)
    assert (plan.kind, plan.x, plan.y, len(plan.points)) == (kind, x, y, len(rows))


@pytest.mark.parametrize("columns, rows", [
    (("count",), ((45,),)),  # a single number
    (("department", "students"), (("Physics", 202),)),  # one row
    (("id", "course_id", "term_id", "room", "capacity"), ((1, 1, 1, "ENG 105", 60), (2, 2, 1, "ENG 310", 75))),
    (("week", "topic"), ((1, "Virtualization"), (2, "Containers"))),  # nothing to measure
    (("month", "department", "students"),  # several series
     (("2026-01-01", "CS", 3), ("2026-01-01", "CE", 4), ("2026-02-01", "CS", 5), ("2026-02-01", "CE", 6))),
    (("credits", "courses"), ((3, 30), (4, 11), (2, 4))),  # two numbers, neither an axis
    (("department", "students"), (("Physics", None), ("Math", None))),
    (("prerequisites", "courses"), ((["CS 1110"], 3), (["CS 1110", "MATH 1910"], 2))),  # arrays are not labels
    (("retired", "courses"), ((True, 3), (False, 40))),
])
def test_no_chart_for_a_number_a_wide_table_or_no_pair(columns, rows):
    assert plan_chart(columns, rows) is None


def test_many_bars_are_cut_to_the_largest_and_the_picture_says_so():
    rows = tuple((f"Course {i:02d}", i) for i in range(45))
    plan = plan_chart(("title", "sections"), rows)
    assert len(plan.points) == MAX_BARS and plan.points[0] == ("Course 44", 44) and plan.total == 45
    fig = draw_chart(plan, title="How many sections does each course have?")
    ax = fig.axes[0]
    assert len(ax.patches) == MAX_BARS
    assert ax.get_title() == f"(top {MAX_BARS} of 45 by sections)"


async def test_course_results_draw_as_many_bars_as_rows_and_decode(query_db_url):
    from pipeline.database import open_pool
    from pipeline.executor import execute

    question = "How many courses does each department offer?"
    async with open_pool(query_db_url) as pool:
        bars = await execute(pool, "SELECT d.name AS department, count(*) AS courses FROM courses c "
                                   "JOIN departments d ON d.id = c.department_id GROUP BY d.name ORDER BY courses DESC")
        line = await execute(pool, "SELECT admit_year, count(*) AS students FROM students GROUP BY admit_year "
                                   "ORDER BY admit_year")
    assert len(bars.rows) >= 3 and len(line.rows) >= 3
    plan = plan_chart(bars.columns, bars.rows)
    fig = draw_chart(plan, title=question)
    ax = fig.axes[0]
    assert len(ax.patches) == len(bars.rows)  # one bar per row, read from the figure
    assert sorted(p.get_width() for p in ax.patches) == sorted(float(r[1]) for r in bars.rows)
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("department", "courses")
    assert fig._suptitle.get_text() == question
    assert [t.get_text() for t in ax.get_yticklabels()] == [r[0] for r in bars.rows]

    chart = make_chart(bars.columns, bars.rows, title=question)
    image = Image.open(io.BytesIO(chart.png))
    image.load()  # decodes every pixel: a truncated file fails here
    assert image.format == "PNG" and image.size[0] == 800 and image.size[1] >= 360

    fig = draw_chart(plan_chart(line.columns, line.rows), title="How many students were admitted each year?")
    (drawn,) = fig.axes[0].get_lines()
    assert list(drawn.get_xdata()) == [r[0] for r in line.rows] and list(drawn.get_ydata()) == [r[1] for r in line.rows]


async def test_a_drawing_failure_is_logged_and_yields_no_chart(monkeypatch, caplog):
    def broken(plan, *, title):
        raise ValueError("no glyph for that label")

    monkeypatch.setattr("bot.charts.draw_chart", broken)
    caplog.set_level(logging.WARNING, logger="askdb.bot.charts")
    reply = Reply("Four departments.", columns=("department", "students"), rows=DEPARTMENTS, question="Per department?")
    assert await chart_for(reply) is None
    (record,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "askdb.bot.charts"]
    assert record["event"] == "chart_failed" and "no glyph" in record["error"]


async def test_error_replies_get_no_chart():
    reply = Reply("Sorry", status="error", columns=("department", "students"), rows=DEPARTMENTS)
    assert await chart_for(reply) is None


def test_matplotlib_is_imported_only_when_a_chart_is_drawn():
    code = ("import sys, askdb.cli, askdb.commands.ask, bot.charts, bot.discord_bot, bot.slack_bot, bot.terminal\n"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_askdb_ask_chart_writes_the_png(query_db_url, tmp_path, monkeypatch, capsys):
    import datetime as dt

    from askdb.cli import main
    from pipeline.database import open_pool
    from pipeline.guard import GuardPolicy
    from pipeline.pipeline import Pipeline, PipelineSettings
    from pipeline.schema import introspect_schema

    from .fakes_models import ScriptedModel

    sql = ["SELECT admit_year, count(*) AS students FROM students GROUP BY admit_year ORDER BY admit_year"]

    @asynccontextmanager
    async def course_app(cfg, *, database=None, adapter=None):
        async with open_pool(query_db_url) as pool:
            schema = await introspect_schema(pool)
            yield SimpleNamespace(pipeline=Pipeline(
                sql_model=ScriptedModel(sql[-1]), pool=pool, schema=schema, policy=GuardPolicy.from_schema(schema),
                settings=PipelineSettings(answer_with_model=False), clock=lambda: dt.date(2026, 11, 24)))

    monkeypatch.setattr("askdb.commands.ask.open_app", course_app)
    out = tmp_path / "admitted.png"
    assert await _in_thread(main, ["ask", "How many students were admitted each year?", "--chart", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"Line chart of students by admit_year written to {out}" in captured.err
    assert Image.open(out).format == "PNG"

    single = tmp_path / "none.png"
    sql.append("SELECT count(*) FROM courses")
    assert await _in_thread(main, ["ask", "How many courses are there?", "--chart", str(single)]) == 0
    assert "no chart" in capsys.readouterr().err and not single.exists()


async def _in_thread(main, argv):
    import asyncio

    # main() runs its own event loop (asyncio.run), which cannot start inside this test's loop
    return await asyncio.to_thread(main, argv)


async def test_terminal_chat_writes_the_last_answers_chart(tmp_path):
    from bot.terminal import run_terminal_chat

    from .fakes.answers import FakeAnswers

    pipeline = SimpleNamespace(answer=FakeAnswers(rows=DEPARTMENTS, columns=("department", "students")),
                               settings=SimpleNamespace(max_question_chars=500))
    out, png = io.StringIO(), tmp_path / "departments.png"
    await run_terminal_chat(pipeline, stdin=io.StringIO(f"/chart {png}\nStudents per department?\n/chart {png}\n"),
                            stdout=out)
    text = out.getvalue()
    assert "No chart for that answer" in text  # nothing asked yet
    assert f"Bar chart of students by department written to {png}." in text
    assert Image.open(png).format == "PNG"
