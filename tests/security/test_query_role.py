"""The read-only query role on its own, with no guard in front: the last line of defence."""
from __future__ import annotations

import asyncpg
import pytest

from tests.security import data_checksum

# Raw text over the simple protocol; "; " separates statements sent one by one in the same session,
# so a SET really applies to the next statement (in one message it would share the read-only transaction).
WRITES = {
    "insert": "INSERT INTO terms (name) VALUES ('Never 2099')",
    "update": "UPDATE courses SET title = 'pwned'",
    "delete": "DELETE FROM enrollments",
    "truncate": "TRUNCATE assessments",
    "create_table": "CREATE TABLE loot (x int)",
    "create_temp_table": "CREATE TEMP TABLE loot (x int)",
    "drop": "DROP TABLE prerequisites",
    "alter": "ALTER TABLE courses ADD COLUMN pwned int",
    "read_write_then_insert": "SET default_transaction_read_only = off; INSERT INTO terms (name) VALUES ('x')",
    "begin_read_write_insert": "BEGIN READ WRITE; INSERT INTO terms (name) VALUES ('x'); COMMIT",
    "leave_read_only_then_delete": "SELECT 1; SET default_transaction_read_only = off; DELETE FROM terms",
    "read_write_then_create": "SET default_transaction_read_only = off; CREATE TABLE loot (x int)",
    "copy_to_file": "COPY courses TO '/tmp/askdb-loot.csv'",
    "copy_query_to_file": "SET default_transaction_read_only = off; COPY (SELECT 1) TO '/tmp/askdb-loot.csv'",
    "set_role_superuser": "SET ROLE postgres",
    "grant_self": "GRANT ALL ON ALL TABLES IN SCHEMA public TO CURRENT_USER",
}


@pytest.fixture(params=["query_role", "secure_role"])
def role_url(request, query_db_url, secure_role_url) -> str:
    """Both roles: the one conftest grants and the one with restricted columns."""
    return query_db_url if request.param == "query_role" else secure_role_url


@pytest.mark.parametrize("sql", list(WRITES.values()), ids=list(WRITES))
async def test_role_cannot_write(sql, role_url, course_db_url, baseline_checksum, test_run_id):
    conn = await asyncpg.connect(role_url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            for statement in sql.split("; "):
                await conn.execute(statement)
    finally:
        await conn.close()
    assert await data_checksum(course_db_url, test_run_id) == baseline_checksum


async def test_role_cannot_create_temp_table_after_leaving_read_only(role_url):
    conn = await asyncpg.connect(role_url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute("SET default_transaction_read_only = off")
            await conn.execute("CREATE TEMP TABLE loot (x int)")
    finally:
        await conn.close()


async def test_role_cannot_create_large_objects(role_url):
    conn = await asyncpg.connect(role_url)
    tx = conn.transaction(readonly=True)
    await tx.start()
    try:
        with pytest.raises(asyncpg.PostgresError):
            await conn.fetchval("SELECT lo_from_bytea(0, 'x')")
    finally:
        await tx.rollback()  # never keep what got through
        await conn.close()


@pytest.mark.parametrize("sql", [
    "SELECT email FROM students",
    "SELECT s.grade FROM enrollments s",
    "SELECT * FROM students",
    "SELECT row_to_json(s) FROM students s",
    "SELECT note FROM askdb.feedback",
])
async def test_secure_role_cannot_read_restricted_data(sql, secure_role_url):
    conn = await asyncpg.connect(secure_role_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch(sql)
    finally:
        await conn.close()


async def test_role_settings_are_the_configured_defaults(query_db_url):
    conn = await asyncpg.connect(query_db_url)
    try:
        assert await conn.fetchval("SHOW statement_timeout") == "5s"
        assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
        assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    finally:
        await conn.close()


async def test_role_can_read_courses(role_url):
    conn = await asyncpg.connect(role_url)
    try:
        rows = await conn.fetch("SELECT id, title FROM courses ORDER BY id LIMIT 5")
        count = await conn.fetchval("SELECT count(*) FROM students")
    finally:
        await conn.close()
    assert len(rows) == 5 and rows[0]["title"]
    assert count > 0
