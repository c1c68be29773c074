"""COMMENT ON TABLE/COLUMN text: read by the introspection, shown by `askdb db info`, in the prompt's schema only when
asked (briefly, within the budget), and in the generator's rephrasing prompt."""
from __future__ import annotations

import datetime as dt

import pytest

from finetune.generator.paraphrase import rephrase_prompt
from pipeline.database import open_pool
from pipeline.prompt import brief, build_sql_prompt, estimate_tokens
from pipeline.schema import introspect_schema, render_schema

from .conftest import create_database, drop_database

TODAY = dt.date(2026, 3, 1)
LIBRARY = """
CREATE TABLE books (id serial PRIMARY KEY, isbn text, shelf_mark text, pages int);
COMMENT ON TABLE books IS 'Every book the library owns. One row per copy.';
COMMENT ON COLUMN books.shelf_mark IS 'Where the copy stands: hall letter and shelf number, e.g. ''B-12''.';
COMMENT ON COLUMN books.pages IS 'Number of printed pages.';
COMMENT ON COLUMN books.id IS 'Primary key of the book.';
CREATE TABLE loans (id serial PRIMARY KEY, book_id int REFERENCES books (id), due_on date);
COMMENT ON COLUMN loans.book_id IS 'The copy lent; references books.id.';
INSERT INTO books (isbn, shelf_mark, pages) VALUES ('978-0', 'B-12', 320);
"""


@pytest.fixture(scope="module")
def library(pg_admin_url, test_run_id):
    import asyncio

    name = f"askdb_comments_{test_run_id}"

    async def read():
        url = await create_database(pg_admin_url, name, LIBRARY)
        try:
            async with open_pool(url) as pool:
                return await introspect_schema(pool)
        finally:
            await drop_database(pg_admin_url, name)
    return asyncio.run(read())


def test_introspection_reads_table_and_column_comments(library):
    books = library.table("books")
    assert books.comment == "Every book the library owns. One row per copy."
    assert books.column("shelf_mark").comment.startswith("Where the copy stands")
    assert library.table("loans").column("due_on").comment is None


def test_db_info_shows_them(library):
    text = render_schema(library)
    assert "TABLE books -- Every book the library owns." in text
    assert "pages int -- Number of printed pages." in text


def test_the_prompt_shows_their_first_clause_only_when_asked(library):
    plain = build_sql_prompt("how many pages has the copy on shelf B-12", library, today=TODAY)[1].content
    noted = build_sql_prompt("how many pages has the copy on shelf B-12", library, today=TODAY, comments=True)[1].content
    assert "Where the copy stands" not in plain and "Every book" not in plain
    assert "shelf_mark e.g. B-12 [Where the copy stands]" in noted
    assert "pages [Number of printed pages]" in noted and "-- Every book the library owns" in noted
    assert "Primary key" not in noted and "references books.id" not in noted  # keys: the arrow already says it


def test_comments_stay_within_the_token_budget(query_db_url):
    import asyncio

    async def read():
        async with open_pool(query_db_url) as pool:
            return await introspect_schema(pool)
    schema = asyncio.run(read())  # the course database: every table and column has a COMMENT
    for budget in (150, 300, 700):
        noted = build_sql_prompt("Who teaches CE 4229 this semester?", schema, today=TODAY, budget_tokens=budget,
                                 comments=True)[1].content
        lines = noted.split("Today:")[0].removeprefix("Tables:\n").strip().splitlines()
        assert any("[" in line for line in lines)
        assert len(lines) == 1 or sum(estimate_tokens(line) + 1 for line in lines) <= budget  # one table always shows


def test_brief_cuts_at_the_first_clause():
    assert brief("Catalog code: department code, a space and a 4-digit number, e.g. 'CE 4229'.") == "Catalog code"
    assert brief("Academic departments (e.g. CE Computer Engineering).") == "Academic departments"
    assert brief("Number of credit hours (3 or 4).") == "Number of credit hours (3 or 4)"
    assert len(brief("x" * 100)) == 40


def test_the_generators_rephrasing_prompt_has_the_column_descriptions(library):
    messages = rephrase_prompt("What is the pages of the book with shelf mark B-12?",
                               "SELECT pages FROM books WHERE shelf_mark = 'B-12'", library, ["books"], "320")
    assert "[Number of printed pages]" in messages[-1].content and "[Where the copy stands]" in messages[-1].content
