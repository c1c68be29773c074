"""The mend rules as one sequence: each rewrite traced, any rule can be left out (ablation)."""
from __future__ import annotations

from pipeline.mend import RULES, WORD_RULES, mend, mend_traced
from pipeline.pipeline import Answer

QUESTION = "Which courses have more than 3 credits?"
WROTE = "SELECT code FROM courses WHERE credits >= 3"


def test_every_rewrite_is_traced_with_its_rule():
    sql, changes = mend_traced(QUESTION, WROTE)
    assert sql == "SELECT code FROM courses WHERE credits > 3"
    assert [c.rule for c in changes] == ["ground_bounds"]
    assert changes[0].before == WROTE and changes[0].after == sql
    assert mend(QUESTION, WROTE) == sql


def test_a_statement_no_rule_changes_has_an_empty_trace():
    assert mend_traced("Which courses have 4 credits?", "SELECT code FROM courses WHERE credits = 4") == (
        "SELECT code FROM courses WHERE credits = 4", ())


def test_a_skipped_rule_leaves_the_statement_as_written():
    assert mend_traced(QUESTION, WROTE, skip=frozenset({"ground_bounds"})) == (WROTE, ())


def test_rules_have_names_and_the_word_rules_come_first():
    names = [name for name, _ in RULES]
    assert names[:len(WORD_RULES)] == [name for name, _ in WORD_RULES]
    assert all(name.replace("_", "").isalpha() for name in names)


def test_the_trace_reaches_the_answers_json():
    _, changes = mend_traced(QUESTION, WROTE)
    d = Answer(QUESTION, "SELECT code FROM courses WHERE credits > 3", mends=changes).to_json()
    assert d["mends"] == [{"rule": "ground_bounds", "before": WROTE, "after": "SELECT code FROM courses WHERE credits > 3"}]
