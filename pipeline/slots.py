"""The values a question names in its own statement ("slots"), and swapping them for others.

"Who teaches CE 4229 this semester?" / `... c.code = 'CE 4229' ...` has one slot, `c.code`, named 'CE 4229'. Swapping
it writes the same pair for another course: feedback export does so to teach a correction's form for every value of
its columns (finetune.variants), retrieval to show the model an example with the new question's own values
(`adapt_example`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from sqlglot import exp

from .linking import parse_statement
from .prompt import Example

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)


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


def named_slots(question: str, tree: exp.Expression, relative: Sequence[tuple[int, int, str, str]] = ()) -> list[Slot]:
    """Literals whose value (without LIKE's %) the question names, case aside, in the order the question names them:
    strings compared with a column, numbers compared with a column or with nothing (HAVING counts, LIMIT).
    `relative`: (start, end, column, value) of the periods the question names relatively ('last fall')."""
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    out = []
    for lit in tree.find_all(exp.Literal):
        value = lit.this.strip("%") if lit.is_string else lit.this
        if len(value) < (2 if lit.is_string else 1):
            continue
        m = re.search(r"(?<![\w.])" + re.escape(value) + r"(?![\w.]\w|\w)", question, re.I)
        span = (m.start(), m.end()) if m else next(
            ((start, end) for start, end, _, name in relative if lit.is_string and name == lit.this), None)
        if span is None:
            continue
        parent = lit.parent
        col = parent.this if isinstance(parent, _COMPARISONS) and isinstance(parent.this, exp.Column) else None
        if col is None:
            # Only a number that bounds something ("more than 8", LIMIT 5): a string has no values to draw from,
            # and a number in a select list (`SELECT 1` in EXISTS) is no value of the question's.
            if not lit.is_string and isinstance(parent, (*_COMPARISONS, exp.Limit)) and value.isdigit():
                out.append(Slot(lit, None, None, None, *span))
            continue
        alias = col.table or (next(iter(aliases)) if len(aliases) == 1 else "")
        if alias in aliases:
            out.append(Slot(lit, alias, aliases[alias], col.name, *span))
    return sorted(out, key=lambda s: s.start)


def slot_key(slot: Slot) -> tuple[str | None, str | None, str]:
    """What one new value replaces: a value the statement compares twice with the same column is one key."""
    return (slot.alias, slot.column, slot.value) if slot.column else (f"#{slot.start}", None, slot.value)


def clean_spans(slots: list[Slot]) -> bool:
    """Whether every named span is one slot key and no two overlap ('CS' inside 'CS 1010' does not swap cleanly)."""
    by_span: dict[tuple[int, int], set] = {}
    for s in slots:
        by_span.setdefault((s.start, s.end), set()).add(slot_key(s))
    spans = sorted(by_span)
    return all(len(v) == 1 for v in by_span.values()) and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def swap_values(question: str, tree: exp.Expression, values: dict[tuple, str],
                relative: Sequence[tuple[int, int, str, str]] = ()) -> tuple[str, str]:
    """The question and statement with each named slot's value replaced by its new one in `values`."""
    tree = tree.copy()
    spans = {}
    for slot in named_slots(question, tree, relative):
        value = values[slot_key(slot)]
        if slot.literal.is_string:
            slot.literal.replace(exp.Literal.string(slot.literal.this.replace(slot.value, value, 1)))
        else:
            slot.literal.replace(exp.Literal.number(value))
        if value != slot.value:  # 'the current semester' stays as written where its period does
            spans[(slot.start, slot.end)] = value
    # From the end, so earlier spans stay where they are.
    for (start, end), value in sorted(spans.items(), key=lambda s: -s[0][0]):
        question = question[:start] + value + question[end:]
    return question, tree.sql(dialect="postgres")


def adapt_example(example: Example, values: Mapping[str, Sequence[str]], numbers: Sequence[str],
                  relative: Sequence[tuple[int, int, str, str]] = ()) -> Example:
    """The example asked with a new question's values: each value it names of a column the new question names
    values of (`values`: "table.column" -> stored values, in the question's order; `relative`: the periods the
    example's question names relatively), and its bounding numbers when both name as many (`numbers`). The model
    copies a shown example's form well but its values too (docs/benchmark-history.md)."""
    tree = parse_statement(example.sql)
    if tree is None:
        return example
    slots = named_slots(example.question, tree, relative)
    if not slots or not clean_spans(slots):
        return example
    new: dict[tuple, str] = {}
    by_column: dict[str, list[tuple]] = {}
    counted: list[tuple] = []
    for s in slots:
        key = slot_key(s)
        new[key] = s.value
        if s.column is not None and s.literal.is_string and f"{s.table}.{s.column}" in values:
            group = by_column.setdefault(f"{s.table}.{s.column}", [])
            if key not in group:
                group.append(key)
        elif not s.literal.is_string and key not in counted:
            counted.append(key)
    for column, keys in by_column.items():
        # Pairs in order only when counts agree: one course for one course, two names for two.
        if len(keys) == len(values[column]):
            new.update(zip(keys, values[column]))
    if counted and len(counted) == len(numbers):
        new.update(zip(counted, numbers))
    if all(new[slot_key(s)] == s.value for s in slots):
        return example
    question, sql = swap_values(example.question, tree, new, relative)
    return Example(question, sql)
