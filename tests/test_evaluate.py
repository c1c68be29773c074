"""Execution accuracy: the result comparison, and scoring through the real pipeline, guard and Postgres."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys

import pytest

from finetune.evaluate import EvalItem, evaluate, gold_is_ordered, read_items, results_match, values_equal
from pipeline.database import open_pool
from pipeline.errors import ConfigError
from pipeline.guard import GuardPolicy
from pipeline.models.base import Completion
from pipeline.pipeline import Pipeline, PipelineSettings
from pipeline.schema import introspect_schema

COLS2 = ("code", "credits")


@pytest.mark.parametrize("gold, pred, ordered, same", [
    # row order is ignored unless the gold SQL orders
    ([("CS 1", 3), ("CS 2", 4)], [("CS 2", 4), ("CS 1", 3)], False, True),
    ([("CS 1", 3), ("CS 2", 4)], [("CS 2", 4), ("CS 1", 3)], True, False),
    ([("CS 1", 3), ("CS 2", 4)], [("CS 1", 3), ("CS 2", 4)], True, True),
    # duplicates count: a multiset, not a set
    ([("CS 1", 3), ("CS 1", 3)], [("CS 1", 3)], False, False),
    ([("CS 1", 3), ("CS 1", 3), ("CS 2", 4)], [("CS 1", 3), ("CS 2", 4), ("CS 2", 4)], False, False),
    # numbers within 0.01 absolute (AVG rounding), ints equal floats
    ([("CS 1", 3.3333333)], [("CS 1", 3.33)], False, True),
    ([("CS 1", 3)], [("CS 1", 3.0)], False, True),
    ([("CS 1", 3.3333)], [("CS 1", 3.35)], False, False),
    # strings are exact; '3' is not 3; NULL equals NULL only
    ([("CS 1", 3)], [("cs 1", 3)], False, False),
    ([("CS 1", 3)], [("CS 1", "3")], False, False),
    ([("CS 1", None)], [("CS 1", None)], False, True),
    ([("CS 1", None)], [("CS 1", 0)], False, False),
    # empty results match empty results of the same width
    ([], [], False, True),
])
def test_rows_compare_as_multisets_with_numeric_tolerance(gold, pred, ordered, same):
    assert results_match(COLS2, gold, COLS2, pred, ordered=ordered) is same


def test_column_order_and_names_are_ignored():
    gold = [("CS 1", 3, "Algorithms"), ("CS 2", 4, "Databases")]
    pred = [("Databases", "CS 2", 4), ("Algorithms", "CS 1", 3)]
    assert results_match(("code", "credits", "title"), gold, ("t", "c", "n"), pred, ordered=False)
    assert results_match(("code", "credits", "title"), gold, ("t", "c", "n"),
                         [("Algorithms", "CS 1", 3), ("Databases", "CS 2", 4)], ordered=True)


def test_column_permutation_must_be_consistent_across_rows():
    # Each column's values match some column, but no single permutation makes the rows equal.
    gold = [(1, 2), (2, 1), (1, 1)]
    pred = [(1, 2), (1, 2), (2, 1)]
    assert not results_match(("a", "b"), gold, ("a", "b"), pred, ordered=False)
    swapped = [(2, 1), (1, 2), (1, 1)]  # same rows, columns swapped
    assert results_match(("a", "b"), gold, ("b", "a"), swapped, ordered=False)


def test_extra_or_missing_columns_do_not_match():
    assert not results_match(("code",), [("CS 1",)], ("code", "title"), [("CS 1", "Algorithms")], ordered=False)


def test_values_equal_is_strict_about_booleans_and_lists():
    assert not values_equal(True, 1)
    assert values_equal([1, 2.0], [1.0, 2])
    assert not values_equal([1, 2], [2, 1])


@pytest.mark.parametrize("sql, ordered", [
    ("SELECT code FROM courses ORDER BY code", True),
    ("SELECT code FROM courses ORDER BY code LIMIT 3", True),
    ("SELECT code FROM (SELECT code FROM courses ORDER BY code) s", False),
    ("SELECT count(*) FROM courses", False),
])
def test_order_matters_only_for_a_top_level_order_by(sql, ordered):
    assert gold_is_ordered(sql) is ordered


def test_questions_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "a", "sql": "SELECT 1"}\n{"question": "no sql"}\n')
    with pytest.raises(ConfigError) as err:
        read_items(bad)
    assert err.value.key.endswith("q.jsonl:2")
    with pytest.raises(ConfigError):
        read_items(tmp_path / "missing.jsonl")


class MappedModel:
    """Replies with the SQL mapped to the question in the prompt (concurrency-safe, unlike a script)."""

    name = "mapped"

    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    async def complete(self, messages, *, max_tokens=160, stop=()):
        text = messages[-1].content
        return Completion(next((sql for q, sql in self.answers.items() if f"Question: {q}" in text), "no idea"), 5, 1.0)

    async def complete_many(self, batch, **kw):
        return [await self.complete(m, **kw) for m in batch]

    async def aclose(self):
        pass


ITEMS = [
    EvalItem("How many credits is CS 2110?", "SELECT credits FROM courses WHERE code = 'CS 2110'", "lookup", "easy"),
    EvalItem("List CE courses by code", "SELECT c.code, c.title FROM courses c JOIN departments d ON d.id = "
             "c.department_id WHERE d.code = 'CE' ORDER BY c.code", "list", "medium"),
    EvalItem("How many students are there?", "SELECT count(*) FROM students", "count", "easy"),
    EvalItem("Delete everything", "SELECT 1", "attack", "hard"),
    EvalItem("Broken SQL?", "SELECT 1", "lookup", "hard"),
    EvalItem("Just chat", "SELECT 1", "lookup", "hard"),
    EvalItem("Gold is broken", "SELECT nope FROM courses", "lookup", "hard"),
    EvalItem("Which sections have a capacity over 40?", "SELECT id FROM sections WHERE capacity > 40", "list",
             "medium"),
]
ANSWERS = {
    # same rows, different column names and column order
    "How many credits is CS 2110?": "SELECT credits AS n FROM courses WHERE code = 'CS 2110'",
    "List CE courses by code": "SELECT c.title, c.code FROM courses c WHERE c.code LIKE 'CE %' ORDER BY c.code",
    "How many students are there?": "SELECT count(*) FROM students WHERE admit_year > 3000",  # wrong
    "Delete everything": "DELETE FROM students",
    "Broken SQL?": "SELECT code FROM courses WHERE (",
    "Just chat": "Sure! Here is some help.",
    "Gold is broken": "SELECT 1",
    "Which sections have a capacity over 40?": "SELECT id FROM sections WHERE capacity >= 40",  # mended to > 40
}


async def test_evaluate_scores_through_the_real_pipeline(query_db_url):
    async with open_pool(query_db_url) as pool:
        schema = await introspect_schema(pool)
        pipeline = Pipeline(sql_model=MappedModel(ANSWERS), pool=pool, schema=schema,
                            policy=GuardPolicy.from_schema(schema), clock=lambda: dt.date(2026, 11, 24),
                            settings=PipelineSettings(answer_with_model=False, few_shot_k=0,
                                                      self_correction_attempts=0))
        report = await evaluate(pipeline, pool, ITEMS, label="t", concurrency=4)
    d = report.to_json()
    by_q = {r.question: r for r in report.results}
    assert by_q["How many credits is CS 2110?"].correct
    assert by_q["List CE courses by code"].correct
    assert by_q["How many students are there?"].reason == "wrong result"
    assert by_q["Delete everything"].reason == "refused"
    assert by_q["Broken SQL?"].reason == "syntax error"
    assert by_q["Just chat"].reason == "no sql"
    assert by_q["Gold is broken"].reason == "gold failed"
    mended = by_q["Which sections have a capacity over 40?"]
    assert mended.correct and mended.mended_by == ("ground_bounds",) and ">= 40" in mended.written_sql
    assert [m["question"] for m in d["mended"]] == [mended.question]  # what make quality --ablate-rules reads
    # the broken gold is reported but not scored
    assert d["n"] == 7 and d["correct"] == 3 and d["execution_accuracy"] == pytest.approx(3 / 7, abs=1e-4)
    assert d["by_difficulty"]["easy"] == {"n": 2, "correct": 1, "ex": 0.5}
    assert d["latency_ms_p50"] is not None and d["latency_ms_p95"] >= d["latency_ms_p50"]
    assert {f["question"] for f in d["failures"]} == {"How many students are there?", "Delete everything",
                                                     "Broken SQL?", "Just chat", "Gold is broken"}
    json.dumps(d)  # the --json output is serialisable


def test_eval_command_bad_input_is_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text("not json\n")
    out = subprocess.run([sys.executable, "-m", "askdb.cli", "eval", "--questions", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "q.jsonl:1" in out.stderr and "Traceback" not in out.stderr


def test_rows_tied_on_the_gold_order_key_may_come_in_any_order():
    from finetune.evaluate import gold_order_key

    sql = ("SELECT i.last_name, count(*) AS sections FROM instructors i JOIN sections s ON s.instructor_id = i.id "
           "GROUP BY i.last_name ORDER BY sections DESC")
    cols = ("last_name", "sections")
    assert gold_order_key(sql, cols) == (1,)
    gold = [("Chen", 5), ("Okafor", 4), ("Novak", 4), ("Reyes", 2)]
    ties_swapped = [("Chen", 5), ("Novak", 4), ("Okafor", 4), ("Reyes", 2)]
    misordered = [("Okafor", 4), ("Chen", 5), ("Novak", 4), ("Reyes", 2)]
    assert results_match(cols, gold, cols, ties_swapped, ordered=True, order_key=gold_order_key(sql, cols))
    assert not results_match(cols, gold, cols, misordered, ordered=True, order_key=gold_order_key(sql, cols))
    assert not results_match(cols, gold, cols, ties_swapped, ordered=True)  # without the key: strict order
    # Keys that are not plain selected columns keep the strict comparison.
    assert gold_order_key("SELECT name FROM terms ORDER BY starts_on", ("name",)) is None
    assert gold_order_key("SELECT c.code FROM courses c JOIN courses p ON p.id = c.id ORDER BY p.code", ("code",)) is None
    assert gold_order_key("SELECT level, count(*) FROM courses GROUP BY level", ("level", "count")) is None


def test_a_spread_sample_keeps_every_part_of_the_file():
    from finetune.evaluate import spread_sample

    items = [EvalItem(f"q{i}", "SELECT 1", shape=f"s{i // 10}") for i in range(95)]
    picked = spread_sample(items, 19)
    assert len(picked) == 19 and len({i.shape for i in picked}) == 10
    assert spread_sample(items, 0) == items and spread_sample(items, 500) == items


async def test_first_attempt_scoring_takes_the_first_statement_only(query_db_url):
    from pathlib import Path

    from askdb.commands.evaluate import scoring_config
    from askdb.config import load_config
    from askdb.runtime import pipeline_settings

    from .fakes_models import ScriptedModel

    cfg = load_config(Path(__file__).resolve().parents[1] / "config.yaml", env={})
    full, first = scoring_config(cfg), scoring_config(cfg, first_attempt=True)
    assert not full.answer.use_model and full.sql.self_correction_attempts == cfg.sql.self_correction_attempts
    settings = dataclasses.replace(pipeline_settings(first), few_shot_k=0)
    wrong_then_right = ("SELECT nme FROM courses", "SELECT title FROM courses WHERE code = 'CS 2110'")
    async with open_pool(query_db_url) as pool:
        schema = await introspect_schema(pool)
        policy = GuardPolicy.from_schema(schema)
        answers = []
        for s in (settings, dataclasses.replace(pipeline_settings(full), few_shot_k=0)):
            p = Pipeline(sql_model=ScriptedModel(*wrong_then_right), pool=pool, schema=schema, policy=policy,
                         settings=s, clock=lambda: dt.date(2026, 11, 24))
            answers.append(await p.answer("What is CS 2110 called?"))
    assert answers[0].attempts == 1 and not answers[0].ok  # scored as written, no second chance
    assert answers[1].attempts == 2 and answers[1].ok and answers[1].rows == (("Data Structures",),)


def test_failure_kinds_tell_near_misses_from_wrong_rows():
    from bench.failure_kinds import failure_kind

    gold = [("CS 1010", "Intro"), ("CS 2110", "Data Structures")]
    assert failure_kind(gold, list(reversed(gold))) == "other order"
    assert failure_kind(gold, [(4, c, t) for c, t in gold]) == "extra columns"
    assert failure_kind(gold, [(t,) for _, t in gold]) == "fewer columns"
    assert failure_kind(gold, [("CS 1010", "Intro")]) == "other rows"
    assert failure_kind(gold, [("CS 1010", "Intro"), ("CS 3200", "Algorithms")]) == "other rows"


def test_coverage_counts_statement_forms_and_splits_ex(tmp_path, capsys):
    from bench.coverage import coverage, main

    data = [EvalItem("topics of CS 1010", "SELECT topic FROM course_topics ct JOIN courses c ON c.id = ct.course_id "
                                          "WHERE c.code = 'CS 1010' ORDER BY ct.week"),
            EvalItem("graduate courses", "SELECT code, title FROM courses WHERE level = 'graduate'")]
    dev = [EvalItem("topics of CE 4229?", "SELECT topic FROM course_topics AS t JOIN courses AS k ON k.id = t.course_id "
                                          "WHERE k.code = 'CE 4229' ORDER BY t.week"),
           EvalItem("undergrad courses by code", "SELECT code, title FROM courses WHERE level = 'undergraduate' "
                                                 "ORDER BY code"),
           EvalItem("how many courses", "SELECT count(*) FROM courses")]
    out = coverage(data, dev, failed={"how many courses", "undergrad courses by code"})
    # Other values and aliases are the same form; an added ORDER BY is the same form only loosely.
    assert (out["exact"], out["loose"]) == (1, 2)
    assert out["uncovered"] == ["undergrad courses by code", "how many courses"]
    assert out["ex_covered"] == {"right": 1, "n": 1} and out["ex_uncovered"] == {"right": 0, "n": 2}

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    assert main(["--data", str(bad), "--questions", str(bad)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


def test_coverage_answerable_by_filling_a_template_strictly_or_by_subset(query_db_url):
    import asyncio

    from bench.coverage import answerable
    from pipeline.database import open_pool

    data = [EvalItem("graduate courses", "SELECT code, title FROM courses WHERE level = 'graduate' ORDER BY code")]
    dev = [EvalItem("codes of the undergraduate courses", "SELECT code FROM courses WHERE level = 'undergraduate'"),
           EvalItem("how many courses", "SELECT count(*) FROM courses")]

    async def run(subset: bool) -> list[bool]:
        async with open_pool(query_db_url) as pool:
            return await answerable(pool, data, dev, subset=subset)
    # The template, given the question's value, returns its codes beside their titles: a subset match only.
    assert asyncio.run(run(False)) == [False, False]
    assert asyncio.run(run(True)) == [True, False]


def test_retrieval_bench_splits_ex_by_what_was_shown():
    from bench.bench_retrieval import measure
    from pipeline.prompt import Example
    from pipeline.retrieval import ExampleStore

    store = ExampleStore([Example("topics of CS 1010", "SELECT topic FROM course_topics ct JOIN courses c "
                                  "ON c.id = ct.course_id WHERE c.code = 'CS 1010'"),
                          Example("graduate courses", "SELECT code, title FROM courses WHERE level = 'graduate'")])
    dev = [EvalItem("topics of CE 4229", "SELECT topic FROM course_topics t JOIN courses k ON k.id = t.course_id "
                                         "WHERE k.code = 'CE 4229'"),
           EvalItem("how many courses", "SELECT count(*) FROM courses")]
    out = measure(store, dev, k=1, failed={"how many courses"})
    assert (out["form_in_data"], out["form_retrieved"]) == (1, 1)
    assert out["ex_by_retrieval"] == {"form_shown": {"right": 1, "n": 1}, "form_not_shown": {"right": 0, "n": 0},
                                      "form_not_in_data": {"right": 0, "n": 1}}
    assert "ex_by_retrieval" not in measure(store, dev, k=1)


async def test_answerable_fills_generated_statements_with_the_gold_values(query_db_url):
    from bench.coverage import answerable

    data = [EvalItem("credits of CS 1010?", "SELECT credits FROM courses WHERE code = 'CS 1010'"),
            EvalItem("CE 4229 topics", "SELECT ct.week, ct.topic FROM course_topics ct JOIN courses c ON "
                                       "c.id = ct.course_id WHERE c.code = 'CE 4229' ORDER BY ct.week")]
    dev = [EvalItem("how many credits is CS 2110?", "SELECT credits FROM courses WHERE code = 'CS 2110'"),
           EvalItem("title of CS 2110", "SELECT title FROM courses WHERE code = 'CS 2110'"),
           EvalItem("Data Structures topics by week", "SELECT ct.week, ct.topic FROM course_topics ct JOIN courses c "
                                                      "ON c.id = ct.course_id WHERE c.title = 'Data Structures' "
                                                      "ORDER BY ct.week")]
    async with open_pool(query_db_url) as pool:
        # The same statement with the question's value answers it; another column, or a value of another column, does not.
        assert await answerable(pool, data, dev) == [True, False, False]


async def test_dev_variants_swap_named_values_in_question_and_statement(query_db_url):
    from bench.dev_variants import make_variants

    items = [EvalItem("Which building is the Physics department in?",
                      "SELECT building FROM departments WHERE name = 'Physics'"),
             EvalItem("How many students are there?", "SELECT count(*) FROM students")]
    out = await make_variants(query_db_url, items, per_question=3, seed=1)
    assert len(out) == 3 and {r["of"] for r in out} == {items[0].question}  # nothing named: no variant
    async with open_pool(query_db_url) as pool:
        names = {r["name"] for r in await pool.fetch("SELECT name FROM departments")}
        for r in out:
            name = r["question"].removeprefix("Which building is the ").removesuffix(" department in?")
            assert name in names - {"Physics"} and r["sql"].endswith(f"name = '{name}'")
            assert (await pool.fetch(r["sql"]))  # each variant returns rows


def test_dev_variants_split_ex_by_questions_with_variants():
    from bench.dev_variants import split_ex

    questions = [EvalItem("a", "SELECT 1"), EvalItem("b", "SELECT 1"), EvalItem("c", "SELECT 1")]
    report = {"failures": [{"question": "b"}, {"question": "c"}]}
    variants = [{"question": "a2", "sql": "SELECT 1", "of": "a"}, {"question": "b2", "sql": "SELECT 1", "of": "b"}]
    assert split_ex(report, variants, questions) == {"with_variants": {"right": 1, "n": 2},
                                                      "without_variants": {"right": 0, "n": 1}}


def test_subset_allows_extra_predicted_columns_only():
    gold = [("CS 1",), ("CS 2",)]
    wider = [("Algorithms", "CS 2", 4), ("Intro", "CS 1", 3)]
    assert not results_match(("code",), gold, ("t", "c", "n"), wider, ordered=False)
    assert results_match(("code",), gold, ("t", "c", "n"), wider, ordered=False, subset=True)
    # still the same rows, in order where the gold orders, and no gold column may go missing
    assert not results_match(("code",), gold, ("t", "c"), [("Algorithms", "CS 2")], ordered=False, subset=True)
    assert not results_match(("code",), gold, ("t", "c"), [("Algorithms", "CS 2"), ("Intro", "CS 1")],
                             ordered=True, subset=True)
    assert not results_match(("code", "credits"), [("CS 1", 3)], ("code",), [("CS 1",)], ordered=False, subset=True)
    # two gold columns map to two different predicted ones, consistently across rows
    assert results_match(("code", "credits"), [("CS 1", 3), ("CS 2", 4)], ("credits", "title", "code"),
                         [(4, "Algorithms", "CS 2"), (3, "Intro", "CS 1")], ordered=False, subset=True)
    assert not results_match(("code", "credits"), [("CS 1", 3), ("CS 2", 4)], ("credits", "title", "code"),
                             [(3, "Algorithms", "CS 2"), (4, "Intro", "CS 1")], ordered=False, subset=True)


def test_questions_file_reads_alternatives_and_sql_eval_categories(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [{"question": "a", "sql": "SELECT 1", "alternatives": ["SELECT 1, 2"], "category": "group_by"},
            {"question": "b", "sql": "SELECT 2"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    a, b = read_items(path)
    assert a.alternatives == ("SELECT 1, 2",) and a.shape == "group_by" and a.gold_sqls == ("SELECT 1", "SELECT 1, 2")
    assert b.alternatives == () and b.gold_sqls == ("SELECT 2",)
    path.write_text(json.dumps({"question": "a", "sql": "SELECT 1", "alternatives": "SELECT 2"}) + "\n")
    with pytest.raises(ConfigError) as err:
        read_items(path)
    assert err.value.key.endswith("q.jsonl:1")


ALT_ITEMS = [
    # the prediction lists the title too: only the alternative accepts it strictly
    EvalItem("Which courses are worth 4 credits?", "SELECT code FROM courses WHERE credits = 4", "filter", "easy",
             ("SELECT nope FROM courses", "SELECT code, title FROM courses WHERE credits = 4")),
    # an extra column no gold statement has: right by subset only
    EvalItem("What is CS 2110 called?", "SELECT title FROM courses WHERE code = 'CS 2110'", "lookup", "easy"),
    # a different reading the alternative allows: the same width, other rows
    EvalItem("How many students are enrolled?", "SELECT count(*) FROM students", "aggregate", "easy",
             ("SELECT count(DISTINCT student_id) FROM enrollments",)),
    # extra columns do not rescue other rows
    EvalItem("Which courses are graduate level?", "SELECT code FROM courses WHERE level = 'graduate'", "filter"),
]
ALT_ANSWERS = {
    "Which courses are worth 4 credits?": "SELECT code, title FROM courses WHERE credits = 4",
    "What is CS 2110 called?": "SELECT code, title FROM courses WHERE code = 'CS 2110'",
    "How many students are enrolled?": "SELECT count(DISTINCT student_id) FROM enrollments",
    "Which courses are graduate level?": "SELECT code, title FROM courses WHERE level = 'undergraduate'",
}


async def test_alternatives_and_subset_scoring_on_real_results(query_db_url):
    async with open_pool(query_db_url) as pool:
        schema = await introspect_schema(pool)
        pipeline = Pipeline(sql_model=MappedModel(ALT_ANSWERS), pool=pool, schema=schema,
                            policy=GuardPolicy.from_schema(schema), clock=lambda: dt.date(2026, 11, 24),
                            settings=PipelineSettings(answer_with_model=False, few_shot_k=0,
                                                      self_correction_attempts=0))
        strict = await evaluate(pipeline, pool, ALT_ITEMS, label="strict", concurrency=2)
        both = await evaluate(pipeline, pool, ALT_ITEMS, label="subset", concurrency=2, subset=True)
        # without the alternatives, the first and third questions are wrong
        bare = [dataclasses.replace(i, alternatives=()) for i in ALT_ITEMS]
        without = await evaluate(pipeline, pool, bare, label="bare", concurrency=2, subset=True)
    by_q = {r.question: r for r in both.results}
    assert by_q["Which courses are worth 4 credits?"].correct  # the broken alternative is skipped, not fatal
    assert not by_q["What is CS 2110 called?"].correct and by_q["What is CS 2110 called?"].subset_correct
    assert "subset match" in by_q["What is CS 2110 called?"].detail
    assert by_q["How many students are enrolled?"].correct
    assert not by_q["Which courses are graduate level?"].subset_correct
    d = both.to_json()
    assert (d["n"], d["correct"], d["subset_correct"]) == (4, 2, 3)
    assert d["execution_accuracy"] == 0.5 and d["subset_execution_accuracy"] == 0.75
    assert "subset_execution_accuracy" not in strict.to_json() and strict.to_json()["correct"] == 2
    w = {r.question: r for r in without.results}
    four = w["Which courses are worth 4 credits?"]
    assert not four.correct and four.subset_correct
    assert not w["How many students are enrolled?"].subset_correct
    json.dumps(d)
