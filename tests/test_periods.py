"""Periods named relatively ('this semester', 'last fall'): resolved on a day, read from the database, shown in
adapted examples and set in the model's statement."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from pipeline.database import open_pool
from pipeline.shaping import order_periods
from pipeline.linking import build_linker, load_linker
from pipeline.periods import Period, PeriodTable, relative_periods
from pipeline.prompt import Example
from pipeline.retrieval import ExampleStore
from pipeline.schema import introspect_schema
from pipeline.slots import adapt_example

from tests.test_linking import SCHEMA, VALUES

TERMS = PeriodTable("terms", "name", frozenset({"term", "semester"}), (
    Period("Fall 2025", dt.date(2025, 8, 25), dt.date(2025, 12, 12)),
    Period("Spring 2026", dt.date(2026, 1, 12), dt.date(2026, 5, 1)),
    Period("Fall 2026", dt.date(2026, 8, 24), dt.date(2026, 12, 11)),
))
IN_FALL, BETWEEN = dt.date(2026, 12, 1), dt.date(2026, 6, 15)
LINKER = build_linker(SCHEMA, VALUES, (TERMS,))


@pytest.mark.parametrize("relative, noun, day, name", [
    ("this", "semester", IN_FALL, "Fall 2026"), ("current", "terms", IN_FALL, "Fall 2026"),
    ("last", "semester", IN_FALL, "Spring 2026"), ("previous", "term", IN_FALL, "Spring 2026"),
    ("last", "fall", IN_FALL, "Fall 2025"), ("this", "fall", IN_FALL, "Fall 2026"),
    ("next", "semester", IN_FALL, None), ("last", "spring", IN_FALL, "Spring 2026"),
    # Between two terms: 'this semester' is the one that began last, 'this fall' the coming one.
    ("this", "semester", BETWEEN, "Spring 2026"), ("this", "fall", BETWEEN, "Fall 2026"),
    ("next", "term", BETWEEN, "Fall 2026"), ("last", "semester", BETWEEN, "Spring 2026"),
    ("last", "name", IN_FALL, None), ("this", "course", IN_FALL, None),
])
def test_a_relative_period_is_the_row_it_means_on_that_day(relative, noun, day, name):
    assert TERMS.resolve(relative, noun, day) == name


def test_spans_are_found_in_the_question_and_need_a_day():
    question = "Which courses were offered last fall but aren't offered this semester?"
    spans = relative_periods((TERMS,), question, IN_FALL)
    assert [(question[s:e], item, name) for s, e, item, name in spans] == [
        ("last fall", "terms.name", "Fall 2025"), ("this semester", "terms.name", "Fall 2026")]
    assert relative_periods((TERMS,), question, None) == []
    assert relative_periods((TERMS,), "What is the last name of the instructor?", IN_FALL) == []


def test_named_values_hold_relative_periods_in_the_questions_order():
    values, numbers = LINKER.named_values("How many students dropped CE 4229 last fall?", IN_FALL)
    assert values == {"courses.code": ["CE 4229"], "terms.name": ["Fall 2025"]} and numbers == []
    assert LINKER.named_values("How many students dropped CE 4229 last fall?")[0] == {"courses.code": ["CE 4229"]}


def test_an_example_asked_about_another_period_is_shown_with_the_questions():
    previous = Example("What sections do we have last semester with capacity at least 100?",
                       "SELECT s.section_number FROM sections s JOIN terms t ON t.id = s.term_id "
                       "WHERE t.name = 'Spring 2026' AND s.capacity >= 100")
    named = LINKER.named_values("courses with more than 100 seats this semester", IN_FALL)
    adapted = adapt_example(previous, *named, LINKER.relative_periods(previous.question, IN_FALL))
    assert adapted.question == "What sections do we have Fall 2026 with capacity at least 100?"
    assert "t.name = 'Fall 2026'" in adapted.sql
    # The same period: the example stays as written.
    current = Example("sections the current semester with capacity at least 100",
                      previous.sql.replace("Spring 2026", "Fall 2026"))
    assert adapt_example(current, *named, LINKER.relative_periods(current.question, IN_FALL)) is current
    # Through the store, given the day.
    store = ExampleStore([previous], linker=LINKER, adapt=True)
    assert store.nearest("sections this semester with capacity at least 100", 1, today=IN_FALL)[0].sql == adapted.sql
    assert store.nearest("sections this semester with capacity at least 100", 1)[0] == previous


def test_a_statement_on_another_period_is_set_to_the_one_named():
    wrong = "SELECT count(*) FROM sections s JOIN terms t ON t.id = s.term_id WHERE t.name = 'Spring 2026'"
    this = LINKER.named_values("How many sections are there this semester?", IN_FALL)[0]
    assert LINKER.ground_values(wrong, this).endswith("WHERE t.name = 'Fall 2026'")
    assert LINKER.ground_values(wrong) is wrong  # nothing named: untouched
    # Two periods named ('last fall but not this semester'): which is which is the statement's business.
    both = LINKER.named_values("offered last fall but not this semester", IN_FALL)[0]
    assert LINKER.ground_values(wrong, both) is wrong
    # A string the column does not store is no other period: left to the model.
    odd = wrong.replace("'Spring 2026'", "'Fall'")
    assert LINKER.ground_values(odd, this) is odd
    # Spelled as stored first, then compared: 'fall 2026' is the named period already.
    assert LINKER.ground_values(wrong.replace("Spring 2026", "fall 2026"), this).endswith("'Fall 2026'")


async def test_the_linker_reads_the_period_table_and_agrees_with_the_generated_data(query_db_url):
    async with open_pool(query_db_url) as pool:
        linker = await load_linker(pool, await introspect_schema(pool))
    (terms,) = linker.periods
    assert (terms.table, terms.column, terms.start, {p.name for p in terms.rows}) == (
        "terms", "name", "starts_on", {"Fall 2025", "Spring 2026", "Fall 2026"})
    assert {"term", "semester"} <= terms.nouns
    # The shipped pairs were generated on the course database's declared day: wherever a question names a period
    # relatively, the statement filters on the period the linker resolves it to.
    day = dt.date(2026, 12, 1)
    pairs = [json.loads(line) for line in Path("profiles/course/samples.jsonl").read_text().splitlines()]
    checked = 0
    for p in pairs:
        spans = linker.relative_periods(p["question"], day)
        if len(spans) == 1:
            assert re.findall(r"'((?:Fall|Spring) \d{4})'", p["sql"]) == [spans[0][3]], p
            checked += 1
    assert checked == 266


def test_a_period_the_statement_skips_is_joined_and_filtered():
    skipped = ("SELECT DISTINCT i.first_name FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
               "JOIN instructors AS i ON i.id = s.instructor_id WHERE c.code = 'CS 1010'")
    named = LINKER.named_values("whos teaching cs 1010 in spring 2026", IN_FALL)[0]
    assert LINKER.add_named(skipped, named) == skipped.replace(
        " WHERE", " JOIN terms AS t ON t.id = s.term_id WHERE") + " AND t.name = 'Spring 2026'"
    # Relative: 'this semester' on the pipeline's day; a terms table already joined gets only the filter.
    joined = ("SELECT COUNT(*) FROM sections AS s JOIN terms AS t ON t.id = s.term_id JOIN courses AS c "
              "ON c.id = s.course_id WHERE c.code = 'CS 1010'")
    named = LINKER.named_values("How many sections does CS 1010 have this semester?", IN_FALL)[0]
    assert LINKER.add_named(joined, named) == joined + " AND t.name = 'Fall 2026'"
    # An alias 't' already taken gets another; no WHERE gets one.
    plain = "SELECT COUNT(*) FROM sections AS t"
    assert LINKER.add_named(plain, named) == ("SELECT COUNT(*) FROM sections AS t JOIN terms AS t2 ON t2.id = t.term_id"
                                              " WHERE t2.name = 'Fall 2026'")


@pytest.mark.parametrize("question, sql", [
    # The period is there already, in the right column or another; two periods; a table without a way to terms.
    ("How many sections does CS 1010 have this semester?",
     "SELECT COUNT(*) FROM sections AS s JOIN terms AS t ON t.id = s.term_id WHERE t.name = 'Spring 2026'"),
    ("How many sections does CS 1010 have this semester?",
     "SELECT COUNT(*) FROM sections AS s JOIN courses AS c ON c.id = s.course_id WHERE c.title = 'Fall 2026'"),
    ("courses offered last fall but not this semester", "SELECT code FROM courses AS c JOIN sections AS s ON s.course_id = c.id"),
    ("Which courses are offered this semester?", "SELECT code FROM courses"),
    # terms inside a subquery only; not a SELECT.
    ("sections this semester", "SELECT COUNT(*) FROM sections WHERE term_id IN (SELECT id FROM terms)"),
    ("sections this semester", "SELECT 1 UNION SELECT 2"),
])
def test_statements_that_use_the_named_period_or_cannot_take_it_are_kept(question, sql):
    assert LINKER.add_named(sql, LINKER.named_values(question, IN_FALL)[0]) == sql


def test_a_period_the_question_never_mentions_is_not_filtered_on():
    habit = "SELECT AVG(s.capacity) FROM sections AS s JOIN terms AS t ON t.id = s.term_id WHERE t.name = 'Fall 2026'"
    assert LINKER.drop_unasked_period(habit, "whats the avg section capacity") == \
        "SELECT AVG(s.capacity) FROM sections AS s JOIN terms AS t ON t.id = s.term_id"
    both = habit + " AND s.section_number = '001'"
    assert LINKER.drop_unasked_period(both, "capacity of section 001").endswith("WHERE s.section_number = '001'")
    # 'any term' names no one period.
    assert LINKER.drop_unasked_period(habit, "avg capacity of sections in any term") == \
        "SELECT AVG(s.capacity) FROM sections AS s JOIN terms AS t ON t.id = s.term_id"
    # Any word of time keeps it: a period noun, a season, a name, a year, a relative period.
    for question in ("avg section capacity this semester", "avg capacity per term", "capacity in the fall",
                     "avg capacity in Spring 2026", "sections in 2026", "avg capacity of the semesters",
                     "avg capacity of the sections running now"):
        assert LINKER.drop_unasked_period(habit, question) == habit, question


def test_numbers_per_term_come_in_calendar_order_unless_a_ranking_is_asked():
    linker = build_linker(SCHEMA, VALUES, (dataclasses.replace(TERMS, start="starts_on"),))
    sql = ("SELECT t.name, COUNT(*) AS n FROM sections AS s JOIN terms AS t ON t.id = s.term_id GROUP BY t.name "
           "ORDER BY n DESC")
    assert order_periods("How many sections did each term have?", sql, linker) == sql.replace(
        "GROUP BY t.name ORDER BY n DESC", "GROUP BY t.name, t.starts_on ORDER BY t.starts_on")
    for question in ("Which term had the most sections?", "terms ranked by sections", "sections per term, top first"):
        assert order_periods(question, sql, linker) == sql, question
    # Sorted by the terms' names ('Fall 2025, Fall 2026, Spring 2026'): by their start too.
    by_name = sql.replace("ORDER BY n DESC", "ORDER BY t.name")
    assert order_periods("average capacity in each term", by_name, linker) == by_name.replace(
        "GROUP BY t.name ORDER BY t.name", "GROUP BY t.name, t.starts_on ORDER BY t.starts_on")
    by_course = sql.replace("t.name", "c.code").replace("terms AS t ON t.id = s.term_id", "courses AS c ON c.id = "
                                                                                          "s.course_id")
    assert order_periods("How many sections does each course have?", by_course, linker) == by_course
