"""The bundled course database: deterministic loading, the data contract, and the dev set's gold SQL."""
from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from pathlib import Path

import asyncpg
import pytest

from askdb.coursedb.seed import COURSE_TABLES, load_course_database

LOCAL_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EVAL_DIR = Path(__file__).resolve().parents[1] / "finetune" / "eval"
DEV_SET = EVAL_DIR / "course_dev.jsonl"
# The dev set, the check set and the holdout set: each hand-written question's gold statement must be right here.
# The question/SQL sets (course_scope*.jsonl and course_followups.jsonl have formats of their own).
EVAL_SETS = sorted(p for p in EVAL_DIR.glob("course_*.jsonl") if p.stem in ("course_check", "course_dev")
                   or p.stem.startswith("course_holdout"))
CLOUD_QUESTION = "What are the major topics in Introduction to Cloud Computing (CE 4229)?"


def _admin_url() -> str:
    return os.environ.get("ASKDB_TEST_DATABASE_URL") or LOCAL_ADMIN_URL


def _with_database(url: str, name: str) -> str:
    base, _, last = url.rpartition("/")
    query = "?" + last.split("?", 1)[1] if "?" in last else ""
    return f"{base}/{name}{query}"


async def _checksums(conn: asyncpg.Connection) -> dict[str, str]:
    out = {}
    for table in COURSE_TABLES:
        out[table] = await conn.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM public.{table} t"
        )
    return out


@pytest.fixture(scope="module")
def course_db():
    """A scratch database loaded twice; yields (url, counts, checksums of first load, checksums of second)."""
    admin_url = _admin_url()
    name = f"askdb_coursedb_test_{uuid.uuid4().hex[:8]}"

    async def probe():
        conn = await asyncpg.connect(admin_url, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL server at {admin_url}: {exc}")

    async def setup():
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await asyncpg.connect(_with_database(admin_url, name))
        try:
            counts1 = await load_course_database(conn)
            first = await _checksums(conn)
            counts2 = await load_course_database(conn)  # idempotent: drops and recreates
            second = await _checksums(conn)
        finally:
            await conn.close()
        assert counts1 == counts2
        return counts1, first, second

    async def teardown():
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    try:
        counts, first, second = asyncio.run(setup())
        yield _with_database(admin_url, name), counts, first, second
    finally:
        asyncio.run(teardown())


def _fetch(url: str, sql: str, *args):
    async def go():
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()
    return asyncio.run(go())


def _val(url: str, sql: str, *args):
    return _fetch(url, sql, *args)[0][0]


def test_load_is_deterministic_and_idempotent(course_db):
    url, counts, first, second = course_db
    assert first == second
    assert set(counts) == set(COURSE_TABLES) and len(COURSE_TABLES) == 10
    for table, n in counts.items():
        assert _val(url, f"SELECT count(*) FROM {table}") == n


def test_second_database_gets_identical_rows(course_db):
    url, _counts, first, _second = course_db
    admin_url = _admin_url()
    name = f"askdb_coursedb_test_{uuid.uuid4().hex[:8]}"

    async def go():
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        try:
            conn = await asyncpg.connect(_with_database(admin_url, name))
            try:
                await load_course_database(conn)
                same = await _checksums(conn)
                await load_course_database(conn, seed=1)
                other = await _checksums(conn)
            finally:
                await conn.close()
        finally:
            admin = await asyncpg.connect(admin_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        return same, other

    same, other = asyncio.run(go())
    assert same == first
    assert other["enrollments"] != first["enrollments"]


def test_serial_sequences_continue_after_seed_ids(course_db):
    url, counts, *_ = course_db
    for table in ("departments", "courses", "sections", "students", "assessments"):
        nxt = _val(url, f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
        assert nxt == counts[table] + 1


def test_row_count_thresholds(course_db):
    _url, counts, *_ = course_db
    assert counts["departments"] >= 5
    assert counts["instructors"] == 25
    assert counts["courses"] == 45
    assert counts["terms"] == 3
    assert counts["sections"] >= 100
    assert counts["students"] >= 400
    assert counts["enrollments"] >= 3000


def test_every_table_and_column_has_a_comment(course_db):
    url, *_ = course_db
    missing = _fetch(url, """
        SELECT c.relname, a.attname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])
          AND coalesce(col_description(c.oid, a.attnum), '') = ''
    """, list(COURSE_TABLES))
    assert not missing
    for table in COURSE_TABLES:
        assert _val(url, "SELECT obj_description($1::regclass, 'pg_class')", f"public.{table}")


def test_departments_and_named_courses(course_db):
    url, *_ = course_db
    depts = {r["code"]: r for r in _fetch(url, "SELECT code, name, building FROM departments")}
    assert {"CE", "CS", "EE", "MATH", "PHYS"} <= set(depts)
    assert depts["CE"]["name"] == "Computer Engineering" and all(d["building"] for d in depts.values())
    titles = dict(_fetch(url, "SELECT code, title FROM courses"))
    assert titles["CE 4229"] == "Introduction to Cloud Computing"
    assert titles["CE 3310"] == "Computer Networks"
    assert titles["CS 1010"] == "Introduction to Programming"
    assert titles["CS 2110"] == "Data Structures"
    assert titles["MATH 2210"] == "Linear Algebra"
    assert titles["EE 2010"] == "Circuit Analysis"
    assert _val(url, "SELECT credits FROM courses WHERE code = 'CE 4229'") == 3
    assert {r[0] for r in _fetch(url, "SELECT DISTINCT level FROM courses")} == {"undergraduate", "graduate"}
    codes = list(titles)
    assert all(re.fullmatch(r"[A-Z]+ \d{4}", c) for c in codes)


def test_cloud_computing_contract(course_db):
    url, *_ = course_db
    topics = _fetch(url, """SELECT ct.week, ct.topic FROM course_topics ct JOIN courses c ON c.id = ct.course_id
                            WHERE c.code = 'CE 4229' ORDER BY ct.week""")
    assert len(topics) >= 8
    text = " ".join(r["topic"].lower() for r in topics)
    for word in ("virtualization", "container", "serverless"):
        assert word in text
    prereqs = [r[0] for r in _fetch(url, """
        SELECT p.code FROM prerequisites pr JOIN courses c ON c.id = pr.course_id
        JOIN courses p ON p.id = pr.prerequisite_id WHERE c.code = 'CE 4229'""")]
    assert len(prereqs) >= 2 and "CE 3310" in prereqs
    assert _val(url, """SELECT count(*) FROM assessments a JOIN courses c ON c.id = a.course_id
                        WHERE c.code = 'CE 4229' AND a.name = 'Final Exam'""") == 1


def test_topics_are_4_to_12_contiguous_weeks(course_db):
    url, *_ = course_db
    rows = _fetch(url, """SELECT c.code, count(ct.id) AS n, min(ct.week) AS lo, max(ct.week) AS hi,
                                 count(DISTINCT ct.week) AS distinct_weeks
                          FROM courses c LEFT JOIN course_topics ct ON ct.course_id = c.id GROUP BY c.code""")
    assert len(rows) == 45
    for r in rows:
        assert 4 <= r["n"] <= 12, r
        assert r["lo"] == 1 and r["hi"] == r["n"] and r["distinct_weeks"] == r["n"], r


def test_assessment_weights_sum_to_100(course_db):
    url, *_ = course_db
    rows = _fetch(url, """SELECT c.code, sum(a.weight_percent) AS total FROM courses c
                          LEFT JOIN assessments a ON a.course_id = c.id GROUP BY c.code""")
    assert len(rows) == 45
    assert all(r["total"] == 100 for r in rows), [r for r in rows if r["total"] != 100]


def test_prerequisites_are_acyclic_and_lower_numbered(course_db):
    url, *_ = course_db
    rows = _fetch(url, """SELECT c.code AS course, p.code AS pre FROM prerequisites pr
                          JOIN courses c ON c.id = pr.course_id JOIN courses p ON p.id = pr.prerequisite_id""")
    assert rows
    for r in rows:
        assert int(r["pre"].split()[1]) < int(r["course"].split()[1]), dict(r)
    assert _val(url, """WITH RECURSIVE reach(course_id, pre_id) AS (
                            SELECT course_id, prerequisite_id FROM prerequisites
                            UNION SELECT r.course_id, p.prerequisite_id FROM reach r
                            JOIN prerequisites p ON p.course_id = r.pre_id)
                        SELECT count(*) FROM reach WHERE course_id = pre_id""") == 0


def test_instructors(course_db):
    url, *_ = course_db
    titles = {r[0] for r in _fetch(url, "SELECT DISTINCT title FROM instructors")}
    assert titles == {"Professor", "Associate Professor", "Assistant Professor", "Lecturer"}
    assert _val(url, "SELECT count(DISTINCT last_name) FROM instructors") >= 20
    multi_term = _val(url, """SELECT count(*) FROM (SELECT instructor_id FROM sections GROUP BY instructor_id
                                                    HAVING count(DISTINCT term_id) >= 2) x""")
    assert multi_term > 25 / 2


def test_terms_and_offerings(course_db):
    url, *_ = course_db
    terms = {r["name"]: r for r in _fetch(url, "SELECT name, starts_on, ends_on FROM terms")}
    assert set(terms) == {"Fall 2025", "Spring 2026", "Fall 2026"}
    assert all(t["starts_on"] < t["ends_on"] for t in terms.values())
    assert str(terms["Fall 2026"]["starts_on"]).startswith("2026-08")
    for code in ("CE 4229", "CS 2110"):
        assert _val(url, """SELECT count(DISTINCT s.term_id) FROM sections s JOIN courses c ON c.id = s.course_id
                            WHERE c.code = $1""", code) == 3
    fall25_only = _fetch(url, """
        SELECT c.code FROM courses c
        WHERE c.id IN (SELECT course_id FROM sections s JOIN terms t ON t.id = s.term_id WHERE t.name = 'Fall 2025')
          AND c.id NOT IN (SELECT course_id FROM sections s JOIN terms t ON t.id = s.term_id
                           WHERE t.name = 'Fall 2026')""")
    assert fall25_only
    assert _val(url, "SELECT count(*) FROM sections WHERE meeting_days !~ '^[MTWRF]+$' OR start_time >= end_time") == 0


def test_students(course_db):
    url, *_ = course_db
    assert _val(url, "SELECT count(DISTINCT email) = count(*) FROM students")
    assert _val(url, "SELECT count(DISTINCT first_name) FROM students") >= 50
    assert _val(url, "SELECT count(DISTINCT last_name) FROM students") >= 50
    assert _val(url, "SELECT count(*) FROM students WHERE major_department_id IS NULL OR admit_year IS NULL") == 0


def test_enrollment_statuses_and_grades(course_db):
    url, *_ = course_db
    assert _val(url, "SELECT count(*) FROM enrollments WHERE (status = 'completed') <> (grade IS NOT NULL)") == 0
    grades = {r[0] for r in _fetch(url, "SELECT DISTINCT grade FROM enrollments WHERE grade IS NOT NULL")}
    assert grades <= {"A", "A-", "B+", "B", "B-", "C+", "C", "D", "F"} and len(grades) >= 7
    by_term = {(r["name"], r["status"]) for r in _fetch(url, """
        SELECT DISTINCT t.name, e.status FROM enrollments e JOIN sections s ON s.id = e.section_id
        JOIN terms t ON t.id = s.term_id""")}
    assert {s for t, s in by_term if t == "Fall 2026"} == {"enrolled", "dropped"}
    for past in ("Fall 2025", "Spring 2026"):
        assert {s for t, s in by_term if t == past} == {"completed", "dropped"}
    over = _val(url, """SELECT count(*) FROM (SELECT s.id FROM sections s JOIN enrollments e ON e.section_id = s.id
                        GROUP BY s.id, s.capacity HAVING count(*) > s.capacity) x""")
    assert over == 0


def _dev_rows(path: Path = DEV_SET) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_the_evaluation_sets_are_distinct():
    assert [p.name for p in EVAL_SETS] == ["course_check.jsonl", "course_dev.jsonl", "course_holdout.jsonl",
                                         "course_holdout2.jsonl", "course_holdout3.jsonl",
                                         "course_holdout4.jsonl", "course_holdout5.jsonl"]
    questions = [r["question"].lower() for p in EVAL_SETS for r in _dev_rows(p)]
    assert len(set(questions)) == len(questions)


@pytest.mark.parametrize("path", EVAL_SETS, ids=lambda p: p.name)
def test_eval_set_format(path):
    rows = _dev_rows(path)
    assert len(rows) >= 30
    questions = [r["question"] for r in rows]
    assert len(set(questions)) == len(questions)
    for r in rows:
        assert set(r) == {"question", "sql", "shape", "difficulty"}, r
        assert r["difficulty"] in {"easy", "medium", "hard"}
        assert re.fullmatch(r"[a-z_]+", r["shape"])
        sql = r["sql"].strip()
        assert sql.upper().startswith(("SELECT", "WITH")) and ";" not in sql
        low = sql.lower()
        assert "grade" not in low, r  # enrollments.grade may be a denied column
        assert not ("email" in low and "students" in low), r  # so may students.email


def test_dev_set_holds_the_flagship_question():
    rows = _dev_rows()
    assert len(rows) >= 65
    cloud = next(r for r in rows if r["question"] == CLOUD_QUESTION)
    assert "CE 4229" in cloud["sql"] and "course_topics" in cloud["sql"] and "ORDER BY" in cloud["sql"].upper()


@pytest.mark.parametrize("path", EVAL_SETS, ids=lambda p: p.name)
def test_eval_set_gold_sql_runs_and_returns_rows(course_db, path):
    url, *_ = course_db
    rows = _dev_rows(path)

    async def go():
        conn = await asyncpg.connect(url)
        failures = []
        try:
            for r in rows:
                try:
                    async with conn.transaction(readonly=True):
                        result = await conn.fetch(r["sql"])
                except asyncpg.PostgresError as exc:
                    failures.append((r["question"], repr(exc)))
                    continue
                if not result:
                    failures.append((r["question"], "no rows"))
            cloud = next((r for r in rows if r["question"] == CLOUD_QUESTION), None)
            topics = await conn.fetch(cloud["sql"]) if cloud else None
        finally:
            await conn.close()
        return failures, topics

    failures, topics = asyncio.run(go())
    assert not failures, failures
    assert path != DEV_SET or len(topics) >= 8


def test_the_snapshot_declares_its_date_inside_the_current_term(course_db, tmp_path):
    from askdb.config import load_config
    from askdb.coursedb.seed import CURRENT_TERM, SNAPSHOT_DATE
    from askdb.runtime import clock
    from pipeline.database import declared_today

    async def go():
        conn = await asyncpg.connect(course_db[0])
        try:
            declared = await declared_today(conn)
            term = await conn.fetchrow("SELECT starts_on, ends_on FROM terms WHERE name = $1", CURRENT_TERM)
            await conn.execute("SET askdb.today = 'soon'")
            return declared, term, await declared_today(conn)
        finally:
            await conn.close()

    declared, term, garbled = asyncio.run(go())
    # 'this semester' means Fall 2026 whatever day the dev set is evaluated on.
    assert declared == SNAPSHOT_DATE and term["starts_on"] <= declared <= term["ends_on"]
    assert garbled is None  # not a date: ignored (with a warning), the real date is used
    cfg = load_config("config.yaml", env={})
    assert clock(cfg, declared)() == SNAPSHOT_DATE
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text(Path("config.yaml").read_text().replace('today: ""', 'today: "2025-10-01"'))
    assert str(clock(load_config(pinned, env={}), declared)()) == "2025-10-01"  # sql.today wins


def test_a_loader_that_does_not_own_the_database_still_loads_it_and_says_how_to_set_the_date(caplog):
    from askdb.coursedb.seed import SNAPSHOT_DATE

    name, role = f"askdb_coursedb_test_{uuid.uuid4().hex[:8]}", f"askdb_loader_{uuid.uuid4().hex[:8]}"

    async def go():
        admin = await asyncpg.connect(_admin_url())
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        try:
            owner = await asyncpg.connect(_with_database(_admin_url(), name))
            await owner.execute(f'GRANT ALL ON SCHEMA public TO "{role}"')
            await owner.close()
            loader = await asyncpg.connect(_with_database(_admin_url(), name), user=role)
            try:
                return await load_course_database(loader)
            finally:
                await loader.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
            await admin.close()

    counts = asyncio.run(go())
    assert counts["terms"] == 3
    assert f"sql.today: {SNAPSHOT_DATE.isoformat()}" in caplog.text


async def test_introspection_reads_the_columns_no_two_rows_share(course_db_url):
    from pipeline.database import open_pool
    from pipeline.schema import introspect_schema

    async with open_pool(course_db_url) as pool:
        schema = await introspect_schema(pool, samples_per_column=0)
    assert schema.table("courses").unique == ("code",) and schema.table("terms").unique == ("name",)
    assert schema.table("sections").unique == () and schema.table("sections").primary_key == ("id",)
    # The model's view without a denied column keeps only what it can see.
    hidden = schema.without_columns(frozenset({"courses.code"}))
    assert hidden.table("courses").unique == ()
