"""Statements mended by the question's words: bounds as stated, a stored number where rows were counted."""
from __future__ import annotations

import pytest
from sqlglot import exp

from pipeline.grounding import (add_numbers, clock_24h, ground_bounds, ground_but_not, ground_count,
                                ground_exists_role, ground_hops, ground_negation, ground_never, ground_requires,
                                ground_superlative, ground_total, order_asked, order_distinct, order_one_row,
                                stated_bound)
from pipeline.mend import mend
from pipeline.shaping import (above_average, compare_values, list_all, list_kinds, count_bounded, count_per_value, count_the_most, drop_fixed,
                              drop_unasked, ground_daytime, ground_popular, ground_top, ground_year,
                              group_each, how_long, list_asked, list_each, list_once, list_theirs, list_values,
                              more_than_named, name_fixed, name_not_short, name_numbered, order_people,
                              order_sequence, order_unasked, same_as, show_child_compared, show_compared, show_groups,
                              show_parents, show_searched, show_when)
from pipeline.linking import SchemaLinker, build_linker
from pipeline.schema import Column, ForeignKey, Schema, Table
from pipeline.words import abbreviates, one_edit, respell, sequence_column, weight_column

from tests.test_linking import SCHEMA, VALUES

LINKER = build_linker(SCHEMA, VALUES)


@pytest.mark.parametrize("question, value, kind", [
    ("Which sections have a capacity over 40?", "40", exp.GT),
    ("students taking more than 4 classes", "4", exp.GT),
    ("Which courses have fewer than 4 credits?", "4", exp.LT),
    ("Which terms begin after 2026-01-01?", "2026-01-01", exp.GT),
    ("terms that end before 2026-06-01", "2026-06-01", exp.LT),
    ("sections with at least 30 seats", "30", exp.GTE),
    ("courses with no more than 3 credits", "3", exp.LTE),
    ("sections with 30 seats or more", "30", exp.GTE),
    ("courses of 3 credits or fewer", "3", exp.LTE),
    ("Which courses are worth 4 credits?", "4", exp.EQ),
    ("sections with up to 40 seats", "40", exp.LTE),
    ("sections with 20 to 40 seats", "40", None),
    ("sections with 20 to 40 seats", "20", None),
    ("courses worth 3 and 4 credits", "3", None),
    ("courses worth 3 or 4 credits", "4", None),
    ("sections with between 20 and 40 seats", "20", None),
    ("sections with between 20 and 40 seats", "40", None),
    ("What are the topics of CE 4229?", "4", None),  # part of a code, not a number named
    ("Which sections have a capacity over 40?", "4", None),
    # 'At or before' includes the day; a bound word typed with a slip still bounds (the generated data's typos).
    ("terms whose start date is at or before 2026-08-24", "2026-08-24", exp.LTE),
    ("terms with end date on or after 2026-12-11", "2026-12-11", exp.GTE),
    ("courses where the number of assessments is feewr than 5", "5", exp.LT),
    ("sections with capacity at lesat 75", "75", exp.GTE),
    ("departments with unedr 9 courses", "9", exp.LT),
    ("terms with start date earleir than 2026-08-24", "2026-08-24", exp.LT),
])
def test_the_bound_a_question_states(question, value, kind):
    assert stated_bound(question, value) is kind


def test_comparisons_are_set_to_the_stated_bound():
    assert ground_bounds("Which sections have a capacity over 40?",
                         "SELECT section_number FROM sections WHERE capacity >= 40") == \
        "SELECT section_number FROM sections WHERE capacity > 40"
    assert ground_bounds("Which terms begin after 2026-01-01?",
                         "SELECT name FROM terms WHERE starts_on <= '2026-01-01'").endswith("starts_on > '2026-01-01'")
    assert ground_bounds("Which courses are worth 4 credits?",
                         "SELECT code FROM courses WHERE credits <= 4").endswith("WHERE credits = 4")
    # The literal first: the operator turns with it.
    assert ground_bounds("courses with more than 3 credits", "SELECT code FROM courses WHERE 3 <= credits") \
        .endswith("WHERE 3 < credits")
    # Equality where the question bounds; a count in HAVING too.
    assert ground_bounds("courses with more than 3 credits", "SELECT code FROM courses WHERE credits = 3") \
        .endswith("credits > 3")
    having = "SELECT d.name FROM departments d JOIN courses c ON c.department_id = d.id GROUP BY d.name HAVING count(*) >= 8"
    assert ground_bounds("Which departments have more than 8 courses?", having).endswith("HAVING COUNT(*) > 8")
    # A time written as the question says it, with the wrong bound ('before 10am' written `<= '10:00'`).
    assert ground_bounds("Which sections start before 10am?", "SELECT id FROM sections WHERE start_time <= '10:00'") \
        .endswith("start_time < '10:00'")


def test_statements_the_question_does_not_bound_are_untouched():
    right = "SELECT code FROM courses WHERE credits > 3 AND level = 'graduate'"
    assert ground_bounds("graduate courses with more than 3 credits", right) is right
    ranged = "SELECT code FROM sections WHERE capacity >= 20 AND capacity <= 40"
    assert ground_bounds("sections with between 20 and 40 seats", ranged) is ranged
    # A number the question does not name, a year spelled as a range, a name, and SQL that does not parse.
    assert ground_bounds("sections bigger than average", "SELECT 1 FROM sections WHERE capacity > 35") == \
        "SELECT 1 FROM sections WHERE capacity > 35"
    year = "SELECT name FROM terms WHERE starts_on >= '2026-01-01' AND starts_on < '2027-01-01'"
    assert ground_bounds("Which terms started in 2026?", year) is year
    assert ground_bounds("courses titled 4", "SELECT code FROM courses WHERE title = '4'").endswith("title = '4'")
    assert ground_bounds("over 40", "SELEC nonsense") == "SELEC nonsense"


def test_a_stored_number_is_returned_where_the_model_counted_rows():
    assert ground_count("how many credits is CS 2110?", "SELECT COUNT(*) FROM courses WHERE code = 'CS 2110'",
                        LINKER) == "SELECT credits FROM courses WHERE code = 'CS 2110'"
    joined = ("SELECT count(*) AS n FROM courses AS c JOIN sections AS s ON s.course_id = c.id "
              "WHERE c.code = 'CS 2110'")
    assert ground_count("How many credits does CS 2110 carry?", joined, LINKER).startswith("SELECT c.credits FROM")


@pytest.mark.parametrize("question, sql", [
    ("how many sections does CS 2110 have?", "SELECT count(*) FROM sections s JOIN courses c ON c.id = s.course_id"),
    ("how many credits do CS courses have in total?", "SELECT count(*) FROM courses"),
    ("how many credits does each course carry?", "SELECT count(*) FROM courses"),
    ("how many credits is CS 2110?", "SELECT code, count(*) FROM courses GROUP BY code"),
    ("how many credits is CS 2110?", "SELECT credits FROM courses WHERE code = 'CS 2110'"),
    ("how many credits is CS 2110?", "SELECT count(*) FROM instructors"),  # no table holding credits
])
def test_counts_the_question_asks_for_or_cannot_mend_are_kept(question, sql):
    assert ground_count(question, sql, LINKER) == sql


def test_a_slip_in_how_many_still_asks_for_the_stored_number():
    assert ground_count("how mnay credits is CS 2110", "SELECT COUNT(*) FROM courses WHERE code = 'CS 2110'",
                        LINKER) == "SELECT credits FROM courses WHERE code = 'CS 2110'"


def test_mend_applies_every_mend_the_linker_allows():
    sql = "SELECT COUNT(*) FROM courses WHERE code = 'cs 2110' AND credits >= 3"
    assert mend("how many credits is CS 2110, if more than 3?", sql, LINKER) == \
        "SELECT credits FROM courses WHERE code = 'CS 2110' AND credits > 3"
    assert mend("how many credits is CS 2110, if more than 3?", sql) == sql.replace(">=", ">")


@pytest.mark.parametrize("typed, meant", [
    ("feewr", "fewer"), ("mnay", "many"), ("lesat", "least"), ("earleir", "earlier"), ("exceding", "exceeding"),
    ("distinnct", "distinct"),
])
def test_a_word_typed_with_one_slip_is_read_as_meant(typed, meant):
    assert one_edit(typed, meant)
    assert respell(f"courses {typed} 4", frozenset({meant, "more"})) == f"courses {meant} 4"


@pytest.mark.parametrize("word, other", [
    ("teach", "each"), ("last", "least"), ("order", "older"), ("power", "lower"), ("ever", "over"), ("then", "than"),
])
def test_short_words_that_are_other_words_are_not_respelled(word, other):
    assert not one_edit(word, other)
    assert respell(f"{word} 4", frozenset({other})) == f"{word} 4"


def test_a_value_the_statement_skips_is_added_where_its_table_is():
    named = LINKER.named_values("list the graduate courses of CS")[0]
    assert LINKER.add_named("SELECT code FROM courses ORDER BY code", named) == \
        "SELECT code FROM courses WHERE level = 'graduate' ORDER BY code"
    kept = [
        "SELECT code FROM courses WHERE level <> 'graduate'",  # the column compared already
        "SELECT code FROM courses WHERE code = 'CS 2110'",  # a row of the table picked by another value
        "SELECT code FROM courses WHERE code IN ('CS 2110')",  # the same, as the model writes it too
        "SELECT last_name FROM instructors",  # the table is not in the statement
        "SELECT code FROM courses AS a JOIN courses AS b ON a.id = b.id",  # nor once
    ]
    for sql in kept:
        assert LINKER.add_named(sql, named) == sql
    # A value that is also a table's noun ('professors' are instructors), or of two columns, is not added.
    sql = "SELECT last_name FROM instructors"
    assert LINKER.add_named(sql, LINKER.named_values("list the professors")[0]) == sql
    assert LINKER.add_named(sql, LINKER.named_values("who is Chen")[0]).endswith("WHERE last_name = 'Chen'")
    twice = build_linker(SCHEMA, {**VALUES, ("instructors", "first_name"): ["Chen"]})
    assert twice.add_named(sql, twice.named_values("who is Chen")[0]) == sql
    # Of two tables' columns, the one of the table the statement reads ('professor Chen', and a student Chen).
    people = Schema(SCHEMA.tables + (Table("students", (Column("id", "integer"), Column("last_name", "text"))),))
    both = build_linker(people, {**VALUES, ("students", "last_name"): ["Chen"]})
    assert both.add_named(sql, both.named_values("What does professor Chen teach?")[0]).endswith(
        "WHERE last_name = 'Chen'")
    assert both.add_named(sql + " JOIN students ON students.id = instructors.id",
                          both.named_values("who is Chen")[0]).endswith("instructors.id")


def test_a_number_stated_beside_its_column_is_compared_where_the_statement_skips_it():
    def added(question, sql):
        return add_numbers(question, sql, LINKER, LINKER.named_values(question)[1])
    assert added("list the undergraduate courses worth 4 credits",
                 "SELECT code FROM courses WHERE level = 'undergraduate'") == \
        "SELECT code FROM courses WHERE level = 'undergraduate' AND credits = 4"
    assert added("courses with more than 3 credits", "SELECT c.code FROM courses AS c JOIN sections AS s ON "
                 "s.course_id = c.id").endswith("WHERE c.credits > 3")
    kept = [
        ("courses worth 4 credits", "SELECT code FROM courses WHERE credits <= 4"),  # compared (the bound's mend)
        ("courses worth 4 credits", "SELECT code FROM courses LIMIT 4"),  # the number used
        ("top 5 courses by credits", "SELECT code FROM courses ORDER BY credits DESC"),  # no column beside it
        ("what are the topics of CS 2110", "SELECT code FROM courses"),  # part of a value
        ("courses worth 3 or 4 credits", "SELECT code FROM courses"),  # one of a list
        ("sections with 4 credits", "SELECT section_number FROM sections"),  # the column's table is absent
    ]
    for question, sql in kept:
        assert added(question, sql) == sql


def test_a_condition_no_row_meets_and_the_question_never_says_is_dropped():
    linker = build_linker(SCHEMA, VALUES, complete=frozenset({"instructors.first_name", "instructors.last_name"}))
    invented = ("SELECT DISTINCT i.last_name FROM sections AS s JOIN courses AS c ON c.id = s.course_id JOIN instructors"
                " AS i ON i.id = s.instructor_id WHERE c.code = 'CE 4229' AND i.first_name = 'Eve' AND i.last_name = 'Smith'")
    assert linker.drop_invented(invented, "Who teaches CE 4229 this semester?").endswith("WHERE c.code = 'CE 4229'")
    # Kept: a value the question says (nobody of that name), a stored value, a column not read completely, and a
    # condition that is the whole WHERE.
    assert linker.drop_invented(invented, "Does Eve Smith teach CE 4229?") == invented
    stored = "SELECT email FROM instructors WHERE last_name = 'Chen' AND title = 'Professor'"
    assert linker.drop_invented(stored, "email of professor Chen") == stored
    assert LINKER.drop_invented(invented, "Who teaches CE 4229 this semester?") == invented
    alone = "SELECT email FROM instructors WHERE last_name = 'Smith'"
    assert linker.drop_invented(alone, "Who teaches CE 4229 this semester?") == alone


def test_a_code_pieced_from_words_the_question_says_apart_is_dropped():
    linker = build_linker(SCHEMA, VALUES, complete=frozenset({"courses.code"}))
    pieced = ("SELECT ct.topic FROM course_topics AS ct JOIN courses AS c ON c.id = ct.course_id "
              "WHERE c.code = 'CS 1' AND ct.week = 1")
    assert linker.drop_invented(pieced, "what are the week 1 topics for CS courses").endswith("WHERE ct.week = 1")
    # Said as written, a code no course has stays: the answer is that there is none.
    assert linker.drop_invented(pieced, "week 1 topics of CS 1") == pieced


def test_mending_twice_changes_nothing_more():
    linker = build_linker(SCHEMA, VALUES, complete=frozenset({"courses.title"}))
    question = "Is Data Structures worth 4 credits?"
    once = mend(question, "SELECT code FROM courses WHERE title = 'Fall'", linker)
    # The title no course has gives way to the one the question names (the column was read whole), and the number
    # is added.
    assert once == "SELECT code FROM courses WHERE title = 'Data Structures' AND credits = 4"
    assert mend(question, once, linker) == once


def test_the_one_with_the_most_is_the_first_row_by_the_listed_number():
    listed = "SELECT code, credits FROM courses WHERE level = 'graduate'"
    assert ground_superlative("which graduate course is worth the most credits", listed, LINKER) == \
        listed + " ORDER BY credits DESC NULLS LAST LIMIT 1"
    assert ground_superlative("What is the smallest course by credits?", listed, LINKER) == \
        listed + " ORDER BY credits ASC LIMIT 1"
    # Several asked for, a bound, a statement that already cuts, counts or lists no number, or two: left alone.
    for question, sql in [
        ("the 3 largest courses by credits", listed), ("top 5 courses with the most credits", listed),
        ("courses with at least 3 credits", listed), ("courses worth at most 4 credits", listed),
        ("which course has the most credits", listed + " LIMIT 1"),
        ("which course has the most credits", "SELECT code FROM courses"),
        ("which course has the most sections", "SELECT c.code, COUNT(*) FROM courses AS c JOIN sections AS s "
                                               "ON s.course_id = c.id GROUP BY c.code"),
    ]:
        assert ground_superlative(question, sql, LINKER) == sql, question


def test_the_heaviest_one_is_told_by_its_name_and_weight():
    listed = ("SELECT a.name, a.kind, a.weight_percent FROM assessments AS a JOIN courses AS c ON c.id = a.course_id "
              "WHERE c.code = 'CE 4229' ORDER BY a.name")
    one = ("SELECT a.name, a.weight_percent FROM assessments AS a JOIN courses AS c ON c.id = a.course_id "
           "WHERE c.code = 'CE 4229' ORDER BY a.weight_percent")
    assert ground_superlative("the heaviest assessment of CE 4229", listed, _WEIGHTS) == \
        one + " DESC NULLS LAST LIMIT 1"
    assert ground_superlative("What is the lightest assessment in CE 4229?", listed, _WEIGHTS) == one + " ASC LIMIT 1"
    assert mend("What is the lightest assessment in CE 4229?", listed, _WEIGHTS) == one + " ASC LIMIT 1"


def test_a_distinct_list_drops_the_order_postgres_would_refuse():
    assert order_distinct("SELECT DISTINCT s.room FROM sections AS s ORDER BY s.capacity") == \
        "SELECT DISTINCT s.room FROM sections AS s"
    assert order_distinct("SELECT DISTINCT s.room, s.days FROM sections AS s ORDER BY s.days, s.capacity DESC") == \
        "SELECT DISTINCT s.room, s.days FROM sections AS s ORDER BY s.days"
    for sql in ("SELECT DISTINCT s.room AS r FROM sections AS s ORDER BY r",
                "SELECT s.room FROM sections AS s ORDER BY s.capacity",
                "SELECT DISTINCT ON (s.room) s.room, s.days FROM sections AS s ORDER BY s.room, s.capacity"):
        assert order_distinct(sql) == sql


# A table with two keys to one table: each row says that `prerequisite_id` must be taken before `course_id`.
_PREREQUISITES_TABLE = (Table("prerequisites", (Column("course_id", "integer"), Column("prerequisite_id", "integer")),
                              foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),
                                            ForeignKey(("prerequisite_id",), "courses", ("id",)))),)
_PREREQUISITES = build_linker(Schema(SCHEMA.tables + _PREREQUISITES_TABLE), VALUES)
_NAMED_AS_PREREQUISITE = ("SELECT DISTINCT c2.code, c2.title FROM prerequisites AS p JOIN courses AS c ON c.id = "
                          "p.prerequisite_id JOIN courses AS c2 ON c2.id = p.course_id WHERE c.code = 'CE 4229'")


_TEACHING = ("SELECT DISTINCT i.first_name, i.last_name FROM instructors AS i JOIN sections AS s ON s.instructor_id = i.id "
             "JOIN terms AS t ON t.id = s.term_id WHERE t.name = 'Fall 2026' ORDER BY i.last_name")
_NOT_TEACHING = ("SELECT DISTINCT i.first_name, i.last_name FROM instructors AS i WHERE NOT EXISTS(SELECT 1 FROM sections "
                 "AS s JOIN terms AS t ON t.id = s.term_id WHERE s.instructor_id = i.id AND t.name = 'Fall 2026') "
                 "ORDER BY i.last_name")


@pytest.mark.parametrize("question", [
    "Which instructors are not teaching any sections this semester?",
    "Which instructors have no sections in Fall 2026?",
    "instructors without sections in fall 2026",
    "which instructors aren't teaching in Fall 2026",
])
def test_rows_that_lack_what_the_statement_joined_are_asked_with_not_exists(question):
    assert ground_negation(question, _TEACHING) == _NOT_TEACHING


def test_not_exists_keeps_the_listed_tables_conditions_and_joins_the_rest_as_written():
    sql = ("SELECT DISTINCT c.code, c.title FROM sections AS s JOIN courses AS c ON c.id = s.course_id JOIN terms AS t "
           "ON t.id = s.term_id WHERE c.level = 'graduate' AND t.name = 'Fall 2026' ORDER BY c.code")
    assert ground_negation("Which graduate courses have no sections in Fall 2026?", sql) == (
        "SELECT DISTINCT c.code, c.title FROM courses AS c WHERE c.level = 'graduate' AND NOT EXISTS(SELECT 1 FROM "
        "sections AS s JOIN terms AS t ON t.id = s.term_id WHERE c.id = s.course_id AND t.name = 'Fall 2026') "
        "ORDER BY c.code")
    # A condition no row can meet would make every course lack it: it goes ('no prerequisites' written as a code).
    invented = ("SELECT c2.code FROM prerequisites AS p JOIN courses AS c ON c.id = p.prerequisite_id JOIN courses AS c2 "
                "ON c2.id = p.course_id WHERE c.code = 'No prerequisites'")
    assert ground_negation("Which courses have no prerequisites?", invented,
                           cannot_hold=lambda name, value: value == "No prerequisites") \
        == ("SELECT c2.code FROM courses AS c2 WHERE NOT EXISTS(SELECT 1 FROM prerequisites AS p JOIN courses AS c ON "
            "c.id = p.prerequisite_id WHERE c2.id = p.course_id)")


@pytest.mark.parametrize("question, sql", [
    ("Which instructors taught in Fall 2026?", _TEACHING),  # nothing negated
    ("instructors with no more than 2 sections in Fall 2026", _TEACHING),  # a bound
    # The negation is about the listed rows' own value, or the joined rows are named before it.
    ("Which courses are not graduate courses in CS?", "SELECT c.code FROM courses AS c JOIN departments AS d ON "
     "d.id = c.department_id WHERE c.level = 'graduate' AND d.code = 'CS'"),
    ("Which instructors taught in Fall 2026 but not in Spring 2026?", _TEACHING),
    ("Which sections have no students enrolled?", "SELECT c.code, s.section_number FROM sections AS s JOIN courses AS c "
     "ON c.id = s.course_id JOIN enrollments AS e ON e.section_id = s.id"),  # columns of two tables listed
    ("Which courses have no sections?", "SELECT c.code FROM courses AS c WHERE NOT EXISTS(SELECT 1 FROM sections AS s "
     "WHERE s.course_id = c.id)"),  # already negated
    ("How many courses have no sections?", "SELECT COUNT(*) FROM courses AS c JOIN sections AS s ON s.course_id = c.id"),
])
def test_statements_the_negation_does_not_fit_are_left_alone(question, sql):
    assert ground_negation(question, sql) == sql


def test_a_period_named_in_other_words_before_the_negation_stays_outside():
    question = "Which instructors taught last fall but aren't teaching this semester?"
    said = {"fall 2026": question.index("last fall")}
    assert ground_negation(question, _TEACHING, said) == _TEACHING
    assert ground_negation(question, _TEACHING, {"fall 2026": question.index("this semester")}) == _NOT_TEACHING


_TOPICS = build_linker(Schema(SCHEMA.tables + (
    Table("course_topics", (Column("id", "integer"), Column("course_id", "integer"), Column("topic", "text")),
          foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),)),)),
    {**VALUES, ("course_topics", "topic"): ["Dynamic programming", "Graphs and shortest paths", "Shortest paths in DAGs"]},
    complete=frozenset({"courses.code", "courses.title", "course_topics.topic"}))


def test_a_string_set_on_a_column_that_cannot_hold_it_searches_the_column_that_does():
    assert _TOPICS.search_text("SELECT code, title FROM courses WHERE code = 'Dynamic Programming' ORDER BY code") == (
        "SELECT courses.code, courses.title FROM courses JOIN course_topics AS c ON courses.id = c.course_id "
        "WHERE c.topic = 'Dynamic programming' ORDER BY courses.code")
    # Part of several values: searched; in the statement already: no second join.
    assert _TOPICS.search_text("SELECT c.code FROM courses AS c JOIN course_topics AS ct ON ct.course_id = c.id "
                               "WHERE c.title = 'shortest paths'") == (
        "SELECT c.code FROM courses AS c JOIN course_topics AS ct ON ct.course_id = c.id "
        "WHERE ct.topic ILIKE '%shortest paths%'")


@pytest.mark.parametrize("sql", [
    "SELECT code FROM courses WHERE title = 'Data Structures'",  # the column holds it
    "SELECT code FROM courses WHERE code = 'Quantum Basket Weaving'",  # no column holds it
    "SELECT code FROM courses WHERE code = 'Okafor'",  # held by a table no key joins to courses
    "SELECT code FROM courses WHERE level = 'dynamic programming'",  # level was not read completely
])
def test_strings_that_fit_or_fit_nowhere_are_left_alone(sql):
    assert _TOPICS.search_text(sql) == sql


@pytest.mark.parametrize("sql, right", [
    ("SELECT first_name, last_name FROM students WHERE admit_year = 2026 ORDER BY last_name",
     "SELECT first_name, last_name FROM students WHERE admit_year = 2026 ORDER BY last_name, first_name"),
    ("SELECT i.first_name, i.last_name, i.email FROM instructors AS i ORDER BY i.first_name",
     "SELECT i.first_name, i.last_name, i.email FROM instructors AS i ORDER BY i.last_name, i.first_name"),
])
def test_people_are_sorted_by_last_then_first_name(sql, right):
    assert order_people("Which students were admitted in 2026?", sql) == right


@pytest.mark.parametrize("question, sql", [
    ("students sorted by first name", "SELECT first_name, last_name FROM students ORDER BY first_name"),
    ("students", "SELECT first_name, last_name FROM students ORDER BY last_name DESC"),  # an order asked for
    ("students", "SELECT first_name, last_name FROM students ORDER BY admit_year"),  # not by name
    ("students", "SELECT last_name FROM students ORDER BY last_name"),  # no first name listed
    ("students", "SELECT first_name, last_name FROM students ORDER BY last_name, first_name"),
])
def test_other_orders_are_kept(question, sql):
    assert order_people(question, sql) == sql


def test_the_row_with_the_most_is_named_where_the_question_asks_for_the_row_not_the_number():
    top = "SELECT code, title, credits FROM courses ORDER BY credits DESC NULLS LAST LIMIT 1"
    for question in ("which course has the most credits", "What is the highest credited course?"):
        assert ground_superlative(question, "SELECT max(credits) FROM courses", LINKER) == top, question
    assert ground_superlative("which course has the fewest credits", "SELECT MIN(c.credits) FROM courses AS c",
                              LINKER) == "SELECT c.code, c.title, c.credits FROM courses AS c ORDER BY c.credits ASC LIMIT 1"
    for question in ("What's the largest credits across courses?", "the highest number of credits of any course",
                     "Calculate the highest credits for courses"):
        assert ground_superlative(question, "SELECT MAX(credits) FROM courses", LINKER) == \
            "SELECT MAX(credits) FROM courses", question


def test_grouped_columns_are_listed_where_the_statement_lists_none():
    assert show_groups("SELECT COUNT(*) AS n FROM terms AS t JOIN sections AS s ON s.term_id = t.id GROUP BY t.name") \
        == "SELECT t.name, COUNT(*) AS n FROM terms AS t JOIN sections AS s ON s.term_id = t.id GROUP BY t.name"
    for sql in ("SELECT t.name, COUNT(*) FROM terms AS t GROUP BY t.name, t.starts_on",
                "SELECT COUNT(*) FROM sections", "SELECT COUNT(*) FROM sections GROUP BY 1"):
        assert show_groups(sql) == sql


def test_a_word_only_one_columns_values_hold_is_searched_where_the_statement_skips_it():
    sql = ("SELECT ct.week FROM course_topics AS ct JOIN courses AS c ON c.id = ct.course_id "
           "WHERE c.code = 'CS 2110' ORDER BY ct.week")
    assert _TOPICS.add_searched(sql, "what week do we cover graphs in CS 2110") == sql.replace(
        " ORDER BY", " AND ct.topic ILIKE '%graphs%' ORDER BY")
    for question in ("what week has the least topics in CS 2110",  # a word saying what is asked, not searched
                     "what week do we cover paths in CS 2110",  # short words are other words too often
                     "what week do we cover dynamic programming in CS 2110"):  # a stored value, named whole
        assert _TOPICS.add_searched(sql, question) == sql, question
    searched = sql.replace(" ORDER BY", " AND ct.topic ILIKE '%graphs%' ORDER BY")
    assert _TOPICS.add_searched(searched, "what week do we cover graphs in CS 2110") == searched


_TERMS_LISTED = ("SELECT t.name FROM sections AS s JOIN courses AS c ON c.id = s.course_id JOIN terms AS t ON t.id = "
                 "s.term_id WHERE c.level = 'graduate'")


@pytest.mark.parametrize("question", ["List the graduate courses", "which graduate courses are there?"])
def test_the_rows_of_the_table_asked_for_are_listed_not_those_of_a_table_it_joins(question):
    assert list_asked(question, _TERMS_LISTED, LINKER) == _TERMS_LISTED.replace(
        "SELECT t.name", "SELECT c.code, c.title") + " ORDER BY c.code"


@pytest.mark.parametrize("question, sql", [
    ("Which term are graduate courses offered in?", _TERMS_LISTED),  # the terms are asked for
    ("Who teaches graduate courses?", _TERMS_LISTED.replace("t.name", "t.name, t.starts_on")),
    ("Who teaches graduate courses?", "SELECT i.last_name FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
                                      "JOIN instructors AS i ON i.id = s.instructor_id"),  # people, whatever the noun
    ("List the courses of CS 2110's term", _TERMS_LISTED.replace("c.level = 'graduate'", "c.code = 'CS 2110'")),
    ("List the graduate courses", "SELECT COUNT(*) FROM courses AS c JOIN terms AS t ON t.id = c.term_id"),
])
def test_lists_of_what_was_asked_or_of_a_named_row_are_left_alone(question, sql):
    assert list_asked(question, sql, LINKER) == sql


def test_a_list_sorted_by_a_column_nobody_sees_or_asked_for_is_sorted_by_its_names():
    sql = "SELECT c.code, c.title FROM courses AS c WHERE c.level = 'graduate' ORDER BY c.credits"
    assert order_unasked("Show me the graduate courses", sql, LINKER) == sql.replace("c.credits", "c.code")
    assert order_unasked("list the lecturers", "SELECT i.first_name, i.last_name FROM instructors AS i ORDER BY "
                         "i.title", LINKER) == "SELECT i.first_name, i.last_name FROM instructors AS i ORDER BY " \
                                              "i.last_name, i.first_name"
    for question, kept in [("graduate courses by credits", sql),  # asked for
                           ("graduate courses", sql.replace("c.code, c.title", "c.code, c.title, c.credits")),  # shown
                           ("the 3 graduate courses with the most credits", sql + " DESC LIMIT 3"),  # a cut
                           ("graduate courses", sql.replace("c.code, c.title", "c.credits"))]:  # no names listed
        assert order_unasked(question, kept, LINKER) == kept, question


_DEPARTMENTS_TABLES = (
    Table("departments", (Column("id", "integer"), Column("code", "text"), Column("name", "text"),
                          Column("building", "text"))),
    Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text"),
                      Column("department_id", "integer")),
          foreign_keys=(ForeignKey(("department_id",), "departments", ("id",)),)),
    Table("instructors", (Column("id", "integer"), Column("first_name", "text"), Column("last_name", "text"),
                          Column("department_id", "integer")),
          foreign_keys=(ForeignKey(("department_id",), "departments", ("id",)),)),
)
_DEPARTMENTS = build_linker(Schema(_DEPARTMENTS_TABLES), {("departments", "code"): ["CE", "CS", "MATH"],
     ("departments", "name"): ["Computer Engineering", "Computer Science", "Mathematics"],
     ("courses", "code"): ["CE 4229", "CS 2110"], ("courses", "title"): ["Cloud Computing", "Data Structures"]})


def test_a_code_that_only_shortens_a_name_is_not_what_names_the_row():
    assert abbreviates("CE", "Computer Engineering") and abbreviates("MATH", "Mathematics")
    assert not abbreviates("CS 2110", "Data Structures") and not abbreviates("CS", "Computer Engineering")
    assert _DEPARTMENTS.short == {"departments": {"code": "name"}}  # course codes name courses by themselves
    assert _DEPARTMENTS.names["departments"] == ("name",) and _DEPARTMENTS.names["courses"] == ("code", "title")


@pytest.mark.parametrize("question, sql, right", [
    ("How many courses does each department offer?",
     "SELECT d.code, d.name, COUNT(*) AS n FROM departments AS d JOIN courses AS c ON c.department_id = d.id "
     "GROUP BY d.code, d.name ORDER BY n DESC",
     "SELECT d.name, COUNT(*) AS n FROM departments AS d JOIN courses AS c ON c.department_id = d.id "
     "GROUP BY d.name ORDER BY n DESC"),
    ("What department is Cloud Computing in?",  # the code alone: the name instead
     "SELECT d.code FROM courses AS c JOIN departments AS d ON d.id = c.department_id WHERE c.title = 'Cloud Computing'",
     "SELECT d.name FROM courses AS c JOIN departments AS d ON d.id = c.department_id WHERE c.title = 'Cloud Computing'"),
    ("Where is the Computer Engineering department?",  # the question named the row already
     "SELECT code, building FROM departments WHERE name = 'Computer Engineering'",
     "SELECT building FROM departments WHERE name = 'Computer Engineering'"),
    ("Which departments are in Turing Hall?", "SELECT code, name FROM departments WHERE building = 'Turing Hall' "
     "ORDER BY code", "SELECT name FROM departments WHERE building = 'Turing Hall' ORDER BY name"),
])
def test_rows_are_named_by_the_name_a_code_shortens(question, sql, right):
    assert name_not_short(question, sql, _DEPARTMENTS) == right
    assert mend(question, sql, _DEPARTMENTS) == right


@pytest.mark.parametrize("question, sql", [
    ("What is the code of the Computer Science department?", "SELECT code FROM departments WHERE name = "
     "'Computer Science'"),
    ("list the department abbreviations", "SELECT code, name FROM departments"),
    ("the names of CE and MATH", "SELECT code, name FROM departments WHERE code IN ('CE', 'MATH') ORDER BY code"),
    ("Which courses does CE offer?", "SELECT c.code, c.title FROM courses AS c JOIN departments AS d ON "
     "d.id = c.department_id WHERE d.code = 'CE'"),  # asked by the code, listing courses by theirs
])
def test_codes_asked_for_or_of_other_rows_stay(question, sql):
    assert name_not_short(question, sql, _DEPARTMENTS) == sql


def test_a_list_of_a_department_picked_by_its_code_is_not_replaced_by_the_department():
    sql = ("SELECT i.first_name, i.last_name FROM instructors AS i JOIN departments AS d ON d.id = i.department_id "
           "WHERE d.code = 'MATH'")
    assert list_asked("the math department's professors", sql, _DEPARTMENTS) == sql


def _course_children(table: str, columns: tuple[Column, ...], values: dict) -> SchemaLinker:
    """A linker over courses and one table of their children (`columns` after its id and course_id)."""
    return build_linker(Schema((
        Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text"))),
        Table(table, (Column("id", "integer"), Column("course_id", "integer")) + columns,
              foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),)),
    )), {("courses", "code"): ["CS 2110", "CE 4229"], ("courses", "title"): ["Data Structures", "Cloud Computing"],
         **values})


_WEEKS = _course_children("course_topics", (Column("week", "integer"), Column("topic", "text")),
                          {("course_topics", "topic"): ["Arrays", "Kubernetes"]})
_BY_TOPIC = ("SELECT ct.topic, ct.week FROM course_topics AS ct JOIN courses AS c ON c.id = ct.course_id "
             "WHERE c.title = 'Data Structures' ORDER BY ct.topic")


def test_one_rows_children_come_in_the_order_their_numbering_column_gives():
    assert sequence_column("week") and sequence_column("sort_order") and not sequence_column("credits")
    by_week = _BY_TOPIC.replace("ORDER BY ct.topic", "ORDER BY ct.week")
    assert order_sequence("What are the topics of Data Structures?", _BY_TOPIC, _WEEKS) == by_week
    assert mend("What are the topics of Data Structures?", _BY_TOPIC, _WEEKS) == by_week
    assert order_sequence("what's the last topic in Data Structures", _BY_TOPIC, _WEEKS) == _BY_TOPIC.replace(
        "ORDER BY ct.topic", "ORDER BY ct.week DESC NULLS LAST LIMIT 1")
    assert order_sequence("the first topic of Data Structures", _BY_TOPIC, _WEEKS).endswith("ORDER BY ct.week LIMIT 1")


@pytest.mark.parametrize("question, sql", [
    ("topics of Data Structures in alphabetical order", _BY_TOPIC),  # an order asked for
    ("topics of Data Structures by name", _BY_TOPIC),
    ("Which topics mention graphs?", "SELECT topic, week FROM course_topics WHERE topic ILIKE '%graphs%' "
     "ORDER BY topic"),  # weeks of many courses are no one sequence
    ("topics of Data Structures", _BY_TOPIC.replace("ORDER BY ct.topic", "ORDER BY ct.week DESC")),  # a number
])
def test_orders_asked_for_or_across_parents_are_kept(question, sql):
    assert order_sequence(question, sql, _WEEKS) == sql


_CREDITS = build_linker(Schema((
    Table("departments", (Column("id", "integer"), Column("code", "text"), Column("name", "text"))),
    Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text"),
                      Column("credits", "integer"), Column("department_id", "integer")),
          foreign_keys=(ForeignKey(("department_id",), "departments", ("id",)),)),
)), {("departments", "name"): ["Computer Science"], ("courses", "code"): ["CS 1010", "CS 2110"],
     ("courses", "title"): ["Intro", "Data Structures"]})
_WEIGHTS = _course_children("assessments", (Column("name", "text"), Column("kind", "text"),
                                             Column("weight_percent", "integer")),
                            {("assessments", "name"): ["Final Exam", "Quiz 1"]})
_GRADED = ("SELECT a.name, a.kind FROM assessments AS a JOIN courses AS c ON c.id = a.course_id "
           "WHERE c.code = 'CE 4229' ORDER BY a.name")


def test_one_rows_weighed_children_come_heaviest_first_with_their_weight():
    assert weight_column("weight_percent") and not weight_column("credits") and not sequence_column("weight_percent")
    heaviest = ("SELECT a.name, a.kind, a.weight_percent FROM assessments AS a JOIN courses AS c ON "
                "c.id = a.course_id WHERE c.code = 'CE 4229' ORDER BY a.weight_percent DESC")
    assert order_sequence("How is CE 4229 graded?", _GRADED, _WEIGHTS) == heaviest
    lightest = heaviest.replace(" DESC", "")
    assert order_sequence("list the assessments of CE 4229", lightest, _WEIGHTS) == heaviest
    assert mend("list the assessments of CE 4229", lightest, _WEIGHTS) == heaviest


@pytest.mark.parametrize("question, sql", [
    ("assessments of CE 4229 sorted by weight", _GRADED.replace("a.name", "a.weight_percent")),  # an order asked
    ("the lightest assessment of CE 4229", _GRADED.replace("ORDER BY a.name", "ORDER BY a.weight_percent LIMIT 1")),
    ("Which assessments weigh 20 percent?", "SELECT name FROM assessments WHERE weight_percent = 20 ORDER BY name"),
])
def test_weights_asked_for_picked_or_fixed_are_left_alone(question, sql):
    assert order_sequence(question, sql, _WEIGHTS) == sql


def test_rows_found_by_a_word_are_listed_with_the_text_that_matched():
    found = ("SELECT week FROM course_topics AS ct JOIN courses AS c ON c.id = ct.course_id WHERE c.code = 'CE 4229' "
             "AND ct.topic ILIKE '%kubernetes%'")
    assert show_searched(found, _WEEKS) == found.replace("SELECT week", "SELECT week, ct.topic")
    named = ("SELECT a.kind FROM assessments AS a JOIN courses AS c ON c.id = a.course_id WHERE c.code = 'CE 4229' "
             "AND a.name ILIKE '%exam%'")
    assert show_searched(named, _WEIGHTS) == named.replace("SELECT a.kind", "SELECT a.kind, a.name")


@pytest.mark.parametrize("sql", [
    "SELECT ct.week, ct.topic FROM course_topics AS ct WHERE ct.topic ILIKE '%kubernetes%'",  # already listed
    "SELECT COUNT(*) FROM course_topics WHERE topic ILIKE '%kubernetes%'",  # a count says no row
    "SELECT c.code, c.title FROM courses AS c JOIN course_topics AS ct ON ct.course_id = c.id "
    "WHERE ct.topic ILIKE '%kubernetes%'",  # rows of another table
    "SELECT week FROM course_topics WHERE topic = 'Kubernetes'",  # named whole, not searched
])
def test_other_searches_are_not_listed(sql):
    assert show_searched(sql, _WEEKS) == sql


_OFFERED = ("SELECT c.code, c.title, c.credits FROM courses AS c JOIN departments AS d ON d.id = c.department_id "
            "WHERE d.name = 'Computer Science' ORDER BY c.credits")


def test_rows_named_by_two_columns_show_only_what_is_asked():
    assert drop_unasked("Which courses does the CS department offer?", _OFFERED, _CREDITS) == _OFFERED.replace(
        ", c.credits FROM", " FROM")
    assert mend("Which courses does the CS department offer?", _OFFERED, _CREDITS) == _OFFERED.replace(
        ", c.credits FROM", " FROM").replace("ORDER BY c.credits", "ORDER BY c.code")


@pytest.mark.parametrize("question, sql", [
    ("How many credits are the CS courses worth?", _OFFERED),  # the column asked for
    ("Courses with more credits than the average", "SELECT code, title, credits FROM courses WHERE credits > "
     "(SELECT AVG(credits) FROM courses)"),  # compared with a computed value
    ("the CS course with the most credits", _OFFERED + " DESC LIMIT 1"),  # one row picked by it
    ("Which courses does the CS department offer?", _OFFERED.replace("c.code, ", "")),  # named by one column
])
def test_asked_compared_or_ranking_columns_stay(question, sql):
    assert drop_unasked(question, sql, _CREDITS) == sql


_SCHEDULE_TABLES = (
    Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text")), ("id",),
          unique=("code",)),
    Table("sections", (Column("id", "integer"), Column("course_id", "integer"), Column("section_number", "text"),
                       Column("room", "text"), Column("meeting_days", "text"),
                       Column("start_time", "time without time zone"), Column("end_time", "time without time zone"),
                       Column("capacity", "integer"), Column("instructor_id", "integer")),
          foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),
                        ForeignKey(("instructor_id",), "instructors", ("id",)))),
    Table("terms", (Column("id", "integer"), Column("name", "text"), Column("ends_on", "date"))),
    Table("instructors", (Column("id", "integer"), Column("first_name", "text"), Column("last_name", "text"))),
)
_SCHEDULE = build_linker(Schema(_SCHEDULE_TABLES), {
    ("courses", "title"): ["Data Structures"], ("terms", "name"): ["Spring 2026"], ("instructors", "last_name"): ["Chen"]})
_ROOMS = ("SELECT s.section_number, s.room FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
          "WHERE c.title = 'Data Structures'")


def test_when_asks_for_the_days_and_times_and_where_for_the_room():
    assert _SCHEDULE.schedule == {"sections": ("meeting_days", "start_time", "end_time")}
    assert _SCHEDULE.places == {"sections": ("room",)}
    assert show_when("When and where does Data Structures meet?", _ROOMS, _SCHEDULE) == _ROOMS.replace(
        "s.room FROM", "s.room, s.meeting_days, s.start_time, s.end_time FROM")
    numbers = _ROOMS.replace(", s.room", "")
    assert show_when("what time is data structures", numbers, _SCHEDULE) == numbers.replace(
        "s.section_number FROM", "s.section_number, s.meeting_days, s.start_time, s.end_time FROM")
    assert show_when("Where does Data Structures meet?", numbers, _SCHEDULE) == numbers.replace(
        "s.section_number FROM", "s.section_number, s.room FROM")


def test_when_lists_the_scheduled_rows_not_columns_of_a_table_the_question_never_names():
    taught = ("SELECT DISTINCT i.first_name, i.last_name, s.meeting_days, s.start_time, s.end_time FROM sections AS s "
              "JOIN courses AS c ON c.id = s.course_id JOIN instructors AS i ON i.id = s.instructor_id "
              "WHERE c.title = 'Data Structures' ORDER BY i.last_name, i.first_name")
    assert show_when("When does Data Structures meet?", taught, _SCHEDULE) == taught.replace(
        "i.first_name, i.last_name, s.meeting_days", "s.section_number, s.meeting_days").replace(
        "ORDER BY i.last_name, i.first_name", "ORDER BY s.section_number")
    bare = _ROOMS.replace("s.section_number, s.room", "s.meeting_days, s.start_time, s.end_time")
    assert show_when("what time is data structures", bare, _SCHEDULE) == bare.replace(
        "SELECT s.meeting_days", "SELECT s.section_number, s.meeting_days") + " ORDER BY s.section_number"
    # The people the question names stay, and so does a number already listed.
    chen = taught.replace("c.title = 'Data Structures'", "i.last_name = 'Chen'")
    assert show_when("When does professor Chen teach?", chen, _SCHEDULE) == chen
    numbered = taught.replace("DISTINCT i.first_name, i.last_name", "DISTINCT s.section_number, i.last_name")
    assert show_when("When does Data Structures meet?", numbered, _SCHEDULE) == numbered.replace(
        "s.section_number, i.last_name, ", "s.section_number, ").replace(
        "ORDER BY i.last_name, i.first_name", "ORDER BY s.section_number")


def test_numbered_rows_are_shown_by_the_code_of_the_row_they_belong_to_and_their_number():
    big = "SELECT section_number, room, capacity FROM sections WHERE capacity > 40 ORDER BY capacity"
    assert name_numbered("Which sections have a capacity over 40?", big, _SCHEDULE) == (
        "SELECT c.code, sections.section_number FROM sections JOIN courses AS c ON c.id = sections.course_id "
        "WHERE sections.capacity > 40 ORDER BY c.code, sections.section_number")
    # A compared time is shown, a number compared with a computed one stays, a column the question names stays.
    early = "SELECT s.section_number, s.room FROM sections AS s WHERE s.start_time < '09:00' ORDER BY s.section_number"
    assert name_numbered("sections starting before 9am", early, _SCHEDULE) == (
        "SELECT c.code, s.section_number, s.start_time FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
        "WHERE s.start_time < '09:00' ORDER BY s.start_time, c.code, s.section_number")
    above = big.replace("> 40", "> (SELECT AVG(capacity) FROM sections)")
    assert name_numbered("sections bigger than average", above, _SCHEDULE).startswith(
        "SELECT c.code, sections.section_number, sections.capacity FROM")
    assert name_numbered("sections over 40 and their rooms", big, _SCHEDULE).startswith(
        "SELECT c.code, sections.section_number, sections.room FROM")


def test_numbered_rows_asked_for_are_told_by_the_code_not_every_name_of_the_row_they_belong_to():
    later = ("SELECT c.code, c.title, s.section_number FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
             "WHERE s.start_time > '15:00' ORDER BY c.code")
    assert name_numbered("Which sections start after 3pm?", later, _SCHEDULE) == (
        "SELECT c.code, s.section_number, s.start_time FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
        "WHERE s.start_time > '15:00' ORDER BY s.start_time, c.code, s.section_number")
    # A question about the courses ('classes') lists them as it asked; a named title stays.
    assert name_numbered("Which classes start after 3pm?", later, _SCHEDULE) == later
    assert name_numbered("Which sections start after 3pm, with the course title?", later, _SCHEDULE).startswith(
        "SELECT c.code, c.title, s.section_number, s.start_time FROM")


@pytest.mark.parametrize("sql", [
    _ROOMS,  # the course joined (`show_parents` tells those)
    "SELECT DISTINCT room FROM sections",  # the rooms, whichever section
    "SELECT room, capacity FROM sections WHERE capacity > 40",  # no number
    "SELECT COUNT(*) FROM sections WHERE capacity > 40",
    "SELECT code, title FROM courses",  # rows their columns name
])
def test_rows_with_their_parent_or_not_numbered_are_left_alone(sql):
    assert name_numbered("Which sections have a capacity over 40?", sql, _SCHEDULE) == sql


_TEACHES = ("SELECT DISTINCT i.first_name, i.last_name FROM instructors AS i JOIN sections AS s "
           "ON s.instructor_id = i.id WHERE i.last_name = 'Chen' ORDER BY i.last_name")


def test_a_question_about_one_named_row_lists_what_is_joined_to_it_not_the_row_again():
    assert list_theirs("What does professor Chen teach?", _TEACHES, _SCHEDULE) == (
        "SELECT c.code, c.title, s.section_number FROM instructors AS i JOIN sections AS s ON s.instructor_id = i.id "
        "JOIN courses AS c ON c.id = s.course_id WHERE i.last_name = 'Chen' ORDER BY c.code")


@pytest.mark.parametrize("question, sql", [
    ("Who is professor Chen?", _TEACHES),  # the row itself asked for
    ("Which instructor is Chen?", _TEACHES),
    ("What is professor Chen's full name?", _TEACHES),
    ("What does professor Chen teach?", _TEACHES.replace("i.last_name = 'Chen'", "s.room = 'B12'")),  # no row named
    ("What does professor Chen teach?", _TEACHES.replace("i.first_name, i.last_name", "s.room")),  # not its names
])
def test_rows_asked_for_or_not_named_are_left_alone(question, sql):
    assert list_theirs(question, sql, _SCHEDULE) == sql


@pytest.mark.parametrize("question, sql", [
    ("Which sections of Data Structures meet in room 101?", _ROOMS),  # neither asked
    ("Sections where the capacity is over 30", "SELECT section_number FROM sections WHERE capacity > 30"),
    ("When does Spring 2026 end?", "SELECT ends_on FROM terms WHERE name = 'Spring 2026'"),  # no schedule
    ("When does Data Structures meet?", "SELECT COUNT(*) FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
     "WHERE c.title = 'Data Structures'"),  # a number, not rows
])
def test_other_questions_keep_their_columns(question, sql):
    assert show_when(question, sql, _SCHEDULE) == sql


def test_rows_a_join_repeats_are_listed_once_where_a_unique_column_names_them():
    linker = build_linker(Schema((
        Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text")), ("id",),
              unique=("code",)),
        Table("sections", (Column("id", "integer"), Column("course_id", "integer"), Column("room", "text")), ("id",),
              foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),)),
    )), {})
    offered = ("SELECT c.code, c.title FROM courses AS c JOIN sections AS s ON s.course_id = c.id "
               "WHERE s.room = 'B12' ORDER BY c.code")
    assert list_once(offered, linker) == offered.replace("SELECT", "SELECT DISTINCT")
    for sql in (offered.replace("c.code, c.title", "c.title"),  # two courses may share a title
                offered.replace("c.title FROM", "c.title, s.room FROM"),  # a section's own column
                offered.replace("ORDER BY c.code", "ORDER BY s.room"),  # DISTINCT sorts by what it lists
                "SELECT code, title FROM courses ORDER BY code"):  # no join to repeat a row
        assert list_once(sql, linker) == sql


def test_an_answer_repeating_the_value_the_question_sets_names_the_rows_instead():
    week = ("SELECT MIN(ct.week) FROM course_topics AS ct JOIN courses AS c ON c.id = ct.course_id "
            "WHERE c.title = 'Data Structures' AND ct.week = 1")
    topics = week.replace("MIN(ct.week)", "ct.topic")
    assert name_fixed("what's covered in week 1 of data structures", week, _WEEKS) == topics
    assert name_fixed("week 1 of data structures", week.replace("MIN(ct.week)", "ct.week"), _WEEKS) == topics
    for question, sql in [("the first week of data structures with week 1", week),  # a smallest asked
                          ("how many topics in week 1 of data structures", week.replace("MIN(ct.week)",
                                                                                         "COUNT(*)")),
                          ("what's covered in week 1 of data structures", topics),
                          # bare columns of a join name no table: nothing to read, and nothing raises
                          ("what time is it", week.replace("MIN(ct.week)", "week").replace("ct.week = 1", "week = 1")
                           .replace("c.title", "title"))]:
        assert name_fixed(question, sql, _WEEKS) == sql


def test_a_compared_date_is_shown_and_a_compared_number_is_not():
    terms = build_linker(Schema((Table("terms", (Column("id", "integer"), Column("name", "text"),
                                                 Column("starts_on", "date"), Column("ends_on", "date"))),)), {})
    both = "SELECT name, starts_on, ends_on FROM terms WHERE ends_on < '2026-06-01' ORDER BY ends_on"
    assert show_compared("Which terms end before June?", both, terms) == both.replace("starts_on, ", "")
    assert show_compared("Which terms end before June?", "SELECT name FROM terms WHERE ends_on < '2026-06-01'",
                         terms) == "SELECT name, ends_on FROM terms WHERE ends_on < '2026-06-01'"
    assert show_compared("terms ending before June and when they start", both, terms) == both  # a start asked for
    credits = "SELECT code, title, credits FROM courses WHERE credits < 4 ORDER BY credits"
    assert mend("Which courses have fewer than 4 credits?", credits, _CREDITS) == (
        "SELECT code, title FROM courses WHERE credits < 4 ORDER BY code")
    for sql in ("SELECT code, title, credits FROM courses WHERE credits > (SELECT AVG(credits) FROM courses)",
                "SELECT credits FROM courses WHERE credits < 4",  # nothing names the rows
                credits + " LIMIT 3"):  # the few with the fewest
        assert show_compared("Which courses have fewer than 4 credits?", sql, _CREDITS) == sql


def test_a_table_noun_before_another_only_qualifies_it():
    sql = ("SELECT i.first_name, i.last_name FROM instructors AS i JOIN departments AS d ON d.id = i.department_id "
           "WHERE d.building = 'Noether Hall' ORDER BY i.last_name, i.first_name")
    assert list_asked("The Noether Hall department instructors?", sql, _DEPARTMENTS) == sql


_ONE_COUNT = ("SELECT COUNT(*) FROM sections AS s JOIN courses AS c ON c.id = s.course_id JOIN terms AS t "
              "ON t.id = s.term_id WHERE c.code = 'CS 2110' AND t.name = 'Fall 2026'")


def test_a_count_asked_for_each_row_of_a_table_is_grouped_by_its_rows():
    sql = _ONE_COUNT.replace("FROM sections AS s", "FROM enrollments AS e JOIN sections AS s ON s.id = e.section_id")
    linker = build_linker(Schema(SCHEMA.tables + (
        Table("enrollments", (Column("id", "integer"), Column("section_id", "integer")),
              foreign_keys=(ForeignKey(("section_id",), "sections", ("id",)),)),)), VALUES)
    # No name: the section's number, and its key, since section 1 of two courses are two sections.
    assert group_each("How many students are in each section of CS 2110 this term?", sql, linker) == sql.replace(
        "SELECT COUNT(*)", "SELECT s.section_number, COUNT(*)") + " GROUP BY s.id, s.section_number ORDER BY " \
                                                                   "s.section_number"
    assert group_each("number of sections per term", "SELECT COUNT(*) FROM sections AS s JOIN terms AS t ON "
                      "t.id = s.term_id", LINKER) == ("SELECT t.name, COUNT(*) FROM sections AS s JOIN terms AS t "
                                                      "ON t.id = s.term_id GROUP BY t.id, t.name ORDER BY t.name")


@pytest.mark.parametrize("question, sql", [
    ("How many sections does CS 2110 have this term?", _ONE_COUNT),  # no 'each'
    ("average number of sections per term", "SELECT AVG(n) FROM (SELECT COUNT(*) AS n FROM sections GROUP BY "
     "term_id) AS x"),  # an average over the groups
    ("How many sections does each course have?", _ONE_COUNT.replace("COUNT(*)", "c.code, COUNT(*)") +
     " GROUP BY c.code"),  # grouped already
    ("How many credits is each course worth?", "SELECT code, credits FROM courses"),  # no aggregate
])
def test_counts_not_asked_per_row_or_already_grouped_are_kept(question, sql):
    assert group_each(question, sql, LINKER) == sql


def test_a_number_every_listed_row_shares_is_neither_shown_nor_sorted_by():
    sql = ("SELECT c.code, c.title, c.credits FROM courses AS c WHERE c.level = 'graduate' AND c.credits = 4 "
           "ORDER BY c.credits")
    assert drop_fixed(sql, LINKER) == ("SELECT c.code, c.title FROM courses AS c WHERE c.level = 'graduate' AND "
                                       "c.credits = 4 ORDER BY c.code")
    for kept in ("SELECT c.code, c.title, c.credits FROM courses AS c WHERE c.credits > 3",  # a bound: they differ
                 "SELECT c.credits FROM courses AS c WHERE c.credits = 4",  # nothing naming the rows
                 "SELECT c.code, c.title FROM courses AS c WHERE c.title = 'Data Structures'"):  # a name, not a number
        assert drop_fixed(kept, LINKER) == kept
    fixed_week = _BY_TOPIC.replace("ORDER BY", "AND ct.week = 1 ORDER BY")
    assert order_sequence("topics of Data Structures in week 1", fixed_week, _WEEKS) == fixed_week


_TITLES = build_linker(SCHEMA, VALUES, complete=frozenset({"instructors.title", "courses.level"}))


@pytest.mark.parametrize("question", ["list the distinct instructor titles", "what titles do instructors have?"])
def test_the_values_of_a_kind_of_column_are_listed_where_that_is_all_the_question_names(question):
    invented = "SELECT DISTINCT first_name, last_name FROM instructors WHERE title = 'Lecturer' ORDER BY last_name"
    assert list_values(question, invented, _TITLES) == "SELECT DISTINCT title FROM instructors ORDER BY title"


@pytest.mark.parametrize("question, sql", [
    ("which instructors are lecturers", "SELECT first_name, last_name FROM instructors WHERE title = 'Lecturer'"),
    ("instructors whose title mentions lect", "SELECT last_name FROM instructors WHERE title ILIKE '%lect%'"),
    ("how many instructor titles are there", "SELECT COUNT(DISTINCT title) FROM instructors"),
    ("instructor titles with more than 2 people", "SELECT title FROM instructors GROUP BY title HAVING COUNT(*) > 2"),
    ("course titles", "SELECT code, title FROM courses"),  # not read completely: names, not kinds
    ("list the distinct instructor titles", "SELECT DISTINCT title FROM instructors"),
])
def test_questions_naming_more_than_a_kind_of_column_are_left_alone(question, sql):
    assert list_values(question, sql, _TITLES) == sql


def test_a_value_of_a_table_the_statement_lacks_is_joined_through_the_one_key_to_it():
    named, _ = _DEPARTMENTS.named_values("list the CE courses")
    assert _DEPARTMENTS.add_named("SELECT code, title FROM courses ORDER BY code", named) == (
        "SELECT courses.code, courses.title FROM courses JOIN departments AS d ON d.id = courses.department_id "
        "WHERE d.code = 'CE' ORDER BY courses.code")  # bare columns qualified first: both tables have a code
    # No one key leads there from the statement's tables: left alone.
    named, _ = _DEPARTMENTS.named_values("the CE department")
    assert _DEPARTMENTS.add_named("SELECT first_name FROM students", named) == "SELECT first_name FROM students"


_TEACHERS = ("SELECT DISTINCT i.first_name, i.last_name FROM instructors AS i JOIN sections AS s ON s.instructor_id = "
             "i.id JOIN terms AS t ON t.id = s.term_id WHERE t.name = 'Fall 2026' ORDER BY i.last_name")


def test_which_row_has_the_most_of_another_tables_rows_is_counted():
    assert count_the_most("Which instructor teaches the most sections this semester?", _TEACHERS, LINKER) == (
        "SELECT i.first_name, i.last_name, COUNT(*) AS n FROM instructors AS i JOIN sections AS s ON "
        "s.instructor_id = i.id JOIN terms AS t ON t.id = s.term_id WHERE t.name = 'Fall 2026' GROUP BY "
        "i.first_name, i.last_name ORDER BY n DESC NULLS LAST LIMIT 1")
    assert count_the_most("who teaches the fewest sections", _TEACHERS, LINKER).endswith("ORDER BY n LIMIT 1")
    for question in ("Which instructors teach sections this semester?", "the 3 instructors with the most sections",
                     "which instructor has the most students"):  # no count asked; several; students not joined
        assert count_the_most(question, _TEACHERS, LINKER) == _TEACHERS, question


def test_the_most_of_a_word_no_table_has_counts_the_one_other_table():
    grouped = ("SELECT d.name FROM instructors AS i JOIN departments AS d ON d.id = i.department_id GROUP BY d.name "
               "ORDER BY d.name")
    assert count_the_most("Which department has the most faculty?", grouped, _DEPARTMENTS) == (
        "SELECT d.name, COUNT(*) AS n FROM instructors AS i JOIN departments AS d ON d.id = i.department_id "
        "GROUP BY d.id, d.name ORDER BY n DESC NULLS LAST LIMIT 1")
    # 'buildings' names a column of departments (their building), not rows of another table: nothing is counted.
    assert count_the_most("Which department has the most buildings?", grouped, _DEPARTMENTS) == grouped
    # The counted rows joined where the statement reads none of them.
    listed = "SELECT DISTINCT c.code, c.title FROM courses AS c ORDER BY c.code"
    assert count_the_most("Which course has the most topics?", listed, _WEEKS) == (
        "SELECT c.code, c.title, COUNT(*) AS n FROM courses AS c JOIN course_topics AS c2 ON c.id = c2.course_id "
        "GROUP BY c.id, c.code, c.title ORDER BY n DESC NULLS LAST LIMIT 1")


@pytest.mark.parametrize("question, sql, right", [
    ("Which sections start after 3pm this semester?", "SELECT s.id FROM sections AS s WHERE s.start_time >= '3:00'",
     "SELECT s.id FROM sections AS s WHERE s.start_time > '15:00'"),  # a 12-hour slip and the bound
    ("classes that start before 9am", "SELECT s.id FROM sections AS s WHERE s.start_time <= '09:00:00'",
     "SELECT s.id FROM sections AS s WHERE s.start_time < '09:00'"),
    ("anything at 2:30 p.m.?", "SELECT s.id FROM sections AS s WHERE s.start_time = '2:30'",
     "SELECT s.id FROM sections AS s WHERE s.start_time = '14:30'"),
])
def test_clock_times_are_read_as_the_question_says_them(question, sql, right):
    assert clock_24h("after 3pm, 9:30 am, 12pm, 12 a.m.") == "after 15:00, 09:30, 12:00, 00:00"
    assert ground_bounds(question, sql) == right


def test_times_the_question_does_not_say_are_left_alone():
    for question in ("sections after 4", "sections after 4pm and before 4am"):  # no clock; two that fit
        sql = "SELECT s.id FROM sections AS s WHERE s.start_time > '4:00'"
        assert ground_bounds(question, sql) == sql, question


def test_a_string_no_row_holds_gives_way_to_the_one_value_the_question_names_where_the_column_was_read_whole():
    complete = build_linker(SCHEMA, VALUES, complete=frozenset({"instructors.last_name"}))
    sql = "SELECT title FROM instructors WHERE last_name = 'Premier'"
    named, _ = complete.named_values("What is professor Chen's title?")
    assert complete.ground_values(sql, named) == "SELECT title FROM instructors WHERE last_name = 'Chen'"
    # Not every value read: 'Premier' may be a last name the linker never saw.
    assert LINKER.ground_values(sql, LINKER.named_values("What is professor Chen's title?")[0]) == sql


_TAUGHT = ("SELECT DISTINCT i.first_name, i.last_name FROM instructors AS i JOIN sections AS s ON s.instructor_id = "
           "i.id JOIN terms AS t ON t.id = s.term_id WHERE t.name = 'Fall 2025'")
_BOTH_TERMS = {"terms.name": ["Fall 2025", "Fall 2026"]}


def test_rows_with_one_value_and_without_another_get_the_side_the_statement_skips():
    question = "Which instructors taught in Fall 2025 but are not teaching in Fall 2026?"
    assert ground_but_not(question, _TAUGHT, _BOTH_TERMS) == _TAUGHT + (
        " AND NOT EXISTS(SELECT 1 FROM sections AS s JOIN terms AS t ON t.id = s.term_id WHERE s.instructor_id = i.id"
        " AND t.name = 'Fall 2026')")
    lacking = ("SELECT c.code FROM courses AS c WHERE NOT EXISTS(SELECT 1 FROM sections AS s JOIN terms AS t ON t.id = "
               "s.term_id WHERE s.course_id = c.id AND t.name = 'Fall 2026')")
    assert ground_but_not("courses offered last fall but not this semester", lacking, _BOTH_TERMS,
                          {"fall 2025": 16, "fall 2026": 36}) == lacking + (
        " AND EXISTS(SELECT 1 FROM sections AS s JOIN terms AS t ON t.id = s.term_id WHERE s.course_id = c.id AND "
        "t.name = 'Fall 2025')")


@pytest.mark.parametrize("question", [
    "Which instructors taught in Fall 2025?",  # no negation
    "Which instructors did not teach in Fall 2025 or Fall 2026?",  # both values after it
])
def test_questions_without_one_value_on_each_side_of_a_negation_are_left_alone(question):
    assert ground_but_not(question, _TAUGHT, _BOTH_TERMS) == _TAUGHT


def test_a_condition_without_a_column_leaves_the_order_to_the_week():
    # `1 = 1` has no column to read: the children are still put in week order, and nothing raises.
    odd = _BY_TOPIC.replace("WHERE c.title", "WHERE 1 = 1 AND c.title")
    assert order_sequence("What are the topics of Data Structures?", odd, _WEEKS) == odd.replace(
        "ORDER BY ct.topic", "ORDER BY ct.week")


def test_a_rewrite_that_fails_leaves_the_statement_as_written(monkeypatch, caplog):
    import pipeline.mend as mending

    def broken(question, sql, linker):
        raise AttributeError("a slip in one rewrite")
    monkeypatch.setattr(mending, "name_fixed", broken)
    sql = "SELECT ct.topic FROM course_topics AS ct WHERE ct.week = 1"
    with caplog.at_level("WARNING", logger="askdb.mend"):
        assert mend("what's covered in week 1", sql, _WEEKS) == sql
    assert "used as written" in caplog.text


_FACULTY = build_linker(Schema((
    Table("departments", (Column("id", "integer"), Column("code", "text"), Column("name", "text"),
                          Column("building", "text")), ("id",), unique=("code",)),
    Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text"),
                      Column("level", "text"), Column("department_id", "integer")), ("id",), unique=("code",),
          foreign_keys=(ForeignKey(("department_id",), "departments", ("id",)),)),
    Table("course_topics", (Column("id", "integer"), Column("course_id", "integer"), Column("week", "integer"),
                            Column("topic", "text")), ("id",),
          foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),)),
    Table("instructors", (Column("id", "integer"), Column("first_name", "text"), Column("last_name", "text"),
                          Column("department_id", "integer")), ("id",),
          foreign_keys=(ForeignKey(("department_id",), "departments", ("id",)),)),
)), {("departments", "code"): ["CS", "CE"], ("courses", "code"): ["CS 2110"], ("courses", "level"): ["graduate"],
     ("courses", "title"): ["Data Structures"], ("course_topics", "topic"): ["Arrays"]})
_WEEK_ONE = ("SELECT ct.topic FROM course_topics AS ct JOIN courses AS c ON c.id = ct.course_id "
             "JOIN departments AS d ON d.id = c.department_id WHERE d.code = 'CS' AND ct.week = 1 ORDER BY ct.topic")


def test_children_of_several_rows_are_listed_with_the_row_each_belongs_to():
    assert show_parents(_WEEK_ONE, _FACULTY) == _WEEK_ONE.replace("SELECT ct.topic", "SELECT c.code, ct.topic") \
        .replace("ORDER BY ct.topic", "ORDER BY c.code, ct.topic")
    graduate = ("SELECT ct.week, ct.topic FROM course_topics AS ct JOIN courses AS c ON c.id = ct.course_id "
                "WHERE c.level = 'graduate' LIMIT 5")
    assert show_parents(graduate, _FACULTY) == graduate.replace("SELECT ct.week", "SELECT c.code, ct.week")
    # The week every row shares is then left out, the rows sorted by their course.
    week = _WEEK_ONE.replace("SELECT ct.topic", "SELECT ct.topic, ct.week").replace("BY ct.topic", "BY ct.week")
    assert mend("what are the week 1 topics for CS courses", week, _FACULTY) == _WEEK_ONE.replace(
        "SELECT ct.topic", "SELECT c.code, ct.topic").replace("ORDER BY ct.topic", "ORDER BY c.code")


@pytest.mark.parametrize("sql", [
    _WEEK_ONE.replace("d.code = 'CS'", "c.code = 'CS 2110'"),  # one course, by its code
    _WEEK_ONE.replace("d.code = 'CS'", "c.title = 'Data Structures'"),  # or by its title
    _WEEK_ONE.replace("SELECT ct.topic", "SELECT c.title, ct.topic"),  # the course already shown
    _WEEK_ONE.replace("SELECT", "SELECT DISTINCT"),  # the different topics, whoever's
    "SELECT topic FROM course_topics WHERE week = 1",  # no course joined
    "SELECT COUNT(*) FROM course_topics AS ct JOIN courses AS c ON c.id = ct.course_id WHERE c.level = 'graduate'",
    "SELECT c.code, c.title FROM courses AS c JOIN departments AS d ON d.id = c.department_id "
    "WHERE d.building = 'Noether Hall'",  # rows a column of theirs names
    "SELECT i.first_name, i.last_name FROM instructors AS i JOIN departments AS d ON d.id = i.department_id "
    "WHERE d.building = 'Noether Hall'",  # people
])
def test_children_of_one_row_and_rows_named_by_their_own_columns_are_left_alone(sql):
    assert show_parents(sql, _FACULTY) == sql


_COVERED = build_linker(Schema((
    Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text"),
                      Column("credits", "integer")), ("id",), unique=("code",)),
    Table("course_topics", (Column("id", "integer"), Column("course_id", "integer"), Column("topic", "text")),
          ("id",), foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),)),
)), {("courses", "code"): ["CS 2110"], ("courses", "title"): ["Data Structures"],
     ("course_topics", "topic"): ["Sorting algorithms", "Kubernetes"]})


def test_a_number_the_question_never_says_is_dropped_beside_other_conditions():
    sql = "SELECT code, title FROM courses WHERE credits = 3 AND title = 'Data Structures'"
    assert _COVERED.drop_invented(sql, "Is Data Structures offered?") == \
        "SELECT code, title FROM courses WHERE title = 'Data Structures'"
    for question in ("Is Data Structures worth 3 credits?", "Is Data Structures a three credit course?"):
        assert _COVERED.drop_invented(sql, question) == sql
    alone = "SELECT code, title FROM courses WHERE credits = 3"
    assert _COVERED.drop_invented(alone, "list the courses") == alone  # (the one condition stays)


def test_a_statement_that_missed_what_is_asked_searches_the_joined_childrens_text():
    invented = "SELECT code, title FROM courses WHERE credits = 3 ORDER BY code"
    assert mend("Which courses cover sorting?", invented, _COVERED) == (
        "SELECT DISTINCT courses.code, courses.title FROM courses JOIN course_topics AS c ON courses.id = c.course_id "
        "WHERE c.topic ILIKE '%sorting%' ORDER BY courses.code")
    # A whole stored topic too, searched within others.
    assert mend("Which courses cover sorting algorithms?", invented, _COVERED).endswith(
        "WHERE c.topic ILIKE '%sorting algorithms%' ORDER BY courses.code")
    # A statement that filters on nothing invented is not joined to search a word some topic happens to hold.
    said = invented.replace("credits = 3", "credits = 4")
    assert _COVERED.add_searched(said, "Which 4 credit courses are offered for sorting students?") == said


def test_a_join_without_a_condition_is_left_alone():
    cut = "SELECT ct.week, ct.topic FROM course_topics ct JOIN courses c"
    assert show_parents(cut, _FACULTY) == cut


_SECTIONED = "SELECT c.code, c.title, s.section_number FROM sections AS s JOIN courses AS c ON c.id = s.course_id"


def _bounded(question: str, sql: str) -> str:
    return count_bounded(question, sql, _SCHEDULE, _SCHEDULE.named_values(question)[1])


def test_rows_kept_by_how_many_of_another_tables_rows_they_have_are_counted():
    counted = ("SELECT c.code, c.title, COUNT(*) AS sections FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
               "GROUP BY c.code, c.title HAVING COUNT(*) > 2 ORDER BY sections DESC")
    assert _bounded("Which courses have more than 2 sections?", _SECTIONED) == counted
    # The number compared with a column instead (the model's habit) is the count's.
    assert _bounded("Which courses have more than 2 sections?", _SECTIONED + " WHERE s.capacity > 2") == counted
    assert _bounded("courses with fewer than 3 sections", _SECTIONED).endswith(
        "HAVING COUNT(*) < 3 ORDER BY sections")


_ENROLLED = build_linker(Schema(_SCHEDULE_TABLES + (
    Table("students", (Column("id", "integer"), Column("first_name", "text"), Column("last_name", "text"))),
    Table("enrollments", (Column("id", "integer"), Column("section_id", "integer"), Column("student_id", "integer"),
                          Column("status", "text")),
          foreign_keys=(ForeignKey(("section_id",), "sections", ("id",)),
                        ForeignKey(("student_id",), "students", ("id",)))),
)), {("courses", "title"): ["Data Structures"], ("enrollments", "status"): ["enrolled", "dropped"]})


def test_rows_counted_that_the_statement_does_not_read_are_joined_through_the_table_linking_them():
    question = "Which courses have more than 40 students enrolled?"
    mended = count_bounded(question, _SECTIONED, _ENROLLED, _ENROLLED.named_values(question)[1])
    assert mended == (
        "SELECT c.code, c.title, COUNT(*) AS students FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
        "JOIN enrollments AS e ON s.id = e.section_id GROUP BY c.code, c.title HAVING COUNT(*) > 40 "
        "ORDER BY students DESC")
    # Through every mend: the status the question says is kept too.
    assert "e.status = 'enrolled'" in mend(question, _SECTIONED, _ENROLLED)
    # Numbered rows asked for are counted one by one, by the code of their course and their number.
    question = "Which sections have fewer than 20 students enrolled?"
    assert count_bounded(question, _SECTIONED, _ENROLLED, _ENROLLED.named_values(question)[1]) == (
        "SELECT c.code, s.section_number, COUNT(*) AS students FROM sections AS s JOIN courses AS c "
        "ON c.id = s.course_id JOIN enrollments AS e ON s.id = e.section_id GROUP BY c.code, s.section_number "
        "HAVING COUNT(*) < 20 ORDER BY students")


@pytest.mark.parametrize("question, sql", [
    ("Which courses have more than 2 sections?", "SELECT c.code, COUNT(*) FROM sections AS s JOIN courses AS c "
     "ON c.id = s.course_id GROUP BY c.code HAVING COUNT(*) > 2"),  # counted already
    ("Which sections have more than 40 seats?", _SECTIONED + " WHERE s.capacity > 40"),  # seats are no table
    ("Which courses have 2 sections?", _SECTIONED),  # no bound
    ("Which courses have more than 2 instructors?", _SECTIONED),  # not a table it reads
    ("Which sections have more than 2 courses?", "SELECT s.section_number FROM sections AS s JOIN courses AS c "
     "ON c.id = s.course_id"),  # nothing named listed
])
def test_other_bounds_and_counts_are_left_alone(question, sql):
    assert _bounded(question, sql) == sql


def test_the_rows_with_the_most_of_a_number_asked_for_by_how_many_are_listed_sorted_and_cut():
    total = "SELECT SUM(s.capacity) FROM sections AS s"
    assert ground_top("What are the 5 biggest sections by capacity?", total, _SCHEDULE) == (
        "SELECT s.section_number, s.capacity FROM sections AS s ORDER BY s.capacity DESC NULLS LAST LIMIT 5")
    listed = "SELECT section_number, room, capacity FROM sections"
    assert ground_top("the 3 smallest sections", listed, _SCHEDULE) == listed + " ORDER BY capacity LIMIT 3"
    # Not for one row, a count, another number than the one named, nor a statement already cut.
    for question, sql in [("the biggest section", total), ("the 5 biggest sections", "SELECT COUNT(*) FROM sections"),
                          ("the 5 biggest sections by capacity", "SELECT SUM(s.section_number) FROM sections AS s"),
                          ("the 5 biggest sections", listed + " ORDER BY capacity DESC LIMIT 5")]:
        assert ground_top(question, sql, _SCHEDULE) == sql


def test_rows_lacking_another_row_in_a_role_are_tied_by_the_key_of_the_role_the_question_gives_them():
    none = ("SELECT c.code FROM courses AS c WHERE NOT EXISTS(SELECT 1 FROM prerequisites AS p "
            "WHERE p.course_id = c.id)")
    as_role = none.replace("p.course_id", "p.prerequisite_id")
    assert ground_exists_role("courses that aren't a prerequisite for anything", none, _PREREQUISITES) == as_role
    assert ground_exists_role("Which courses have no prerequisites?", as_role, _PREREQUISITES) == none
    # Already agreeing, or not saying: unchanged.
    assert ground_exists_role("Which courses have no prerequisites?", none, _PREREQUISITES) is none
    assert ground_exists_role("courses nothing points at", none, _PREREQUISITES) is none


def test_rows_sharing_what_a_named_row_points_at_are_its_neighbours_not_the_row():
    asked = ("SELECT d.name FROM instructors AS i JOIN departments AS d ON d.id = i.department_id "
             "WHERE i.first_name = 'Priya' AND i.last_name = 'Natarajan'")
    assert same_as("Which instructors are in the same department as Priya Natarajan?", asked, _DEPARTMENTS) == (
        "SELECT first_name, last_name FROM instructors WHERE department_id IN (SELECT department_id FROM instructors "
        "WHERE first_name = 'Priya' AND last_name = 'Natarajan') AND NOT (first_name = 'Priya' AND last_name = "
        "'Natarajan') ORDER BY last_name, first_name")
    # Written so already, or no 'same ... as': unchanged.
    right = same_as("Which instructors are in the same department as Priya Natarajan?", asked, _DEPARTMENTS)
    assert same_as("Which instructors are in the same department as Priya Natarajan?", right, _DEPARTMENTS) == right
    assert same_as("Which department is Priya Natarajan in?", asked, _DEPARTMENTS) is asked


def test_rows_whose_date_falls_in_a_year_are_kept_by_that_date_shown_and_sorted():
    picked = "SELECT name FROM terms WHERE CAST('2026-02-21' AS DATE) BETWEEN starts_on AND ends_on"
    assert ground_year("Which terms started in 2026?", picked, LINKER) == (
        "SELECT name, starts_on FROM terms WHERE starts_on >= '2026-01-01' AND starts_on < '2027-01-01' "
        "ORDER BY starts_on")
    # Compared with the year already, no date the question names, or no year: unchanged.
    right = ground_year("Which terms started in 2026?", picked, LINKER)
    assert ground_year("Which terms started in 2026?", right, LINKER) is right
    assert ground_year("Which terms are in 2026?", picked, LINKER) is picked
    assert ground_year("Which terms started on 2026-01-12?", picked, LINKER) is picked


def test_a_part_of_the_day_keeps_the_rows_starting_then_and_shows_when_they_meet():
    listed = ("SELECT DISTINCT c.code, c.title FROM courses AS c JOIN sections AS s ON s.course_id = c.id "
              "ORDER BY c.code")
    kept = ground_daytime("evening classes?", listed, _SCHEDULE)
    assert kept == listed.replace(" ORDER BY", " WHERE s.start_time >= '17:00' ORDER BY")
    assert ground_daytime("afternoon sections", listed, _SCHEDULE).endswith(
        "WHERE s.start_time >= '12:00' AND s.start_time < '17:00' ORDER BY c.code")
    assert show_when("evening classes?", kept, _SCHEDULE).startswith(
        "SELECT DISTINCT c.code, c.title, s.meeting_days, s.start_time, s.end_time FROM")
    # Its start compared already, or no part of the day: unchanged.
    later = kept.replace("17:00", "18:00")
    assert ground_daytime("evening classes after 6pm", later, _SCHEDULE) is later
    assert ground_daytime("classes this fall", listed, _SCHEDULE) is listed


def test_an_average_compared_between_values_of_a_column_is_one_row_per_value():
    wrong = "SELECT code, title, credits FROM courses WHERE credits <= (SELECT AVG(credits) FROM courses)"
    named = LINKER.named_values("Average credits for graduate vs undergraduate courses")[0]
    assert named == {"courses.level": ["graduate", "undergraduate"]}
    assert compare_values("Average credits for graduate vs undergraduate courses", wrong, named, LINKER) == (
        "SELECT level, AVG(credits) FROM courses WHERE level IN ('graduate', 'undergraduate') GROUP BY level "
        "ORDER BY level")
    assert compare_values("how many graduate versus undergraduate courses", wrong, named, LINKER).startswith(
        "SELECT level, COUNT(*) FROM courses")
    # Not compared, or nothing to total: unchanged.
    assert compare_values("Average credits for graduate and undergraduate courses", wrong, named, LINKER) is wrong
    assert compare_values("graduate vs undergraduate courses", wrong, named, LINKER) is wrong


def test_a_total_of_a_number_is_its_sum_not_a_count_of_rows():
    counted = "SELECT COUNT(*) FROM sections AS s JOIN courses AS c ON c.id = s.course_id WHERE c.code = 'CS 1010'"
    assert ground_total("total seats available in CS 1010", counted, _SCHEDULE) == counted.replace(
        "COUNT(*)", "SUM(s.capacity)")
    # 'The total number of' rows is a count; no total asked, unchanged.
    assert ground_total("the total number of sections of CS 1010", counted, _SCHEDULE) is counted
    assert ground_total("how many sections does CS 1010 have", counted, _SCHEDULE) is counted
    # Rows kept by a total: summed, grouped and kept by the bound.
    assert _bounded("courses with more than 100 seats in total", _SECTIONED + " WHERE s.capacity > 100") == (
        "SELECT c.code, c.title, SUM(s.capacity) AS seats FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
        "GROUP BY c.code, c.title HAVING SUM(s.capacity) > 100 ORDER BY seats DESC")


_TERMS = build_linker(Schema((Table("terms", (Column("id", "integer"), Column("name", "text"),
                                              Column("starts_on", "date"), Column("ends_on", "date"))),)),
                      {("terms", "name"): ["Fall 2026", "Spring 2026"]})


def test_how_long_a_named_row_lasts_is_the_difference_of_its_dates():
    wrong = "SELECT COUNT(*) FROM sections AS s JOIN terms AS t ON t.id = s.term_id WHERE t.name = 'Fall 2026'"
    question = "how many weeks long is the fall 2026 semester"
    assert how_long(question, wrong, _TERMS.named_values(question)[0], _TERMS) == (
        "SELECT (ends_on - starts_on) / 7 AS weeks FROM terms WHERE name = 'Fall 2026'")
    question = "how long is Spring 2026"
    assert how_long(question, wrong, _TERMS.named_values(question)[0], _TERMS) == (
        "SELECT ends_on - starts_on AS days FROM terms WHERE name = 'Spring 2026'")
    # No row named, or not asked how long: unchanged.
    assert how_long("how many weeks long is a term", wrong, {}, _TERMS) is wrong
    question = "how many sections in fall 2026"
    assert how_long(question, wrong, _TERMS.named_values(question)[0], _TERMS) is wrong


def test_a_role_asked_of_itself_goes_one_step_further_through_the_two_key_table():
    once = ("SELECT DISTINCT c2.code FROM prerequisites AS p JOIN courses AS c ON c.id = p.course_id "
            "JOIN courses AS c2 ON c2.id = p.prerequisite_id WHERE c.title = 'Distributed Systems'")
    twice = ground_hops("What are the prerequisites of the prerequisites of Distributed Systems?", once,
                        _PREREQUISITES)
    assert twice == once.replace("JOIN courses AS c2 ON c2.id = p.prerequisite_id", (
        "JOIN prerequisites AS p2 ON p2.course_id = p.prerequisite_id "
        "JOIN courses AS c2 ON c2.id = p2.prerequisite_id"))
    # Already two steps, or one asked: unchanged.
    assert ground_hops("the prerequisites of the prerequisites of Distributed Systems", twice, _PREREQUISITES) is twice
    assert ground_hops("What are the prerequisites of Distributed Systems?", once, _PREREQUISITES) is once


def test_a_column_its_table_lacks_is_taken_from_the_table_it_points_at_or_left_out_where_only_listed():
    invented = "SELECT s.time, s.room FROM sections AS s WHERE s.title = 'Data Structures' ORDER BY s.time"
    assert _SCHEDULE.repair_columns(invented) == (
        "SELECT s.start_time, s.end_time, s.room FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
        "WHERE c.title = 'Data Structures' ORDER BY s.start_time")
    assert _SCHEDULE.repair_columns("SELECT time FROM sections WHERE title = 'Data Structures'") == (
        "SELECT sections.start_time, sections.end_time FROM sections JOIN courses AS c ON c.id = sections.course_id "
        "WHERE c.title = 'Data Structures'")
    # Those columns listed already: the invented one goes.
    assert _SCHEDULE.repair_columns("SELECT s.time, s.start_time, s.end_time FROM sections AS s") == (
        "SELECT s.start_time, s.end_time FROM sections AS s")
    # A missing column nothing names, one another table has without the value to show it, or a statement that
    # runs: unchanged (the model's other candidates are the better repair).
    for kept in ("SELECT s.room FROM sections AS s WHERE s.colour = 'red'",
                 "SELECT s.room, s.title FROM sections AS s JOIN courses AS c ON c.id = s.course_id"):
        assert _SCHEDULE.repair_columns(kept) is kept
    assert _SCHEDULE.repair_columns(_ROOMS) is _ROOMS


def test_an_alias_used_but_never_defined_is_joined_as_the_one_table_that_fits():
    unjoined = "SELECT DISTINCT c.code FROM courses AS c JOIN instructors AS i ON i.id = s.instructor_id"
    assert _SCHEDULE.repair_columns(unjoined) == (
        "SELECT DISTINCT c.code FROM courses AS c JOIN sections AS s ON s.course_id = c.id JOIN instructors AS i "
        "ON i.id = s.instructor_id")
    # No table has the columns used of it, or one is listed (confusion, not a skipped join): unchanged.
    unknown = "SELECT c.code FROM courses AS c JOIN instructors AS i ON i.id = x.colour"
    assert _SCHEDULE.repair_columns(unknown) is unknown
    listed = "SELECT c.code, MAX(s.capacity) FROM courses AS c JOIN instructors AS i ON i.id = s.instructor_id"
    assert _SCHEDULE.repair_columns(listed) is listed
    # Compared with a value its table stores: that table ('Chen' is an instructor's last name).
    assert _SCHEDULE.repair_columns("SELECT s.room FROM sections AS s WHERE i.last_name = 'Chen'") == (
        "SELECT s.room FROM sections AS s JOIN instructors AS i ON i.id = s.instructor_id WHERE i.last_name = 'Chen'")


_WEIGHED_TABLES = Schema((
    Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text")), ("id",)),
    Table("assessments", (Column("id", "integer"), Column("course_id", "integer"), Column("name", "text"),
                          Column("weight_percent", "integer")),
          foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),)),
))
_WEIGHED = build_linker(_WEIGHED_TABLES, {("assessments", "name"): ["Final Exam", "Midterm"],
                                          ("courses", "title"): ["Data Structures"]})


def test_rows_kept_by_a_number_of_a_named_row_of_theirs_show_it():
    heavy = ("SELECT DISTINCT c.code, c.title FROM courses AS c JOIN assessments AS a ON a.course_id = c.id "
             "WHERE a.name = 'Final Exam' AND a.weight_percent > 30 ORDER BY c.code")
    assert show_child_compared(heavy, _WEIGHED) == heavy.replace("c.title FROM", "c.title, a.weight_percent FROM")
    # No row of theirs named (any assessment over 30), or their own number compared: unchanged.
    unnamed = heavy.replace("a.name = 'Final Exam' AND ", "")
    assert show_child_compared(unnamed, _WEIGHED) is unnamed


def test_a_name_shortened_to_its_last_words_names_the_row_and_how_much_a_row_is_worth_is_its_weight():
    linker = build_linker(_WEIGHED_TABLES, {("assessments", "name"): ["Final Exam", "Midterm"],
                                            ("courses", "title"): ["Introduction to Cloud Computing",
                                                                   "Introduction to Programming"]})
    question = "how much is the final exam worth in cloud computing"
    assert linker.named_values(question)[0] == {"assessments.name": ["Final Exam"],
                                                "courses.title": ["Introduction to Cloud Computing"]}
    # ('to programming' starts with a small word; 'introduction to' ends two names.)
    assert linker.named_values("to programming")[0] == {} and linker.named_values("introduction to")[0] == {}
    counted = "SELECT COUNT(*) FROM assessments WHERE name ILIKE '%Final Exam%' ORDER BY COUNT(*)"
    assert ground_count(question, counted, linker) == (
        "SELECT weight_percent FROM assessments WHERE name ILIKE '%Final Exam%'")
    # A whole stored name searched as a word finds the row named, not several to tell apart by it.
    assert show_searched("SELECT weight_percent FROM assessments WHERE name ILIKE '%Final Exam%'", linker) == (
        "SELECT weight_percent FROM assessments WHERE name ILIKE '%Final Exam%'")


def test_a_count_for_each_value_of_a_column_groups_by_it():
    admitted = build_linker(Schema((Table("students", (Column("id", "integer"), Column("first_name", "text"),
                                                       Column("admit_year", "integer"))),)), {})
    invented = "SELECT COUNT(*) FROM admission WHERE student_id = 1"
    assert count_per_value("Number of students admitted each year", invented, admitted) == (
        "SELECT admit_year, COUNT(*) FROM students GROUP BY admit_year ORDER BY admit_year")
    # Grouped so already, a table per word ('each department'), or no count asked: unchanged.
    right = count_per_value("Number of students admitted each year", invented, admitted)
    assert count_per_value("Number of students admitted each year", right, admitted) is right
    assert count_per_value("how many courses in each department", invented, LINKER) is invented
    assert count_per_value("students admitted each year", invented, admitted) is invented


_ENROLLED_COUNT = ("SELECT COUNT(*) FROM enrollments AS e JOIN sections AS s ON s.id = e.section_id JOIN courses AS c "
                   "ON c.id = s.course_id WHERE c.code = 'CE 4229' AND e.status = 'enrolled'")


def test_rows_with_more_than_a_named_row_are_compared_with_its_number_worked_out_by_the_statement():
    linker = build_linker(Schema(_SCHEDULE_TABLES + _ENROLLED_TABLES), {("courses", "code"): ["CE 4229", "CS 2110"]})
    question = "Which courses have more students enrolled than CE 4229?"
    named = linker.named_values(question)[0]
    assert more_than_named(question, _ENROLLED_COUNT, named, linker) == (
        "SELECT c.code, c.title, COUNT(*) AS students FROM enrollments AS e JOIN sections AS s ON s.id = e.section_id "
        "JOIN courses AS c ON c.id = s.course_id WHERE e.status = 'enrolled' GROUP BY c.id, c.code, c.title "
        f"HAVING COUNT(*) > ({_ENROLLED_COUNT}) ORDER BY students DESC")
    # A stored number of the named row: the rows whose number is smaller.
    question = "courses with fewer credits than CS 2110"
    credits = build_linker(SCHEMA, VALUES)
    assert more_than_named(question, "SELECT credits FROM courses WHERE code = 'CS 2110'",
                           credits.named_values(question)[0], credits) == (
        "SELECT courses.code, courses.title, credits FROM courses WHERE credits < (SELECT credits FROM courses "
        "WHERE code = 'CS 2110') ORDER BY credits")
    # Compared already, no row named after 'than', or the named row only listed: unchanged.
    right = more_than_named("Which courses have more students enrolled than CE 4229?", _ENROLLED_COUNT, named, linker)
    assert more_than_named("Which courses have more students enrolled than CE 4229?", right, named, linker) is right
    assert more_than_named("Are there more students in CE 4229 than 30?", _ENROLLED_COUNT, named, linker) \
        is _ENROLLED_COUNT
    listed = "SELECT c.code FROM courses AS c WHERE c.code = 'CE 4229'"
    assert more_than_named("Which courses have more students than CE 4229?", listed, named, linker) is listed


_ENROLLED_TABLES = (
    Table("students", (Column("id", "integer"), Column("first_name", "text"), Column("last_name", "text"))),
    Table("enrollments", (Column("id", "integer"), Column("section_id", "integer"), Column("student_id", "integer"),
                          Column("status", "text")),
          foreign_keys=(ForeignKey(("section_id",), "sections", ("id",)),
                        ForeignKey(("student_id",), "students", ("id",)))),
)


def test_never_doing_what_a_table_is_named_after_is_having_none_of_its_rows_in_any_state():
    wrote = ("SELECT st.first_name, st.last_name FROM students AS st WHERE NOT EXISTS(SELECT 1 FROM enrollments AS e "
             "WHERE e.student_id = st.id AND e.status = 'enrolled')")
    assert ground_never("Which students have never enrolled in anything?", wrote) == wrote.replace(
        " AND e.status = 'enrolled'", "")
    # Not enrolled now, or never in another state ('dropped' is no enrolling): kept.
    assert ground_never("Which students are not enrolled this semester?", wrote) is wrote
    dropped = wrote.replace("'enrolled'", "'dropped'")
    assert ground_never("Which students never dropped a class?", dropped) is dropped


def test_rows_of_one_table_listed_by_their_names_are_each_listed_even_where_names_repeat():
    linker = build_linker(Schema(_ENROLLED_TABLES), {})
    once = "SELECT DISTINCT first_name, last_name FROM students ORDER BY last_name"
    assert list_each("Which students have never enrolled?", once, linker) == once.replace("DISTINCT ", "")
    # Asked for distinct names, values of a column, or rows through a join: kept.
    assert list_each("distinct student names", once, linker) is once
    values = "SELECT DISTINCT last_name FROM students"
    assert list_each("students' last names", values, linker) is values
    joined = ("SELECT DISTINCT st.first_name, st.last_name FROM students AS st JOIN enrollments AS e "
              "ON e.student_id = st.id")
    assert list_each("students enrolled", joined, linker) is joined


def test_the_most_popular_rows_are_those_most_people_are_paired_with_in_the_state_the_pairs_are_named_after():
    linker = build_linker(Schema(_SCHEDULE_TABLES + _ENROLLED_TABLES),
                          {("enrollments", "status"): ["enrolled", "dropped", "completed"]})
    listed = ("SELECT DISTINCT c.code, c.title FROM courses AS c JOIN sections AS s ON s.course_id = c.id "
              "ORDER BY c.code")
    ranked = ("SELECT c.code, c.title, COUNT(*) AS students FROM courses AS c JOIN sections AS s ON s.course_id = c.id "
              "JOIN enrollments AS e ON s.id = e.section_id {}GROUP BY c.id, c.code, c.title "
              "ORDER BY students DESC LIMIT {}")
    assert ground_popular("top 3 most popular courses this semester", listed, linker) == ranked.format(
        "WHERE e.status = 'enrolled' ", 3)
    # A past period counts every pair; one row where no number is asked.
    assert ground_popular("the most popular course last fall", listed, linker) == ranked.format("", 1)
    # Counted already, or no popularity asked: unchanged.
    right = ground_popular("top 3 most popular courses", listed, linker)
    assert ground_popular("top 3 most popular courses", right, linker) is right
    assert ground_popular("courses this semester", listed, linker) is listed


def test_a_number_asked_of_a_named_row_of_a_table_the_statement_does_not_read_is_joined_from_it():
    question = "how much is the final exam worth in CE 4229"
    counted = "SELECT COUNT(*) FROM courses AS c WHERE c.code = 'CE 4229'"
    named = _WEIGHTS.named_values(question)[0]
    assert ground_count(question, counted, _WEIGHTS, named) == (
        "SELECT a.weight_percent FROM courses AS c JOIN assessments AS a ON c.id = a.course_id "
        "WHERE c.code = 'CE 4229'")
    assert "a.name = 'Final Exam'" in mend(question, counted, _WEIGHTS)
    # No row of that table named: unchanged.
    assert ground_count("how much is CE 4229 worth", counted, _WEIGHTS, {}) is counted


def test_a_value_naming_a_table_too_is_added_where_the_question_ranks_it():
    listed = "SELECT first_name, last_name FROM instructors"
    question = "List the full professors"
    assert LINKER.add_named(listed, LINKER.named_values(question)[0], question) == (
        listed + " WHERE title = 'Professor'")
    question = "List the professors"
    assert LINKER.add_named(listed, LINKER.named_values(question)[0], question) is listed


def test_rows_needing_a_named_row_first_are_those_it_is_a_prerequisite_of():
    assert ground_requires("Which courses require CS 2110?", "SELECT code, title FROM courses WHERE code = 'CS 2110'",
                           _PREREQUISITES) == (
        "SELECT code, title FROM courses WHERE id IN (SELECT course_id FROM prerequisites WHERE prerequisite_id IN "
        "(SELECT id FROM courses WHERE code = 'CS 2110'))")
    # People asked for are listed with the course they go with.
    teaching = ("SELECT DISTINCT i.first_name, i.last_name FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
                "JOIN instructors AS i ON i.id = s.instructor_id WHERE c.code = 'CS 2110'")
    coded = build_linker(Schema(_SCHEDULE_TABLES + _PREREQUISITES_TABLE), {})
    assert ground_requires("Who teaches courses that need CS 2110 first?", teaching, coded) == (
        "SELECT DISTINCT c.code, i.first_name, i.last_name FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
        "JOIN instructors AS i ON i.id = s.instructor_id WHERE c.id IN (SELECT course_id FROM prerequisites WHERE "
        "prerequisite_id IN (SELECT id FROM courses WHERE code = 'CS 2110')) ORDER BY c.code")
    # What a named course needs, a statement reading the prerequisites already, or another value: unchanged.
    before = "SELECT code FROM courses WHERE title = 'Data Structures'"
    assert ground_requires("What do I need to take before Data Structures?", before, _PREREQUISITES) is before
    assert ground_requires("Which courses require Data Structures?", _NAMED_AS_PREREQUISITE, _PREREQUISITES) \
        is _NAMED_AS_PREREQUISITE
    assert ground_requires("Which courses require CE 4229?", before, _PREREQUISITES) is before


def test_rows_above_the_average_of_a_number_are_compared_with_it_over_every_row():
    wrote = ("SELECT i.first_name, s.section_number FROM sections AS s JOIN courses AS c ON c.id = s.course_id "
             "WHERE s.room = 'TUR 105' AND c.name = 'Fall 2026'")
    assert above_average("sections bigger than the average section size", wrote, _SCHEDULE) == (
        "SELECT section_number, capacity FROM sections WHERE room = 'TUR 105' AND capacity > "
        "(SELECT AVG(capacity) FROM sections) ORDER BY capacity DESC")
    assert above_average("sections with fewer seats than the average", wrote, _SCHEDULE).endswith(
        "capacity < (SELECT AVG(capacity) FROM sections) ORDER BY capacity")
    # Compared with an average already, no number of the asked table, or no average: unchanged.
    right = above_average("sections bigger than the average section size", wrote, _SCHEDULE)
    assert above_average("sections bigger than the average section size", right, _SCHEDULE) is right
    assert above_average("sections later than the average", wrote, _SCHEDULE) is wrote
    assert above_average("sections bigger than 40 seats", wrote, _SCHEDULE) is wrote


def test_every_row_of_a_table_asked_for_with_nothing_else_said_is_listed_by_name_periods_by_their_dates():
    from pipeline.periods import PeriodTable
    terms = Table("terms", (Column("id", "integer"), Column("name", "text"), Column("starts_on", "date"),
                            Column("ends_on", "date")))
    linker = build_linker(Schema((terms, *_DEPARTMENTS_TABLES)), {("departments", "code"): ["CS"]},
                          (PeriodTable("terms", "name", frozenset({"term"}), (), start="starts_on",
                                                      end="ends_on"),))
    wrote = "SELECT c.code FROM courses AS c WHERE c.title ILIKE '%systems%'"
    assert list_all("What terms are in the system?", wrote, linker) == (
        "SELECT name, starts_on, ends_on FROM terms ORDER BY starts_on")
    assert list_all("which departments are there?", wrote, linker) == "SELECT code, name FROM departments ORDER BY code"
    # The table read alone already, or more said: unchanged.
    every = "SELECT name FROM terms"
    assert list_all("What terms are in the system?", every, linker) is every
    assert list_all("What terms are in the system for CS?", wrote, linker) is wrote


def test_a_value_two_keys_away_is_joined_through_the_table_between_that_is_no_persons():
    sections = Table("sections", (Column("id", "integer"), Column("course_id", "integer"),
                                  Column("instructor_id", "integer"), Column("section_number", "text"),
                                  Column("room", "text")),
                     foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)),
                                   ForeignKey(("instructor_id",), "instructors", ("id",))))
    linker = build_linker(Schema(_DEPARTMENTS_TABLES + (sections,)), {("departments", "code"): ["CS", "CE"]})
    question = "Which rooms does the CS department use?"
    rooms = "SELECT s.room FROM sections AS s ORDER BY s.section_number"
    joined = linker.add_named(rooms, linker.named_values(question)[0], question)
    assert joined == ("SELECT s.room FROM sections AS s JOIN courses AS c ON c.id = s.course_id JOIN departments AS d "
                      "ON d.id = c.department_id WHERE d.code = 'CS' ORDER BY s.section_number")
    # Each room once, in its order; not a column the noun does not name, nor a singular noun.
    assert list_kinds(question, joined, linker) == joined.replace("SELECT s.room", "SELECT DISTINCT s.room").replace(
        "s.section_number", "s.room")
    assert list_kinds("Which sections does CS use?", joined, linker) is joined
    assert list_kinds("What room does CS use?", joined, linker) is joined


@pytest.mark.parametrize("question, sql, expected", [
    # A title copied from an example: the question names no course.
    ("How many courses are there?", "SELECT count(*) FROM courses AS c WHERE c.title = 'Data Structures'",
     "SELECT COUNT(*) FROM courses AS c"),
    ("How many courses are there?", "SELECT count(*) FROM courses WHERE code IN ('CS 1010', 'CS 2110')",
     "SELECT COUNT(*) FROM courses"),
    ("List the courses worth 4 credits",
     "SELECT code FROM courses WHERE title ILIKE '%intro%' AND credits = 4", "SELECT code FROM courses WHERE credits = 4"),
    # Said, or said another way, it stays.
    ("Which courses are called Data Structures?", "SELECT code FROM courses WHERE title = 'Data Structures'", None),
    ("Which courses does the CS department offer?", _OFFERED, None),
    ("Who teaches the structures course?", "SELECT code FROM courses WHERE code = 'CS 2110'", None),
    # Not a name: a column that does not name its rows is left to other rules.
    ("How many courses are there?", "SELECT count(*) FROM courses WHERE credits = 4", None),
])
def test_a_name_the_question_never_says_is_dropped(question, sql, expected):
    named, _ = _CREDITS.named_values(question)
    assert _CREDITS.drop_unnamed(sql, question, named) == (expected or sql)


def test_a_column_ending_in_name_names_its_rows():
    linker = build_linker(Schema((Table("author", (Column("authorid", "integer"), Column("authorname", "text"))),)),
                          {("author", "authorname"): ["John Smith", "Ada Byron"]})
    assert linker.names["author"] == ("authorname",)
    sql = "SELECT authorname FROM author WHERE authorname = 'John Smith'"
    assert linker.drop_unnamed(sql, "which authors are there", {}) == "SELECT authorname FROM author"


_PLACES = build_linker(Schema((
    Table("restaurant", (Column("id", "integer"), Column("name", "text"), Column("food_type", "text"),
                         Column("rating", "numeric"))),
    Table("review", (Column("id", "integer"), Column("restaurant_id", "integer"), Column("text", "text"),
                     Column("rating", "integer")),
          foreign_keys=(ForeignKey(("restaurant_id",), "restaurant", ("id",)),)),
    Table("neighbourhood", (Column("id", "integer"), Column("restaurant_id", "integer"),
                            Column("neighbourhood_name", "text")),
          foreign_keys=(ForeignKey(("restaurant_id",), "restaurant", ("id",)),)),
)), {("restaurant", "name"): ["Pizza Place", "Sushi Bar"], ("restaurant", "food_type"): ["American", "Japanese"],
     ("review", "text"): ["Average", "Superb."], ("neighbourhood", "neighbourhood_name"): ["Downtown", "Old Town"]})


def test_right_statements_of_another_schema_stay_as_written():
    # 'average' asks for an average, though a review reads 'Average'
    assert _PLACES.named_values("what's the average review rating?")[0] == {}
    sql = "SELECT AVG(r.rating) FROM review AS r"
    assert mend("what's the average review rating?", sql, _PLACES) == "SELECT AVG(r.rating) FROM review AS r"
    # the 'place' an 'american place' is: the restaurant asked for, searched in no name
    sql = "SELECT name FROM restaurant WHERE food_type = 'American' ORDER BY rating ASC LIMIT 1"
    assert _PLACES.add_searched(sql, "lowest rated american place?") == sql
    # names of a table nothing points at repeat per row of another: listed once
    sql = "SELECT DISTINCT neighbourhood_name FROM neighbourhood"
    assert list_each("list all the neighbourhoods", sql, _PLACES) == sql


def test_one_aggregate_row_needs_no_order():
    sql = "SELECT AVG(r.rating) FROM review AS r WHERE r.year = 2022 ORDER BY r.rating"
    assert order_one_row(sql) == "SELECT AVG(r.rating) FROM review AS r WHERE r.year = 2022"
    kept = ["SELECT AVG(rating) AS a FROM review ORDER BY a", "SELECT city, AVG(rating) FROM review GROUP BY city "
            "ORDER BY city", "SELECT rating FROM review ORDER BY rating"]
    assert [order_one_row(s) for s in kept] == kept


@pytest.mark.parametrize("question, sql, expected", [
    ("top 3 longest rivers?", "SELECT name FROM river ORDER BY length LIMIT 3",
     "SELECT name FROM river ORDER BY length DESC NULLS LAST LIMIT 3"),
    ("the 2 cheapest rivers", "SELECT name FROM river ORDER BY length DESC LIMIT 2",
     "SELECT name FROM river ORDER BY length ASC LIMIT 2"),
    ("which river has the most tributaries", "SELECT name FROM river ORDER BY COUNT(*) LIMIT 1",
     "SELECT name FROM river ORDER BY COUNT(*) DESC NULLS LAST LIMIT 1"),
    # asked as it is sorted, both ways at once, a bound, a text, or no cut: left alone
    ("top 3 longest rivers?", "SELECT name FROM river ORDER BY length DESC LIMIT 3", None),
    ("the longest of the shortest rivers", "SELECT name FROM river ORDER BY length LIMIT 3", None),
    ("5 rivers at least 100 long", "SELECT name FROM river WHERE length >= 100 ORDER BY length LIMIT 5", None),
    ("the longest river name", "SELECT name FROM river ORDER BY name LIMIT 1", None),
    ("just the top 3", "SELECT name FROM river ORDER BY length LIMIT 3", None),
    ("rivers by length, longest first", "SELECT name FROM river ORDER BY length", None),
])
def test_a_cut_list_is_sorted_the_way_the_question_ranks(question, sql, expected):
    linker = build_linker(Schema((Table("river", (Column("id", "integer"), Column("name", "text"),
                                                  Column("length", "integer"))),)), {("river", "name"): ["Nile"]})
    assert order_asked(question, sql, linker) == (expected or sql)
