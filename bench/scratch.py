"""A scratch copy of the course database for a benchmark run: created, loaded, granted, dropped."""
from __future__ import annotations

import contextlib
from typing import AsyncIterator

import asyncpg

from askdb.coursedb.seed import load_course_database
from pipeline.roles import QueryRole, drop_query_role, grant_query_role

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` (query string kept)."""
    base, _, rest = url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{rest}" if rest else "")


@contextlib.asynccontextmanager
async def course_database(admin_url: str = DEFAULT_ADMIN_URL, name: str = "askdb_bench",
                          *, denied_columns: tuple[str, ...] = ("students.email", "enrollments.grade"),
                          role: QueryRole | None = None) -> AsyncIterator[tuple[str, str]]:
    """Yield (owner URL, read-only role URL) of a fresh course database; role and database dropped on exit."""
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    owner_url = with_database(admin_url, name)
    role = role or QueryRole(name=f"{name}_q", password="bench-only", denied_columns=denied_columns)
    conn = await asyncpg.connect(owner_url)
    await load_course_database(conn)
    await grant_query_role(conn, role)
    await conn.close()
    scheme, rest = owner_url.split("://", 1)
    query_url = f"{scheme}://{role.name}:{role.password}@{rest.split('@', 1)[-1]}"
    try:
        yield owner_url, query_url
    finally:
        conn = await asyncpg.connect(owner_url)
        await drop_query_role(conn, role.name)
        await conn.close()
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
