"""Variants of a verified pair with other values: one correction teaches its form for every value of its columns.

"Who teaches CE 4229 this semester?" / `... c.code = 'CE 4229' ...` gives "Who teaches CS 1010 this semester?" /
`... c.code = 'CS 1010' ...`. Only values the question names are swapped (a value it leaves unnamed, such as the term
behind "this semester", belongs to the form), each for another value of the column it is compared with, in the
question and the statement alike; a variant is kept only if its statement runs and returns rows.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import asyncpg
import sqlglot
from sqlglot import exp

from pipeline.errors import AskdbError
from pipeline.executor import ExecLimits, execute

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)
# A variant that scans a big join for nothing should not hold up an export.
VARIANT_LIMITS = ExecLimits(statement_timeout_ms=2_000, max_rows=200, max_result_bytes=1_000_000)


@dataclass(frozen=True)
class Slot:
    """A string literal of the statement, the column it is compared with, and where the question names it."""
    literal: exp.Literal
    table: str
    column: str
    start: int
    end: int


def named_slots(question: str, tree: exp.Expression) -> list[Slot]:
    """String literals compared with a column whose value (without LIKE's %) the question names, case aside, in the
    order the question names them."""
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    tables = set(aliases.values())
    out = []
    for lit in tree.find_all(exp.Literal):
        parent = lit.parent
        if not lit.is_string or not isinstance(parent, _COMPARISONS) or not isinstance(parent.this, exp.Column):
            continue
        core = lit.this.strip("%")
        if len(core) < 2:
            continue
        m = re.search(r"(?<!\w)" + re.escape(core) + r"(?!\w)", question, re.I)
        col = parent.this
        table = aliases.get(col.table) if col.table else (next(iter(tables)) if len(tables) == 1 else None)
        if m and table:
            out.append(Slot(lit, table, col.name, m.start(), m.end()))
    return sorted(out, key=lambda s: s.start)


@dataclass
class VariantMaker:
    """Writes verified variants on one pool (the read-only role); column values are read once and kept."""
    pool: asyncpg.Pool
    seed: int = 42
    limits: ExecLimits = VARIANT_LIMITS
    _values: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def __post_init__(self):
        self._rng = random.Random(self.seed)

    async def column_values(self, table: str, column: str) -> list[str]:
        """Distinct values of a column as text (none where the role cannot read it)."""
        key = (table, column)
        if key not in self._values:
            ident = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
            try:
                rows = await self.pool.fetch(f"SELECT DISTINCT {ident(column)}::text AS v FROM {ident(table)} "
                                             f"WHERE {ident(column)} IS NOT NULL ORDER BY 1 LIMIT 5000")
                self._values[key] = [r["v"] for r in rows]
            except asyncpg.PostgresError:
                self._values[key] = []
        return self._values[key]

    async def variants(self, question: str, sql: str, n: int, *, taken: set[str] | None = None
                       ) -> list[tuple[str, str]]:
        """Up to `n` (question, sql) variants that return rows; questions in `taken` (lower-cased) are skipped and
        the new ones added to it."""
        taken = taken if taken is not None else set()
        taken.add(question.lower())
        try:
            tree = sqlglot.parse_one(sql, read="postgres")
        except sqlglot.errors.SqlglotError:
            return []
        slots = named_slots(question, tree)
        keys = list(dict.fromkeys(_key(s) for s in slots))  # a value the statement uses twice gets one new value
        by_span: dict[tuple[int, int], set] = {}
        for s in slots:
            by_span.setdefault((s.start, s.end), set()).add(_key(s))
        spans = sorted(by_span)
        if (not slots or n <= 0 or any(len(k) > 1 for k in by_span.values())
                or any(a[1] > b[0] for a, b in zip(spans, spans[1:]))):
            return []  # one name read as two values, or overlapping names ('CS' inside 'CS 1010'): no clean swap
        choices = []
        for table, column, old in keys:
            values = [v for v in await self.column_values(table, column) if v.lower() != old.lower()]
            if not values:
                return []
            choices.append(values)
        out: list[tuple[str, str]] = []
        for _ in range(n * 6):  # some draws repeat a question or find no rows
            if len(out) == n:
                break
            new_q, new_sql = _swap(question, tree, dict(zip(keys, (self._rng.choice(v) for v in choices))))
            if new_q.lower() in taken:
                continue
            try:
                result = await execute(self.pool, new_sql, self.limits)
            except AskdbError:
                continue
            if result.rows:
                taken.add(new_q.lower())
                out.append((new_q, new_sql))
        return out


def _key(slot: Slot) -> tuple[str, str, str]:
    return slot.table, slot.column, slot.literal.this.strip("%")


def _swap(question: str, tree: exp.Expression, values: dict[tuple[str, str, str], str]) -> tuple[str, str]:
    """The question and statement with each named slot's value replaced by its new one in `values`."""
    tree = tree.copy()
    spans = []
    for slot in named_slots(question, tree):
        value = values[_key(slot)]
        core = slot.literal.this.strip("%")
        slot.literal.replace(exp.Literal.string(slot.literal.this.replace(core, value, 1)))
        spans.append((slot.start, slot.end, value))
    # From the end, so earlier spans stay where they are; a span two slots share is swapped once.
    for start, end, value in sorted(set(spans), key=lambda s: -s[0]):
        question = question[:start] + value + question[end:]
    return question, tree.sql(dialect="postgres")
