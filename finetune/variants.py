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
import re
from dataclasses import dataclass, field

import asyncpg
import sqlglot
from sqlglot import exp

from pipeline.database import quote_ident
from pipeline.errors import AskdbError
from pipeline.executor import ExecLimits, execute

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)
# A variant that scans a big join for nothing should not hold up an export.
VARIANT_LIMITS = ExecLimits(statement_timeout_ms=2_000, max_rows=200, max_result_bytes=1_000_000)


@dataclass(frozen=True)
class Slot:
    """A literal of the statement the question names: the column it is compared with (if any) and where it is named."""
    literal: exp.Literal
    alias: str | None  # the table alias of the column; None for a number compared with no column
    table: str | None
    column: str | None
    start: int
    end: int

    @property
    def value(self) -> str:
        return self.literal.this.strip("%") if self.literal.is_string else self.literal.this


def named_slots(question: str, tree: exp.Expression) -> list[Slot]:
    """Literals whose value (without LIKE's %) the question names, case aside, in the order the question names them:
    strings compared with a column, numbers compared with a column or with nothing (HAVING counts, LIMIT)."""
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    out = []
    for lit in tree.find_all(exp.Literal):
        value = lit.this.strip("%") if lit.is_string else lit.this
        if len(value) < (2 if lit.is_string else 1):
            continue
        m = re.search(r"(?<![\w.])" + re.escape(value) + r"(?![\w.]\w|\w)", question, re.I)
        if not m:
            continue
        parent = lit.parent
        col = parent.this if isinstance(parent, _COMPARISONS) and isinstance(parent.this, exp.Column) else None
        if col is None:
            # Only a number that bounds something ("more than 8", LIMIT 5): a string has no values to draw from,
            # and a number in a select list (`SELECT 1` in EXISTS) is no value of the question's.
            if not lit.is_string and isinstance(parent, (*_COMPARISONS, exp.Limit)) and value.isdigit():
                out.append(Slot(lit, None, None, None, m.start(), m.end()))
            continue
        alias = col.table or (next(iter(aliases)) if len(aliases) == 1 else "")
        if alias in aliases:
            out.append(Slot(lit, alias, aliases[alias], col.name, m.start(), m.end()))
    return sorted(out, key=lambda s: s.start)


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
        try:
            tree = sqlglot.parse_one(sql, read="postgres")
        except sqlglot.errors.SqlglotError:
            return []
        slots = named_slots(question, tree)
        if not slots or n <= 0 or not _clean_spans(slots):
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
            new_q, new_sql = _swap(question, tree, values)
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


def _key(slot: Slot) -> tuple[str | None, str | None, str]:
    # A value the statement compares twice with the same column gets one new value, in both places.
    return (slot.alias, slot.column, slot.value) if slot.column else (f"#{slot.start}", None, slot.value)


def _groups(slots: list[Slot]) -> dict[tuple, list[tuple]]:
    """Slot keys by what they are drawn from together: one table alias's row, or one number on its own."""
    groups: dict[tuple, list[tuple]] = {}
    for s in slots:
        k = _key(s)
        g = groups.setdefault((s.alias if s.column else k[0], s.table), [])
        if k not in g:
            g.append(k)
    return groups


def _clean_spans(slots: list[Slot]) -> bool:
    """Whether every named span is one slot key and no two overlap ('CS' inside 'CS 1010' does not swap cleanly)."""
    by_span: dict[tuple[int, int], set] = {}
    for s in slots:
        by_span.setdefault((s.start, s.end), set()).add(_key(s))
    spans = sorted(by_span)
    return all(len(v) == 1 for v in by_span.values()) and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def _nearby(n: int) -> list[int]:
    """Other whole numbers a question of the same kind would name instead of `n`."""
    return sorted({v for v in (n - 2, n - 1, n + 1, n + 2, n * 2, n // 2) if v > 0 and v != n})


def _swap(question: str, tree: exp.Expression, values: dict[tuple, str]) -> tuple[str, str]:
    """The question and statement with each named slot's value replaced by its new one in `values`."""
    tree = tree.copy()
    spans = {}
    for slot in named_slots(question, tree):
        value = values[_key(slot)]
        if slot.literal.is_string:
            slot.literal.replace(exp.Literal.string(slot.literal.this.replace(slot.value, value, 1)))
        else:
            slot.literal.replace(exp.Literal.number(value))
        spans[(slot.start, slot.end)] = value
    # From the end, so earlier spans stay where they are.
    for (start, end), value in sorted(spans.items(), key=lambda s: -s[0][0]):
        question = question[:start] + value + question[end:]
    return question, tree.sql(dialect="postgres")
