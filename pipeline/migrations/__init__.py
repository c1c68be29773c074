"""Versioned SQL migrations for askdb's own schema, applied in order, once each."""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from ..database import quote_ident

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """Every migration shipped with askdb, oldest first."""
    found = []
    for entry in resources.files(__name__).iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(m[1], m[2], entry.read_text()))
    return sorted(found, key=lambda mig: mig.version)


async def migrate(conn: asyncpg.Connection, *, schema: str = "askdb") -> list[str]:
    """Apply pending migrations to `schema` in one transaction; returns the versions applied (idempotent)."""
    async with conn.transaction():
        # Two `db init` runs at once must not both apply 0001.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"askdb.migrate:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        # Private to the owner: the read-only query role must not even see it.
        await conn.execute(f"REVOKE ALL ON SCHEMA {quote_ident(schema)} FROM PUBLIC")
        await conn.execute(f"SET LOCAL search_path = {quote_ident(schema)}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for mig in available_migrations():
            if mig.version in done:
                continue
            await conn.execute(mig.sql)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", mig.version, mig.name)
            applied.append(mig.version)
    return applied
