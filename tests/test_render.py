"""The answer renderer: grounding check and deterministic fallback."""
from pipeline.executor import QueryResult
from pipeline.render import deterministic_answer, is_grounded, render_answer

from .fakes_models import ScriptedModel


def result(columns, rows, truncated=False):
    return QueryResult(tuple(columns), tuple(tuple(r) for r in rows), truncated, 1.0)


def test_invented_number_is_rejected():
    r = result(["credits"], [[4]])
    assert is_grounded("Data Structures has 4 credits.", r, "how many credits is CS 2110")
    assert not is_grounded("Data Structures has 5 credits.", r, "how many credits is CS 2110")


def test_count_of_rows_and_question_numbers_are_allowed():
    r = result(["title"], [["Algorithms"], ["Compilers"], ["Databases"]])
    assert is_grounded("There are 3 such courses.", r, "courses above 3000")
    assert is_grounded("Courses numbered above 3000 include Algorithms.", r, "courses above 3000")


def test_invented_quoted_name_is_rejected():
    r = result(["title"], [["Algorithms"]])
    assert is_grounded('The course is "Algorithms".', r)
    assert not is_grounded('The course is "Quantum Basket Weaving".', r)


def test_deterministic_shapes():
    assert deterministic_answer("q", result(["n"], [[42]])) == "The answer is 42."
    assert "no matching rows" in deterministic_answer("q", result(["n"], []))
    bullets = deterministic_answer("q", result(["title"], [["A"], ["B"]]))
    assert bullets.endswith("- A\n- B")
    weeks = deterministic_answer("q", result(["week", "topic"], [[1, "Intro"], [2, "VMs"]]))
    assert "- week 1: Intro" in weeks and "- week 2: VMs" in weeks
    table = deterministic_answer("q", result(["a", "b", "c"], [[1, 2, 3], [4, 5, 6]], truncated=True))
    assert "showing the first 2" in table and "a  b  c" in table


def test_long_answers_are_cut_with_a_note():
    rows = [[f"course number {i} with a long title"] for i in range(200)]
    text = deterministic_answer("q", result(["title"], rows), max_chars=500)
    assert len(text) <= 500 and "cut to fit; 200 rows" in text


async def test_fallback_when_model_invents():
    r = result(["credits"], [[4]])
    ans = await render_answer("credits of CS 2110?", r, model=ScriptedModel("It has 12 credits."))
    assert ans.source == "fallback" and ans.text == "The answer is 4."
    ans = await render_answer("credits of CS 2110?", r, model=ScriptedModel("CS 2110 has 4 credits."))
    assert ans.source == "model" and ans.text == "CS 2110 has 4 credits."


async def test_a_lead_over_a_list_may_not_state_a_value():
    r = result(["count"], [[3], [2], [4], [5]])
    ans = await render_answer("How many credits is CS 2110?", r, model=ScriptedModel("CS 2110 is 3 credits."))
    assert ans.source == "fallback" and not ans.text.startswith("CS 2110 is 3")
    ans = await render_answer("Which courses?", r, model=ScriptedModel("There are 4 results."))
    assert ans.source == "model" and ans.text.startswith("There are 4 results:")
