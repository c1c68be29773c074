"""The training-data generator against real Postgres: verification, resume, determinism, dev-set exclusion, diversity."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path

import asyncpg
import pytest
from finetune.generator.dedupe import normalise_question, normalise_sql
from finetune.generator.metrics import diversity
from finetune.generator.run import GenerateSettings, generate
from finetune.generator.verify import entity_problem, verify_sql
from pipeline.executor import ExecLimits
from pipeline.guard import GuardPolicy, check_sql
from pipeline.schema import introspect_schema

from .conftest import create_database, drop_database

DENIED = frozenset({"students.email", "enrollments.grade"})
TODAY = dt.date(2026, 11, 24)
DEV = Path(__file__).resolve().parents[1] / "finetune" / "eval" / "course_dev.jsonl"
COURSE_TABLES = {"departments", "instructors", "courses", "course_topics", "prerequisites", "terms", "sections",
                 "students", "enrollments", "assessments"}


async def _run(url: str, out: Path, *, count: int, seed: int = 7, denied=DENIED, batch_size: int = 48,
               on_progress=None):
    async with asyncpg.create_pool(url, min_size=1, max_size=4) as pool:
        schema = await introspect_schema(pool)
        policy = GuardPolicy.from_schema(schema, denied_columns=denied)
        settings = GenerateSettings(count=count, seed=seed, sources=("sampling",), denied_columns=denied,
                                    today=TODAY, db_label="test", batch_size=batch_size, concurrency=4,
                                    exclude=(str(DEV),))
        return await generate(pool, schema, policy, settings, out=out, on_progress=on_progress)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def course_set(course_db_url, tmp_path_factory):
    """One sampling-only run of 300 pairs on the course database, shared by the metric tests."""
    out = tmp_path_factory.mktemp("gen") / "samples.jsonl"
    asyncio.run(_run(course_db_url, out, count=300))
    return out


async def test_verification_rejects_broken_writes_denied_and_empty(course_db_url):
    async with asyncpg.create_pool(course_db_url, min_size=1, max_size=2) as pool:
        schema = await introspect_schema(pool)
        policy = GuardPolicy.from_schema(schema, denied_columns=DENIED)
        limits = ExecLimits(2000, 20, 10_000)
        assert (await verify_sql(pool, "SELEC code FROM courses", policy, limits)).reason in ("parse", "guard")
        assert (await verify_sql(pool, "DELETE FROM courses", policy, limits)).reason == "guard"
        assert (await verify_sql(pool, "SELECT email FROM students", policy, limits)).reason == "guard"
        assert (await verify_sql(pool, "SELECT nope FROM courses", policy, limits)).reason == "db_error"
        empty = "SELECT title FROM courses WHERE code = 'ZZ 0000'"
        assert (await verify_sql(pool, empty, policy, limits)).reason == "empty"
        assert (await verify_sql(pool, empty, policy, limits, require_rows=False)).ok
        assert (await verify_sql(pool, "SELECT title FROM courses WHERE code = 'CS 2110'", policy, limits)).ok
        # Two instructors share the most sections this term: LIMIT 1 would keep either.
        most = ("SELECT i.first_name, i.last_name, count(*) AS n FROM instructors i JOIN sections s ON s.instructor_id "
                "= i.id JOIN terms t ON t.id = s.term_id WHERE t.name = 'Fall 2026' GROUP BY i.first_name, i.last_name "
                "ORDER BY n DESC LIMIT {}")
        async with pool.acquire() as conn:
            top = [r["n"] for r in await conn.fetch(most.format(3))]
        assert top[0] == top[1] > top[2], top  # the fixture's data, as the assertions below assume
        limits = ExecLimits(2000, 200, 100_000)
        assert (await verify_sql(pool, most.format(1), policy, limits)).reason == "tie"
        assert (await verify_sql(pool, most.format(2), policy, limits)).ok
        assert (await verify_sql(pool, "SELECT code, title FROM courses ORDER BY code LIMIT 2", policy, limits)).ok


def test_round_trip_entity_check():
    sql = "SELECT credits FROM courses WHERE code = 'CS 2110'"
    assert entity_problem("how many credits is cs 2110", sql) is None
    assert entity_problem("how many credits is CS 1010?", sql) == "entity_missing"
    assert entity_problem("credits of CS 2110 in 2026?", sql) == "entity_extra"
    assert entity_problem("credits of CS 2110 vs 'Linear Algebra'", sql) == "entity_extra"
    term = "SELECT count(*) FROM sections s JOIN terms t ON t.id = s.term_id WHERE t.name = 'Fall 2026'"
    assert entity_problem("how many sections this semester", term) == "entity_missing"
    assert entity_problem("how many sections this semester", term, relative={"Fall 2026": ("this semester",)}) is None
    assert entity_problem("sections starting before 9am",
                          "SELECT room FROM sections WHERE start_time < '09:00'") is None


async def test_resume_after_interrupt_has_no_duplicates_and_reaches_count(course_db_url, tmp_path):
    out = tmp_path / "samples.jsonl"
    task = None

    def stop_early(stats):
        if stats.kept >= 20:
            task.cancel()

    task = asyncio.ensure_future(_run(course_db_url, out, count=60, batch_size=10, on_progress=stop_early))
    with pytest.raises(asyncio.CancelledError):
        await task
    first = out.read_text()
    assert 20 <= len(first.splitlines()) < 60
    with out.open("a") as f:
        f.write('{"question": "torn li')  # a line cut by the interrupt
    stats = await _run(course_db_url, out, count=60, batch_size=10)
    rows = _rows(out)
    assert len(rows) == 60 and stats.kept == 60
    assert out.read_text().startswith(first)
    assert len({normalise_sql(r["sql"]) for r in rows}) == 60
    again = await _run(course_db_url, out, count=60)
    assert again.kept == 60 and len(_rows(out)) == 60  # already complete: nothing added


async def test_same_seed_gives_the_same_file(course_db_url, tmp_path):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    await _run(course_db_url, a, count=80, seed=3)
    await _run(course_db_url, b, count=80, seed=3)
    await _run(course_db_url, c, count=80, seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_dev_set_never_produced(course_set):
    dev = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    dev_sql = {normalise_sql(d["sql"]) for d in dev}
    dev_q = {normalise_question(d["question"]) for d in dev}
    for r in _rows(course_set):
        assert normalise_sql(r["sql"]) not in dev_sql, r
        assert normalise_question(r["question"]) not in dev_q, r


def test_diversity_of_a_sampling_run(course_set):
    rows = _rows(course_set)
    d = diversity(rows)
    assert d["pairs"] == 300
    assert d["distinct_sql"] >= 0.95
    assert set(d["tables"]) >= COURSE_TABLES
    assert d["with_join"] >= 0.4 and d["with_aggregate"] >= 0.3
    assert d["shapes"] >= 12 and d["avg_question_words"] >= 6
    assert d["relative_time"] > 0  # 'this semester' / 'last fall' questions exist
    stats = json.loads(course_set.with_name("samples.stats.json").read_text())
    assert stats["max_template_share"] <= 0.05
    assert set(rows[0]) == {"question", "sql", "shape", "tables", "source", "db"}


def test_generated_sql_never_reads_denied_columns(course_set):
    policy = GuardPolicy(denied_columns=DENIED)
    for r in _rows(course_set):
        check_sql(r["sql"], policy)  # raises UnsafeSql on students.email / enrollments.grade


@pytest.fixture
def shop_db_url(pg_admin_url, test_run_id):
    """A fresh database loaded from tests/fixtures/shopdb.sql, dropped afterwards."""
    name = f"askdb_shop_{test_run_id}"
    sql = (Path(__file__).parent / "fixtures" / "shopdb.sql").read_text()
    yield asyncio.run(create_database(pg_admin_url, name, sql))
    asyncio.run(drop_database(pg_admin_url, name))


def test_second_database_without_code_change(shop_db_url, tmp_path):
    out = tmp_path / "shop.jsonl"
    stats = asyncio.run(_run(shop_db_url, out, count=80, denied=frozenset({"customers.email"})))
    rows = _rows(out)
    assert len(rows) == 80 and stats.kept == 80
    assert len(set().union(*(r["tables"] for r in rows))) >= 6
    assert len({r["shape"] for r in rows}) >= 12
    assert not any("email" in r["sql"] for r in rows)

    async def rerun():
        async with asyncpg.create_pool(shop_db_url, min_size=1, max_size=2) as pool:
            for r in [r for r in rows if r["shape"] != "anti_join"][:20]:  # NOT EXISTS may rightly find none
                assert await pool.fetch(r["sql"]), r
    asyncio.run(rerun())


def test_cli_generate_writes_the_set_and_refuses_unknown_sources(course_db_url, tmp_path, capsys):
    from askdb.cli import main

    out = tmp_path / "cli.jsonl"
    assert main(["generate", "--database", course_db_url, "--count", "25", "--out", str(out),
                 "--sources", "sampling", "--no-progress"]) == 0
    rows = _rows(out)
    assert len(rows) == 25 and {r["db"] for r in rows} == {"course"}
    assert main(["generate", "--database", course_db_url, "--sources", "sampling,magic", "--out", str(out)]) == 1
    assert "unknown source 'magic'" in capsys.readouterr().err


class _ScriptedModel:
    """A TextModel that answers from a list: the rephrasing filter is the subject here, not the model."""
    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)
        self.prompts = []

    async def complete_many(self, batch, *, max_tokens=160, stop=()):
        from pipeline.models.base import Completion

        self.prompts += list(batch)
        return [Completion(self.replies.pop(0)) for _ in batch]

    async def aclose(self):
        pass


async def test_llm_rephrasing_kept_only_when_values_round_trip():
    import random

    from finetune.generator.paraphrase import rephrase
    from finetune.generator.run import _Pending
    from finetune.generator.shapes import Candidate
    from finetune.generator.verify import Verdict
    from finetune.generator.writer import Stats
    from pipeline.schema import Column, Schema, Table

    schema = Schema((Table("courses", (Column("code", "text"), Column("credits", "integer")), comment="Courses."),))
    sql = "SELECT credits FROM courses WHERE code = 'CS 2110'"
    batch = [_Pending(Candidate("lookup", sql, ("courses",), "lookup", {}), "What is the credits of CS 2110?", "t", "formal")
             for _ in range(3)]
    model = _ScriptedModel(["how many credits is cs 2110?", "how many credits is CS 1010?",
                            "The course has 4 credits."])
    stats = Stats()
    await rephrase(model, batch, [Verdict(True)] * 3, schema, random.Random(0), 1.0, stats, frozenset())
    assert [p.source for p in batch] == ["llm_questions", "sampling", "sampling"]
    assert batch[0].question == "how many credits is cs 2110?"
    assert stats.llm["kept"] == 1 and stats.llm["rejected_entities"] == 1 and stats.llm["rejected_unusable"] == 1
    prompt = model.prompts[0][-1].content
    assert sql in prompt and "courses(code, credits)  -- Courses" in prompt  # the SQL and the schema's comments


def test_lists_are_sorted_one_way_per_table_and_people_by_last_name(course_set):
    # A coin flip between sort columns for the same question taught the model to guess.
    rows = _rows(course_set)
    orders: dict[str, set] = {}
    for r in rows:
        # (A number the list is narrowed to, 'with credits 3', is no sort key: every row has it.)
        if r["shape"] == "child_list" and not re.search(r"\.\w+ = \d+", r["sql"]):
            table = re.search(r"\bFROM (\w+)", r["sql"]).group(1)
            orders.setdefault(table, set()).add(r["sql"].rsplit("ORDER BY", 1)[1].strip())
    assert orders and all(len(cols) == 1 for cols in orders.values()), orders
    # Children weighed by a column (an assessment's weight) come heaviest first, as the pipeline sorts them.
    assert all(o.endswith("DESC") for o in orders.get("assessments", ())) and orders.get("assessments"), orders
    people = [r["sql"] for r in rows if r["shape"] == "period_list" and "first_name" in r["sql"]]
    # Last then first name: namesakes come in one order, as an ordered comparison expects.
    assert all(re.search(r"ORDER BY (\w+)\.last_name, \1\.first_name$", sql) for sql in people), people


def test_not_exists_pairs_although_every_one_with_rows_is_a_dev_question(course_set):
    # Every NOT EXISTS with rows on the course database is a dev question; the empty ones are what shows the
    # model the shape at all.
    anti = [r for r in _rows(course_set) if r["shape"] == "anti_join"]
    assert len(anti) >= 3 and all("NOT EXISTS" in r["sql"] for r in anti)
    assert len({r["question"] for r in anti}) == len(anti)


def test_counts_and_rankings_are_also_asked_within_one_term(course_set):
    # 'Which instructor teaches the most sections this semester?': term-based data is counted per term.
    grouped = [r for r in _rows(course_set) if r["shape"] in ("group_count", "having", "top_k", "rank_by_total")]
    in_term = [r for r in grouped if re.search(r"WHERE t\d?\.name = '(Fall|Spring|Summer) \d{4}'", r["sql"])]
    assert in_term, "no count or ranking restricted to one term"
    for r in in_term:
        # Never grouped by the term while filtered to one term: that question asks nothing.
        assert not r["sql"].startswith("SELECT t.name"), r


def test_departments_are_named_by_their_name_not_the_code_that_shortens_it(course_set):
    # 'CE' only shortens 'Computer Engineering': people list the name, as the hand-written sets do.
    rows = [r for r in _rows(course_set) if "JOIN departments" in r["sql"] or "FROM departments" in r["sql"]]
    # Unless the code is asked for, or the departments are asked for by their codes.
    listed = [r["sql"].split(" FROM ")[0] for r in rows if "code" not in r["question"].lower()
              and "code IN" not in r["sql"]]
    # (A course's code beside its department, c.code, is the course's name, not the department's.)
    assert listed and not [s for s in listed if re.search(r"(?<![\w.])code\b|\bd\d?\.code\b", s)], listed
    assert any("d.code = " in r["sql"] or "code IN" in r["sql"] for r in _rows(course_set))  # still asked by code


async def test_a_shape_that_raises_is_counted_and_left_out_not_fatal(course_db_url, tmp_path, monkeypatch):
    import finetune.generator.run as run

    def boom(ctx, rng):
        raise IndexError("Cannot choose from an empty sequence")

    # Several entries, so that whatever the shapes' number, the run picks it before reaching its count.
    monkeypatch.setattr(run, "SHAPES", run.SHAPES + (boom,) * 8)
    stats = await _run(course_db_url, tmp_path / "s.jsonl", count=40)
    assert stats.kept == 40
    assert stats.rejected["shape_error:boom"] >= 1
    assert stats.as_dict()["shapes_skipped"]["boom"].startswith("error: IndexError")


@pytest.fixture
def little_db_url(pg_admin_url, test_run_id):
    """A database with little to ask: numbers under parents that have nothing to name them by (the schema on which
    group_agg once raised IndexError)."""
    name = f"askdb_little_{test_run_id}"
    base = pg_admin_url.split("?")[0].rsplit("/", 1)[0]
    sql = ("CREATE TABLE parent (id serial PRIMARY KEY);"
           "CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent (id), amount int);"
           "INSERT INTO parent SELECT FROM generate_series(1, 4);"
           "INSERT INTO child (parent_id, amount) SELECT 1 + g % 4, 10 * (g % 3) FROM generate_series(1, 12) g;")

    async def setup():
        admin = await asyncpg.connect(pg_admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await asyncpg.connect(f"{base}/{name}")
        await conn.execute(sql)
        await conn.close()

    async def teardown():
        admin = await asyncpg.connect(pg_admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(setup())
    yield f"{base}/{name}"
    asyncio.run(teardown())


def test_cli_on_a_schema_with_little_to_ask_says_so_and_fails_only_when_almost_empty(little_db_url, tmp_path, capsys):
    from askdb.cli import main

    out = tmp_path / "little.jsonl"
    args = ["generate", "--database", little_db_url, "--sources", "sampling", "--no-progress"]
    assert main(args + ["--count", "300", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "short of 300" in err and "group_agg (no material)" in err and "too few to train on" in err
    stats = json.loads(out.with_name("little.stats.json").read_text())
    assert 0 < stats["kept"] < 50 and not [k for k in stats["rejected"] if k.startswith("shape_error")]
    assert main(args + ["--count", "10", "--out", str(tmp_path / "ten.jsonl")]) == 0


def test_a_short_but_usable_set_exits_zero(capsys):
    from askdb.commands.generate import _report_short
    from finetune.generator.writer import Stats

    stats = Stats(kept=60, skipped_shapes={"chain": "no material"})
    assert _report_short(stats, 300) == 0  # a small schema's 60 different pairs are worth training on
    assert "chain (no material)" in capsys.readouterr().err
    assert _report_short(Stats(kept=49), 300) == 1
    assert _report_short(Stats(kept=20), 20) == 0
