"""Real Postgres for every test: a fresh database per test session, dropped at the end."""
from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(url: str) -> bool:
    async def probe():
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()
    try:
        asyncio.run(probe())
        return True
    except Exception:  # noqa: BLE001 - any failure means "not this server"
        return False


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    query = ""
    if "?" in url:
        query = "?" + url.split("?", 1)[1]
    return f"{base}/{name}{query}"


async def create_database(admin_url: str, name: str, sql: str | None = None) -> str:
    """A fresh database `name` (one left by an earlier run dropped first), loaded with `sql`; its owner's URL."""
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(admin_url, name)
    if sql:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    return url


async def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name`, closing whatever is still connected to it."""
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """Superuser URL of the test server: ASKDB_TEST_DATABASE_URL, the local server, else embedded pgserver."""
    url = os.environ.get("ASKDB_TEST_DATABASE_URL")
    if url:
        return url
    if _answers(LOCAL_URL):
        return LOCAL_URL
    from askdb.embedded import start_embedded
    import tempfile
    return start_embedded(os.path.join(tempfile.gettempdir(), "askdb-test-pgdata"), database="postgres")


@pytest.fixture(scope="session")
def test_run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def course_db_url(pg_admin_url: str, test_run_id: str):
    """Superuser URL of a fresh database holding the course data and a read-only query role."""
    from askdb.coursedb.seed import load_course_database
    from pipeline.roles import QueryRole, drop_query_role, grant_query_role

    name = f"askdb_test_{test_run_id}"
    role = QueryRole(name=f"askdb_q_{test_run_id}", password="test-only")

    async def setup():
        admin = await asyncpg.connect(pg_admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await asyncpg.connect(_with_database(pg_admin_url, name))
        await load_course_database(conn)
        await grant_query_role(conn, role)
        await conn.close()

    async def teardown():
        conn = await asyncpg.connect(_with_database(pg_admin_url, name))
        await drop_query_role(conn, role.name)
        await conn.close()
        admin = await asyncpg.connect(pg_admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(setup())
    yield _with_database(pg_admin_url, name)
    asyncio.run(teardown())


@pytest.fixture(scope="session")
def query_db_url(course_db_url: str, test_run_id: str) -> str:
    """URL of the course test database as the read-only query role."""
    scheme, rest = course_db_url.split("://", 1)
    hostpart = rest.split("@", 1)[-1]
    return f"{scheme}://askdb_q_{test_run_id}:test-only@{hostpart}"
