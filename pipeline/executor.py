"""Run a checked statement read-only, with a timeout and a row cap, never materialising more."""
from __future__ import annotations

import datetime as dt
import decimal
import time
import uuid
from dataclasses import dataclass

import asyncpg

from .database import CONNECTION_ERRORS
from .errors import DatabaseUnavailable, QueryFailed, QueryTimeout


@dataclass(frozen=True)
class ExecLimits:
    statement_timeout_ms: int = 5000
    max_rows: int = 200
    max_result_bytes: int = 64_000  # what an answer may carry; the rest is cut and said so
    acquire_timeout_s: float = 10.0


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
    truncated: bool
    elapsed_ms: float

    def as_dicts(self) -> list[dict]:
        """Rows as column->value dicts (duplicate column names keep the last)."""
        return [dict(zip(self.columns, r)) for r in self.rows]


async def execute(pool: asyncpg.Pool, sql: str, limits: ExecLimits = ExecLimits()) -> QueryResult:
    """Run `sql` (already passed by the guard) in a READ ONLY transaction; at most max_rows rows come back."""
    started = time.perf_counter()
    try:
        async with pool.acquire(timeout=limits.acquire_timeout_s) as conn:
            async with conn.transaction(readonly=True):
                await conn.execute(f"SET LOCAL statement_timeout = {int(limits.statement_timeout_ms)}")
                # A cursor fetches only what we keep: a million-row result never reaches memory.
                stmt = await conn.prepare(sql)
                cursor = await stmt.cursor()
                records = await cursor.fetch(limits.max_rows + 1)
                attrs = stmt.get_attributes()
    except asyncpg.exceptions.QueryCanceledError as exc:
        raise QueryTimeout(limits.statement_timeout_ms) from exc
    except CONNECTION_ERRORS as exc:
        raise DatabaseUnavailable(str(exc) or type(exc).__name__) from exc
    except TimeoutError as exc:
        raise DatabaseUnavailable("no free database connection in time") from exc
    except asyncpg.PostgresError as exc:
        raise QueryFailed(exc.args[0] if exc.args else str(exc), getattr(exc, "sqlstate", None)) from exc
    columns = tuple(a.name for a in attrs)
    truncated = len(records) > limits.max_rows
    rows = [tuple(to_plain(v) for v in r.values()) for r in records[: limits.max_rows]]
    rows, cut = _cap_bytes(rows, limits.max_result_bytes)
    return QueryResult(columns, tuple(rows), truncated or cut, (time.perf_counter() - started) * 1000)


def _cap_bytes(rows: list[tuple], budget: int) -> tuple[list[tuple], bool]:
    used = 0
    for i, row in enumerate(rows):
        used += sum(len(str(v)) for v in row) + len(row)
        if used > budget:
            return rows[:i], True
    return rows, False


def to_plain(value):
    """A JSON- and chat-friendly version of a Postgres value."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 1e15 else float(value)
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, asyncpg.Record):
        return [to_plain(v) for v in value.values()]
    return value
