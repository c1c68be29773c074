"""Variants of a verified pair with other values: one correction teaches its form for every value of its columns.

"Who teaches CE 4229 this semester?" / `... c.code = 'CE 4229' ...` gives "Who teaches CS 1010 this semester?" /
`... c.code = 'CS 1010' ...`. Only values the question names are swapped (a value it leaves unnamed, such as the term
behind "this semester", belongs to the form), in the question and the statement alike: a value compared with a column
for another value of that column (values of one table's row drawn together, so "Maria Gonzalez" becomes another
instructor's first and last name), a number compared with no column ("more than 8 courses", LIMIT 5) for a nearby
one. A variant is kept only if its statement runs and returns rows.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import asyncpg

from pipeline.database import quote_ident
from pipeline.errors import AskdbError
from pipeline.executor import ExecLimits, execute
from pipeline.linking import parse_statement
from pipeline.slots import Slot, clean_spans, named_slots, slot_key, swap_values

# A variant that scans a big join for nothing should not hold up an export.
VARIANT_LIMITS = ExecLimits(statement_timeout_ms=2_000, max_rows=200, max_result_bytes=1_000_000)


@dataclass
class VariantMaker:
    """Writes verified variants on one pool (the read-only role); column values are read once and kept."""
    pool: asyncpg.Pool
    seed: int = 42
    limits: ExecLimits = VARIANT_LIMITS
    _rows: dict[tuple[str, tuple[str, ...]], list[tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self):
        self._rng = random.Random(self.seed)

    async def row_values(self, table: str, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
        """Distinct value tuples (as text) of some columns of a table; none where the role cannot read them."""
        key = (table, columns)
        if key not in self._rows:
            cols = ", ".join(f"{quote_ident(c)}::text" for c in columns)
            not_null = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in columns)
            try:
                rows = await self.pool.fetch(f"SELECT DISTINCT {cols} FROM {quote_ident(table)} WHERE {not_null} "
                                             f"ORDER BY {cols} LIMIT 5000")
                self._rows[key] = [tuple(r) for r in rows]
            except asyncpg.PostgresError:
                self._rows[key] = []
        return self._rows[key]

    async def variants(self, question: str, sql: str, n: int, *, taken: set[str] | None = None
                       ) -> list[tuple[str, str]]:
        """Up to `n` (question, sql) variants that return rows; questions in `taken` (lower-cased) are skipped and
        the new ones added to it."""
        taken = taken if taken is not None else set()
        taken.add(question.lower())
        tree = parse_statement(sql)
        if tree is None:
            return []
        slots = named_slots(question, tree)
        if not slots or n <= 0 or not clean_spans(slots):
            return []
        groups = _groups(slots)
        choices = []
        for (alias, table), keys in groups.items():
            if table is None:
                choices.append([(str(v),) for v in _nearby(int(keys[0][2]))])
            else:
                old = tuple(k[2].lower() for k in keys)
                rows = await self.row_values(table, tuple(k[1] for k in keys))
                choices.append([r for r in rows if tuple(v.lower() for v in r) != old])
            if not choices[-1]:
                return []
        out: list[tuple[str, str]] = []
        for _ in range(n * 6):  # some draws repeat a question or find no rows
            if len(out) == n:
                break
            values = {}
            for keys, options in zip(groups.values(), choices):
                values.update(zip(keys, self._rng.choice(options)))
            new_q, new_sql = swap_values(question, tree, values)
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


def _groups(slots: list[Slot]) -> dict[tuple, list[tuple]]:
    """Slot keys by what they are drawn from together: one table alias's row, or one number on its own."""
    groups: dict[tuple, list[tuple]] = {}
    for s in slots:
        k = slot_key(s)
        g = groups.setdefault((s.alias if s.column else k[0], s.table), [])
        if k not in g:
            g.append(k)
    return groups


def _nearby(n: int) -> list[int]:
    """Other whole numbers a question of the same kind would name instead of `n`."""
    return sorted({v for v in (n - 2, n - 1, n + 1, n + 2, n * 2, n // 2) if v > 0 and v != n})
