"""Connection pools: one owner opens them at the top and closes them on shutdown."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from typing import AsyncIterator

import asyncpg

from .errors import DatabaseUnavailable

log = logging.getLogger("askdb.database")
# A database whose rows are a snapshot ("the current term is Fall 2026") says what date they are from, so that "this
# semester" means the same to the model, the generator and an evaluation on any day: ALTER DATABASE ... SET askdb.today.
TODAY_SETTING = "askdb.today"


def quote_ident(name: str) -> str:
    """`name` as a quoted SQL identifier, safe to put in a statement whatever it holds."""
    return '"' + name.replace('"', '""') + '"'

# Connection-level failures: the server is down, restarting or refusing us.
CONNECTION_ERRORS = (
    OSError,
    ConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Rows go to humans and JSON: decode json/jsonb as text rather than failing.
    await conn.execute("SET application_name = 'askdb'")


@contextlib.asynccontextmanager
async def open_pool(url: str, *, min_size: int = 1, max_size: int = 8, timeout_s: float = 10.0) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool for `url`, closed on exit; unreachable servers raise DatabaseUnavailable."""
    try:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, timeout=timeout_s,
            init=_init_connection, command_timeout=None,
        )
    except CONNECTION_ERRORS as exc:
        raise DatabaseUnavailable(f"{redact_url(url)}: {exc}") from exc
    except asyncpg.exceptions.InvalidCatalogNameError as exc:
        raise DatabaseUnavailable(f"{redact_url(url)}: {exc}") from exc
    except asyncpg.exceptions.InvalidAuthorizationSpecificationError as exc:
        raise DatabaseUnavailable(f"{redact_url(url)}: {exc}") from exc
    try:
        yield pool
    finally:
        await pool.close()


async def declared_today(pool: asyncpg.Pool) -> dt.date | None:
    """The date the database declares its data to be from (the `askdb.today` setting), or None."""
    value = await pool.fetchval("SELECT current_setting($1, true)", TODAY_SETTING)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        log.warning("ignoring %s = %r: not an ISO date (YYYY-MM-DD)", TODAY_SETTING, value)
        return None
