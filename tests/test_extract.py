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
