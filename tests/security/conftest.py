"""Fixtures of the security suite: a query role with restricted columns, askdb's own schema, a data checksum."""
from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
import yaml

from pipeline.guard import GuardPolicy
from pipeline.roles import QueryRole, drop_query_role, grant_query_role

DENIED_COLUMNS = frozenset({"students.email", "enrollments.grade"})
COURSE_TABLES = (
    "departments", "instructors", "courses", "course_topics", "prerequisites",
    "terms", "sections", "students", "enrollments", "assessments",
)
# What the query role must refuse on its own for each category; "harmless" may run but must change nothing.
ROLE_EXPECTATION = {
    "write": "fails", "ddl": "fails", "nested_cte_write": "fails", "denied_column": "fails",
    "foreign_schema": "fails", "file_access": "fails", "sleep": "fails", "select_into_lock": "fails",
}


def load_attacks(path: Path = Path(__file__).with_name("attacks.yaml")) -> list[dict]:
    """The attack cases: each {id, sql, category} plus `db` (fails | harmless | guard_only)."""
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    for case in cases:
        case.setdefault("db", ROLE_EXPECTATION.get(case["category"], "harmless"))
    return cases


@pytest.fixture(scope="session")
def guard_policy() -> GuardPolicy:
    """The policy the pipeline would use for the course database, with two restricted columns."""
    return GuardPolicy(allowed_tables=frozenset(COURSE_TABLES), denied_columns=DENIED_COLUMNS)


@pytest.fixture(scope="session")
def secure_role_url(course_db_url: str, test_run_id: str) -> str:
    """The course DB as a read-only role without SELECT on the restricted columns; askdb's own schema exists."""
    role = QueryRole(name=f"askdb_s_{test_run_id}", password="test-only", denied_columns=tuple(DENIED_COLUMNS))

    async def setup():
        conn = await asyncpg.connect(course_db_url)
        await conn.execute(
            "CREATE SCHEMA IF NOT EXISTS askdb;"
            "CREATE TABLE IF NOT EXISTS askdb.feedback (id serial PRIMARY KEY, note text);"
            "INSERT INTO askdb.feedback (note) VALUES ('private note')"
        )
        await grant_query_role(conn, role)
        await conn.close()

    async def teardown():
        conn = await asyncpg.connect(course_db_url)
        await drop_query_role(conn, role.name)
        await conn.close()

    asyncio.run(setup())
    scheme, rest = course_db_url.split("://", 1)
    yield f"{scheme}://{role.name}:test-only@{rest.split('@', 1)[-1]}"
    asyncio.run(teardown())


async def data_checksum(superuser_url: str, run_id: str) -> str:
    """md5 over every course table, askdb's table, the relation list, large objects and role settings."""
    conn = await asyncpg.connect(superuser_url)
    try:
        parts = []
        for table in (*COURSE_TABLES, "askdb.feedback"):
            row = await conn.fetchrow(
                f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM {table} t")
            parts.append(f"{table}:{row['n']}:{row['h']}")
        parts.append(str(await conn.fetch(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2")))
        parts.append(str(await conn.fetchval("SELECT count(*) FROM pg_largeobject_metadata")))
        parts.append(str(await conn.fetch(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname LIKE '%\\_' || $1 ORDER BY 1", run_id)))
        return "\n".join(parts)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def baseline_checksum(course_db_url: str, secure_role_url: str, test_run_id: str):
    """The data before the suite; the whole suite must leave it exactly as it was."""
    before = asyncio.run(data_checksum(course_db_url, test_run_id))
    yield before
    after = asyncio.run(data_checksum(course_db_url, test_run_id))
    assert after == before, "the security suite changed the database"
