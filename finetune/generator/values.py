"""Real values sampled from every table, concurrently on the pool: what questions can mention."""
from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import asyncpg

from pipeline.database import quote_ident
from pipeline.executor import to_plain
from pipeline.schema import Schema, Table


@dataclass(frozen=True)
class ColumnStats:
    distinct: int
    nulls: int
    max_len: int = 0


@dataclass(frozen=True)
class TableSample:
    table: str
    rows: tuple[dict, ...]  # plain Python values, denied columns left out
    total: int
    stats: dict[str, ColumnStats] = field(default_factory=dict)


@dataclass(frozen=True)
class ValueBank:
    samples: dict[str, TableSample]
    today: dt.date

    def rows(self, table: str) -> tuple[dict, ...]:
        """Sampled rows of `table` (empty when it has none)."""
        s = self.samples.get(table)
        return s.rows if s else ()

    def by_key(self, table: str, column: str) -> dict:
        """Sampled rows of `table` indexed by `column`."""
        return {r[column]: r for r in self.rows(table) if r.get(column) is not None}


async def sample_table(pool: asyncpg.Pool, table: Table, denied: frozenset[str], limit: int) -> TableSample:
    """Up to `limit` rows of `table` in a data-determined order, plus per-column statistics."""
    cols = [c for c in table.columns if f"{table.name}.{c.name}" not in denied]
    qualified = f"{quote_ident(table.schema)}.{quote_ident(table.name)}"
    select = ", ".join(quote_ident(c.name) for c in cols)
    key = ", ".join(quote_ident(c) for c in table.primary_key) or select
    # md5 of the key: a stable pseudo-random order that depends only on the data, so runs repeat.
    rows_sql = f"SELECT {select} FROM {qualified} ORDER BY md5(({key})::text), ({key})::text LIMIT {int(limit)}"
    stat_parts = [f"count(*)"]
    for c in cols:
        stat_parts += [f"count(DISTINCT {quote_ident(c.name)})", f"count(*) - count({quote_ident(c.name)})",
                       f"coalesce(max(length({quote_ident(c.name)}::text)), 0)"]
    stats_sql = f"SELECT {', '.join(stat_parts)} FROM {qualified}"
    async with pool.acquire() as conn:
        records = await conn.fetch(rows_sql)
        stat_row = await conn.fetchrow(stats_sql)
    rows = tuple({c.name: to_value(r[c.name]) for c in cols} for r in records)
    stats = {c.name: ColumnStats(stat_row[1 + 3 * i], stat_row[2 + 3 * i], stat_row[3 + 3 * i])
             for i, c in enumerate(cols)}
    return TableSample(table.name, rows, stat_row[0], stats)


def to_value(v):
    """Plain values, but dates and times stay typed (shapes compare them)."""
    if isinstance(v, (dt.date, dt.time)):
        return v
    return to_plain(v)


async def sample_values(pool: asyncpg.Pool, schema: Schema, *, denied: frozenset[str], today: dt.date,
                        limit: int = 600, concurrency: int = 4) -> ValueBank:
    """A ValueBank over every table of `schema`, sampled concurrently."""
    gate = asyncio.Semaphore(concurrency)

    async def one(t: Table) -> TableSample:
        async with gate:
            return await sample_table(pool, t, denied, limit)

    samples = await asyncio.gather(*(one(t) for t in schema.tables))
    return ValueBank({s.table: s for s in samples}, today)
