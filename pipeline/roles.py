"""The read-only login role the pipeline queries as: the last line of defence."""
from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from .database import quote_ident


@dataclass(frozen=True)
class QueryRole:
    name: str = "askdb_query"
    password: str | None = None
    schemas: tuple[str, ...] = ("public",)
    denied_tables: tuple[str, ...] = ()
    denied_columns: tuple[str, ...] = ()  # "table.column": no SELECT privilege on them at all
    statement_timeout_ms: int = 5000
    idle_in_transaction_timeout_ms: int = 10000
    connection_limit: int = 20


_LARGE_OBJECT_WRITERS = (
    "lo_create(oid)", "lo_creat(integer)", "lo_from_bytea(oid, bytea)", "lo_put(oid, bigint, bytea)",
    "lo_import(text)", "lo_import(text, oid)", "lo_export(oid, text)", "lo_unlink(oid)", "lo_open(oid, integer)",
    "lowrite(integer, bytea)", "lo_truncate(integer, integer)", "lo_truncate64(integer, bigint)",
)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def grant_query_role(conn: asyncpg.Connection, role: QueryRole) -> None:
    """Create or update `role` with SELECT-only rights on the allowed schemas' tables, minus denied ones."""
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role.name)
    verb = "ALTER" if exists else "CREATE"
    password = f" PASSWORD {_lit(role.password)}" if role.password else ""
    await conn.execute(
        f"{verb} ROLE {quote_ident(role.name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
        f" CONNECTION LIMIT {int(role.connection_limit)}{password}"
    )
    for setting, value in (
        ("default_transaction_read_only", "on"),
        ("statement_timeout", str(int(role.statement_timeout_ms))),
        ("idle_in_transaction_session_timeout", str(int(role.idle_in_transaction_timeout_ms))),
        ("search_path", ", ".join(role.schemas)),
    ):
        await conn.execute(
            f"ALTER ROLE {quote_ident(role.name)} SET {setting} = {_lit(value) if ',' in value else value}")
    db = await conn.fetchval("SELECT current_database()")
    # TEMPORARY is granted to PUBLIC by default; revoking it from the role alone changes nothing.
    await conn.execute(f"REVOKE CREATE, TEMPORARY ON DATABASE {quote_ident(db)} FROM PUBLIC, {quote_ident(role.name)}")
    owner = await conn.fetchval("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", db)
    await conn.execute(f"GRANT TEMPORARY ON DATABASE {quote_ident(db)} TO {quote_ident(owner)}")
    # Large objects can be written even in a read-only transaction: take the writers away from PUBLIC.
    for fn in _LARGE_OBJECT_WRITERS:
        if await conn.fetchval("SELECT to_regprocedure($1)", fn):
            await conn.execute(f"REVOKE EXECUTE ON FUNCTION {fn} FROM PUBLIC, {quote_ident(role.name)}")
    # PUBLIC may create in public on older servers; the role must not.
    await conn.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    for schema in role.schemas:
        await conn.execute(f"GRANT USAGE ON SCHEMA {quote_ident(schema)} TO {quote_ident(role.name)}")
        await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {quote_ident(schema)} FROM {quote_ident(role.name)}")
        tables = [r["relname"] for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind IN ('r','v','m','p') ORDER BY 1", schema)]
        denied_cols: dict[str, list[str]] = {}
        for dc in role.denied_columns:
            t, _, c = dc.rpartition(".")
            denied_cols.setdefault(t.split(".")[-1], []).append(c)
        for t in tables:
            if t in role.denied_tables:
                continue
            if t in denied_cols:
                cols = [r["attname"] for r in await conn.fetch(
                    "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
                    "AND NOT attisdropped ORDER BY attnum", f"{quote_ident(schema)}.{quote_ident(t)}")]
                allowed = [c for c in cols if c not in denied_cols[t]]
                if allowed:
                    await conn.execute(
                        f"GRANT SELECT ({', '.join(quote_ident(c) for c in allowed)}) "
                        f"ON {quote_ident(schema)}.{quote_ident(t)} TO {quote_ident(role.name)}")
            else:
                await conn.execute(f"GRANT SELECT ON {quote_ident(schema)}.{quote_ident(t)} TO {quote_ident(role.name)}")
    # askdb's own schema stays invisible to the query role.
    if await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = 'askdb'"):
        await conn.execute(f"REVOKE ALL ON SCHEMA askdb FROM {quote_ident(role.name)}")


async def drop_query_role(conn: asyncpg.Connection, name: str) -> None:
    """Remove the role and everything granted to it in this database (tests and `db grant --drop`)."""
    if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
        await conn.execute(f"DROP OWNED BY {quote_ident(name)}")
        await conn.execute(f"DROP ROLE {quote_ident(name)}")
