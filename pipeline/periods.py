"""Periods a question names relatively ('this semester', 'last fall', 'next term'): which row of a table of periods
(rows with a name, a start and an end date) it means on a given day.

The model is shown examples asked about other periods ("... the previous semester" -> 'Spring 2026') and copies
their value; knowing which stored name 'this semester' stands for lets retrieval show the example with it and the
pipeline correct a statement that filters on another period (docs/pipeline.md)."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass

import asyncpg

from .database import quote_ident
from .schema import TEXT_TYPES, Schema, Table
from .words import singular

log = logging.getLogger("askdb.periods")

_THIS, _LAST, _NEXT = ("this", "current"), ("last", "previous"), ("next", "upcoming", "coming")
_RELATIVE = re.compile(r"\b(" + "|".join(_THIS + _LAST + _NEXT) + r")\s+([a-z]+)\b")
_DATE_TYPES = ("date", "timestamp without time zone", "timestamp with time zone")
# A table of periods is small; a bigger one is a log of events, not a calendar.
_MAX_ROWS = 1000


@dataclass(frozen=True)
class Period:
    name: str
    starts: dt.date
    ends: dt.date


@dataclass(frozen=True)
class PeriodTable:
    """One table of periods: 'terms', its name column and its rows."""
    table: str
    column: str
    nouns: frozenset[str]  # what a question calls one row: 'term', 'semester'
    rows: tuple[Period, ...]
    start: str = ""  # the column of its start date: periods come in calendar order
    end: str = ""  # the column of its end date

    @property
    def item(self) -> str:
        return f"{self.table}.{self.column}"

    def resolve(self, relative: str, noun: str, today: dt.date) -> str | None:
        """The name that 'this'/'last'/'next' + `noun` ('semester', or a season that starts names: 'fall') means on
        `today`; None when the noun names no period here or no row fits."""
        noun = singular(noun)
        if noun in self.nouns:
            pool = self.rows
        else:
            pool = tuple(r for r in self.rows if r.name.lower().split()[:1] == [noun])
            if not pool:
                return None
        if relative in _LAST:
            # As the generator phrases them: the latest that ended before today.
            ended = [r for r in pool if r.ends < today]
            return max(ended, key=lambda r: r.starts).name if ended else None
        upcoming = [r for r in pool if r.starts > today]
        if relative in _NEXT:
            return min(upcoming, key=lambda r: r.starts).name if upcoming else None
        current = [r for r in pool if r.starts <= today <= r.ends]
        if current:
            return current[0].name
        # Between two periods: 'this semester' is the one that began last, 'this fall' the coming one.
        started = [r for r in pool if r.starts <= today]
        if noun not in self.nouns and upcoming:
            return min(upcoming, key=lambda r: r.starts).name
        return max(started, key=lambda r: r.starts).name if started else None


def relative_periods(tables: tuple[PeriodTable, ...], question: str,
                     today: dt.date | None) -> list[tuple[int, int, str, str]]:
    """(start, end, "table.column", stored name) of each period `question` names relatively, in its order."""
    if today is None or not tables:
        return []
    out = []
    for m in _RELATIVE.finditer(question.lower()):
        for t in tables:
            name = t.resolve(m.group(1), m.group(2), today)
            if name is not None:
                out.append((m.start(), m.end(), t.item, name))
                break
    return out


def _period_columns(t: Table) -> tuple[str, str, list[str]] | None:
    """(start column, end column, candidate name columns) of a table that looks like a calendar, else None."""
    dates = [c.name for c in t.columns if c.base_type in _DATE_TYPES]
    names = [c.name for c in t.columns if c.base_type in TEXT_TYPES]
    if len(dates) < 2 or not names:
        return None
    start = next((d for d in dates if re.search(r"start|begin|from", d)), dates[0])
    end = next((d for d in dates if d != start and re.search(r"end|finish|until|to$", d)),
               next(d for d in dates if d != start))
    return start, end, names


async def load_period_tables(pool: asyncpg.Pool, schema: Schema, nouns_of, *,
                             timeout_s: float = 5.0) -> tuple[PeriodTable, ...]:
    """Every table whose rows have a unique name and a start and an end date (at most 1,000 rows), read as the
    role `pool` connects as; `nouns_of(table)` gives what questions call a row."""
    out = []
    for t in schema.tables:
        cols = _period_columns(t)
        if cols is None:
            continue
        start, end, names = cols
        table = f"{quote_ident(t.schema)}.{quote_ident(t.name)}"
        try:
            for name in names:
                rows = await pool.fetch(
                    f"SELECT {quote_ident(name)}::text AS n, {quote_ident(start)}::date AS s, {quote_ident(end)}::date"
                    f" AS e FROM {table} WHERE {quote_ident(name)} IS NOT NULL AND {quote_ident(start)} IS NOT NULL"
                    f" AND {quote_ident(end)} IS NOT NULL LIMIT {_MAX_ROWS + 1}", timeout=timeout_s)
                unique = len({r["n"] for r in rows}) == len(rows)
                if 2 <= len(rows) <= _MAX_ROWS and unique:
                    periods = tuple(Period(r["n"], r["s"], r["e"]) for r in rows)
                    out.append(PeriodTable(t.name, name, frozenset(nouns_of(t.name)), periods, start, end))
                    break
        except (asyncpg.PostgresError, asyncio.TimeoutError) as exc:
            log.warning("relative periods skip %s: %s", t.name, exc)
    return tuple(out)
