"""askdb db init / info / grant: the course data, the schema as askdb sees it, the read-only role."""
from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from pipeline.database import CONNECTION_ERRORS, redact_url
from pipeline.errors import DatabaseUnavailable
from pipeline.roles import QueryRole, grant_query_role
from pipeline.schema import introspect_schema, render_schema

from ..runtime import resolve_database_url
from .common import add_common, config_from


def register(sub) -> None:
    p = sub.add_parser("db", help="database setup and inspection")
    dsub = p.add_subparsers(dest="db_command", required=True)
    q = dsub.add_parser("init", help="create and load the course database, the read-only role and askdb's tables")
    add_common(q)
    q.set_defaults(func=lambda a: asyncio.run(_init(a)))
    q = dsub.add_parser("info", help="print the introspected schema")
    add_common(q)
    q.set_defaults(func=lambda a: asyncio.run(_info(a)))
    q = dsub.add_parser("grant", help="create/update the read-only query role on an existing database")
    add_common(q)
    q.set_defaults(func=lambda a: asyncio.run(_grant(a)))
    q = dsub.add_parser("migrate", help="create or upgrade askdb's own tables (feedback) to the latest version")
    add_common(q)
    q.set_defaults(func=lambda a: asyncio.run(_migrate_command(a)))


def query_role(cfg) -> QueryRole:
    """The read-only role as configured."""
    return QueryRole(
        name=cfg.database.query_role, password=os.environ.get(cfg.database.query_password_env) or None,
        schemas=(cfg.database.schema,), denied_tables=tuple(cfg.guard.denied_tables),
        denied_columns=tuple(cfg.guard.denied_columns), statement_timeout_ms=cfg.database.statement_timeout_ms,
        connection_limit=max(cfg.database.pool_size * 2, 10))


async def connect_owner(url: str) -> asyncpg.Connection:
    """A connection as the database owner, with a clear error when it cannot be reached."""
    try:
        return await asyncpg.connect(url, timeout=10)
    except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"{redact_url(url)}: {exc}") from exc


async def init_database(cfg, database: str | None, *, quiet: bool = True) -> dict[str, int]:
    """Load the course data, grant the query role and create askdb's own tables."""
    from askdb.coursedb.seed import load_course_database

    url = resolve_database_url(cfg, database)
    conn = await connect_owner(url)
    try:
        counts = await load_course_database(conn)
        await _migrate(conn, cfg)
        await grant_query_role(conn, query_role(cfg))
    finally:
        await conn.close()
    if not quiet:
        print("Loaded: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return counts


async def _migrate(conn, cfg) -> None:
    try:
        from pipeline.feedback_store import migrate
    except ImportError:  # the feedback store is optional until it lands
        return
    await migrate(conn, schema=cfg.feedback.schema)


async def _migrate_command(args) -> int:
    from pipeline.feedback_store import migrate

    cfg = config_from(args)
    conn = await connect_owner(resolve_database_url(cfg, args.database))
    try:
        applied = await migrate(conn, schema=cfg.feedback.schema)
    finally:
        await conn.close()
    print(f"Applied migrations {', '.join(applied)} to schema {cfg.feedback.schema}." if applied
          else f"Schema {cfg.feedback.schema} is up to date.")
    return 0


async def _init(args) -> int:
    cfg = config_from(args)
    await init_database(cfg, args.database, quiet=False)
    print(f"Read-only role '{cfg.database.query_role}' ready.")
    return 0


async def _info(args) -> int:
    cfg = config_from(args)
    conn = await connect_owner(resolve_database_url(cfg, args.database))
    try:
        schema = await introspect_schema(conn, schema=cfg.database.schema)
    finally:
        await conn.close()
    if not schema.tables:
        print(f"No tables in schema '{cfg.database.schema}' of this database; `askdb db init` loads the course data.",
              file=sys.stderr)
        return 1
    print(render_schema(schema.without_columns(frozenset(cfg.guard.denied_columns))))
    return 0


async def grant_read_only(cfg, url: str) -> None:
    """askdb's own tables created or upgraded, and the read-only role granted, as the owner at `url`."""
    conn = await connect_owner(url)
    try:
        await _migrate(conn, cfg)
        await grant_query_role(conn, query_role(cfg))
    finally:
        await conn.close()


async def _grant(args) -> int:
    cfg = config_from(args)
    await grant_read_only(cfg, resolve_database_url(cfg, args.database))
    print(f"Read-only role '{cfg.database.query_role}' granted SELECT on schema {cfg.database.schema}"
          + (f" (denied columns: {', '.join(cfg.guard.denied_columns)})" if cfg.guard.denied_columns else ""),
          file=sys.stdout)
    return 0
