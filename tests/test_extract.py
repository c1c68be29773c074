"""Extraction of one statement from messy model output."""
import pytest

from pipeline.extract import extract_sql

CASES = [
    ("SELECT 1", "SELECT 1"),
    ("```sql\nSELECT title FROM courses;\n```", "SELECT title FROM courses"),
    ("Here is the query with a join:\n```\nSELECT a FROM t JOIN u ON t.id = u.t_id\n```\nThis returns a.",
     "SELECT a FROM t JOIN u ON t.id = u.t_id"),
    ("SQL: SELECT code FROM courses WHERE credits = 4;\nThis query lists the courses.",
     "SELECT code FROM courses WHERE credits = 4"),
    ("SELECT 1; DROP TABLE courses;", "SELECT 1"),
    ("SELECT ';' AS semi FROM t; DELETE FROM t", "SELECT ';' AS semi FROM t"),
    ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"),
    ("select\n  title\nfrom\n  courses\n\n\nThe above query selects titles.", "select title from courses"),
    ("SELECT a -- the a column\nFROM t", "SELECT a FROM t"),
    ("I cannot help with that.", ""),
    ("DELETE FROM students", "DELETE FROM students"),
    ("```sql\n```", ""),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_extract_sql(text, expected):
    assert extract_sql(text) == expected


RUN_ON = [  # (what the model wrote, the statement it finished); from two schemas
    ("SELECT a.code, SUM(f.cost) AS total FROM airline AS a JOIN fare AS f ON f.airline = a.code GROUP BY a.code "
     "ORDER BY total DESC LIMIT 1 FROM airline AS a JOIN",
     "SELECT a.code, SUM(f.cost) AS total FROM airline AS a JOIN fare AS f ON f.airline = a.code GROUP BY a.code "
     "ORDER BY total DESC LIMIT 1"),
    ("SELECT DISTINCT c.code FROM courses AS c WHERE c.level = 'graduate' ORDER BY c.code WHERE c.level = "
     "'graduate' ORDER BY c.code The answer is: CS 5100",
     "SELECT DISTINCT c.code FROM courses AS c WHERE c.level = 'graduate' ORDER BY c.code"),
    ("SELECT name FROM students WHERE admit_year = 2024 ORDER BY name ORDER BY name LIMIT",
     "SELECT name FROM students WHERE admit_year = 2024 ORDER BY name"),
]


@pytest.mark.parametrize("wrote,finished", RUN_ON)
def test_a_statement_the_model_ran_on_past_is_cut_where_it_was_complete(wrote, finished):
    assert extract_sql(wrote) == finished


def test_a_statement_that_parses_or_has_no_complete_prefix_is_left_alone():
    ok = "SELECT code FROM courses WHERE credits > 3 ORDER BY code"
    assert extract_sql(ok) == ok
    nested = "SELECT a FROM t WHERE x IN (SELECT y FROM u WHERE z = 1) ORDER BY a"
    assert extract_sql(nested) == nested  # a subquery's FROM and WHERE are its own, not a second clause
    # Nothing finished to keep, or a clause left unfinished: the guard refuses it and candidates are tried.
    for broken in ("SELECT FLOOR(FLOOR(FLOOR(x", "SELECT code FROM courses WHERE (",
                   "SELECT name FROM students WHERE admit_year = 2024 Name: Ana"):
        assert extract_sql(broken) == broken
