"""Fixtures of the security suite: a query role with restricted columns, askdb's own schema, a data checksum."""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from pipeline.guard import GuardPolicy
from pipeline.roles import QueryRole, drop_query_role, grant_query_role
from tests.security import COURSE_TABLES, DENIED_COLUMNS, data_checksum


@pytest.fixture(scope="package")
def guard_policy() -> GuardPolicy:
    """The policy the pipeline would use for the course database, with two restricted columns."""
    return GuardPolicy(allowed_tables=frozenset(COURSE_TABLES), denied_columns=DENIED_COLUMNS)


@pytest.fixture(scope="package")
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


@pytest.fixture(scope="package")
def baseline_checksum(course_db_url: str, secure_role_url: str, test_run_id: str):
    """The data before the suite; the whole suite must leave it exactly as it was."""
    before = asyncio.run(data_checksum(course_db_url, test_run_id))
    yield before
    after = asyncio.run(data_checksum(course_db_url, test_run_id))
    assert after == before, "the security suite changed the database"
