"""Variants of a correction with other values (finetune/variants.py) and how training weighs them."""
from __future__ import annotations

import json

import sqlglot

from finetune.dataset import Pair, limit_pairs, merge_pairs, read_pairs
from finetune.variants import VariantMaker
from pipeline.slots import named_slots
from pipeline.database import open_pool

TOPICS = ("SELECT ct.week, ct.topic FROM course_topics ct JOIN courses c ON c.id = ct.course_id "
          "WHERE c.code = 'CE 4229' AND ct.topic ILIKE '%kubernetes%' ORDER BY ct.week")


def test_only_values_the_question_names_are_slots():
    tree = sqlglot.parse_one("SELECT count(*) FROM enrollments e JOIN sections s ON s.id = e.section_id "
                             "JOIN courses c ON c.id = s.course_id JOIN terms t ON t.id = s.term_id "
                             "WHERE c.code = 'CE 4229' AND t.name = 'Fall 2026' AND e.status = 'enrolled'",
                             read="postgres")
    slots = named_slots("How many students are enrolled in ce 4229 this semester?", tree)
    # 'Fall 2026' is what "this semester" means: part of the form, not a value to swap.
    assert [(s.table, s.column, s.literal.this) for s in slots] == [("enrollments", "status", "enrolled"),
                                                                    ("courses", "code", "CE 4229")]
    assert [s.literal.this for s in named_slots("which week covers Kubernetes in CE 4229",
                                                sqlglot.parse_one(TOPICS, read="postgres"))] == ["%kubernetes%", "CE 4229"]


async def test_variants_swap_values_in_question_and_statement_and_return_rows(query_db_url):
    async with open_pool(query_db_url) as pool:
        maker = VariantMaker(pool, seed=3)
        question = "Who teaches CE 4229 this semester?"
        sql = ("SELECT DISTINCT i.first_name, i.last_name FROM sections s JOIN courses c ON c.id = s.course_id "
               "JOIN terms t ON t.id = s.term_id JOIN instructors i ON i.id = s.instructor_id "
               "WHERE c.code = 'CE 4229' AND t.name = 'Fall 2026'")
        taken: set[str] = set()
        out = await maker.variants(question, sql, 4, taken=taken)
        codes = {r["code"] for r in await pool.fetch("SELECT code FROM courses")}
        assert len(out) == 4 and len({q for q, _ in out}) == 4
        for q, s in out:
            code = q.removeprefix("Who teaches ").removesuffix(" this semester?")
            assert code in codes - {"CE 4229"} and f"c.code = '{code}'" in s and "t.name = 'Fall 2026'" in s
            assert await pool.fetch(s)  # kept only with rows
        assert {q.lower() for q, _ in out} | {question.lower()} == taken
        assert await maker.variants(question, sql, 4, taken=taken) != out  # never the same question twice

        # A name the statement compares twice gets one new value, in both places.
        twice = ("SELECT first_name, last_name FROM instructors WHERE department_id = (SELECT department_id FROM "
                 "instructors WHERE last_name = 'Natarajan') AND last_name <> 'Natarajan'")
        for q, s in await maker.variants("Who shares a department with Natarajan?", twice, 2):
            name = q.removeprefix("Who shares a department with ").removesuffix("?")
            assert s.count(f"'{name}'") == 2

        # Values of one row are drawn together: another instructor's first *and* last name.
        people = {tuple(r) for r in await pool.fetch("SELECT first_name, last_name FROM instructors")}
        by_name = ("SELECT c.code FROM sections s JOIN courses c ON c.id = s.course_id JOIN instructors i "
                   "ON i.id = s.instructor_id WHERE i.first_name = 'Maria' AND i.last_name = 'Gonzalez'")
        out = await maker.variants("What does Maria Gonzalez teach?", by_name, 3)
        assert len(out) == 3
        for q, s in out:
            first, last = q.removeprefix("What does ").removesuffix(" teach?").split(" ", 1)
            assert (first, last) in people - {("Maria", "Gonzalez")} and f"'{first}'" in s and f"'{last}'" in s

        # A number that bounds a count or a LIMIT becomes a nearby one; a number in a select list stays.
        having = ("SELECT d.name FROM departments d JOIN courses c ON c.department_id = d.id GROUP BY d.name "
                  "HAVING count(*) > 8 ORDER BY count(*) DESC LIMIT 2")
        out = await maker.variants("Which 2 departments have the most courses, if more than 8?", having, 3)
        assert out
        for q, s in out:
            top, more = q.split()[1], q.removesuffix("?").split()[-1]
            assert (top, more) != ("2", "8") and f"> {more}" in s and f"LIMIT {top}" in s
        assert [s.value for s in named_slots("week 1", sqlglot.parse_one(
            "SELECT EXISTS (SELECT 1 FROM course_topics ct WHERE ct.week = 1)", read="postgres"))] == ["1"]

        # Nothing named, overlapping names, no statement: no variants rather than wrong ones.
        assert await maker.variants("How many students are there?", "SELECT count(*) FROM students", 3) == []
        assert await maker.variants("sections of CS 1010", "SELECT 1 FROM courses c JOIN departments d ON "
                                    "d.id = c.department_id WHERE d.code = 'CS' AND c.code = 'CS 1010'", 3) == []
        assert await maker.variants("bad", "SELEC nonsense (", 3) == []


def test_training_counts_a_correction_several_times_and_its_variants_once(tmp_path):
    path = tmp_path / "corrections.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"question": "credits of CS 2110?", "sql": "SELECT credits FROM courses WHERE code = 'CS 2110'",
         "source": "correction"},
        {"question": "credits of EE 2010?", "sql": "SELECT credits FROM courses WHERE code = 'EE 2010'",
         "source": "correction-variant"}]) + "\n")
    corrections = read_pairs(path, source="corrections")
    assert [p.source for p in corrections] == ["corrections", "variants"]
    samples = [Pair(f"q{i}", "SELECT 1") for i in range(20)] + [Pair("credits of EE 2010?", "SELECT 2")]
    pairs = merge_pairs(samples, corrections, repeat=3)
    assert [p.source for p in pairs].count("corrections") == 3 and [p.source for p in pairs].count("variants") == 1
    assert not any(p.sql == "SELECT 2" for p in pairs)  # the verified variant replaces a sample of that question
    kept = limit_pairs(pairs, 6, seed=1)
    assert len(kept) == 6 and sum(p.source != "samples" for p in kept) == 4  # feedback always kept
