"""Every mend of the model's statement as one visible sequence of rules, as sqlglot's optimizer runs its RULES: the
question's words (`pipeline.grounding`), the schema's stored values (`pipeline.linking.SchemaLinker`), then how the
rows are shown (`pipeline.shaping`). Each rule is `(Mending, sql) -> sql`; every rewrite is traced."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .grounding import (add_numbers, ground_bounds, ground_but_not, ground_count, ground_exists_role,
                        ground_hops, ground_negation, ground_never, ground_requires, ground_superlative,
                        ground_total, order_asked, order_distinct, order_one_row)
from .linking import SchemaLinker
from .shaping import (above_average, compare_values, count_bounded, count_per_value, count_the_most, drop_fixed,
                      drop_unasked, ground_daytime, ground_popular, ground_top, ground_year,
                      group_each, how_long, list_all, list_asked, list_each, list_kinds, list_once, list_theirs,
                      list_values, more_than_named, name_fixed, name_not_short, name_numbered,
                      order_periods, order_people, order_sequence, order_unasked, same_as, show_child_compared,
                      show_compared, show_groups, show_parents, show_searched, show_when)

log = logging.getLogger("askdb.mend")


@dataclass(frozen=True)
class Mending:
    """What a rule reads besides the statement: the question, and with a linker the values and numbers it names and
    the periods it names relatively ('last fall' -> its start)."""
    question: str
    linker: SchemaLinker | None = None
    named: Mapping[str, Sequence[str]] = field(default_factory=dict)
    numbers: Sequence[str] = ()
    said: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One rule's rewrite of the statement, for the answer's trace (`askdb ask --explain`)."""
    rule: str
    before: str
    after: str


Rule = tuple[str, Callable[[Mending, str], str]]

# By the question's words alone.
WORD_RULES: tuple[Rule, ...] = (
    ("ground_bounds", lambda m, s: ground_bounds(m.question, s)),
    ("order_distinct", lambda m, s: order_distinct(s)),
    ("order_one_row", lambda m, s: order_one_row(s)),
    ("show_groups", lambda m, s: show_groups(s)),
    ("order_people", lambda m, s: order_people(m.question, s)),
)

# With the schema's stored values (pipeline.linking.SchemaLinker), in this order.
VALUE_RULES: tuple[Rule, ...] = (
    ("repair_columns", lambda m, s: m.linker.repair_columns(s)),
    ("ground_values", lambda m, s: m.linker.ground_values(s, m.named)),
    ("drop_unnamed", lambda m, s: m.linker.drop_unnamed(s, m.question, m.named)),
    ("drop_unasked_period", lambda m, s: m.linker.drop_unasked_period(s, m.question)),
    ("above_average", lambda m, s: above_average(m.question, s, m.linker)),
    ("list_all", lambda m, s: list_all(m.question, s, m.linker)),
    ("search_text", lambda m, s: m.linker.search_text(s)),
    ("add_searched", lambda m, s: m.linker.add_searched(s, m.question)),
    # Added before an invented condition is dropped (it is dropped only where others remain), and again after, for a
    # column it freed ('week 1 of data structures' written `c.title = 'Fall'`): mending twice changes nothing.
    ("add_named", lambda m, s: m.linker.add_named(s, m.named, m.question)),
    ("add_numbers", lambda m, s: add_numbers(m.question, s, m.linker, m.numbers)),
    ("drop_invented", lambda m, s: m.linker.drop_invented(s, m.question)),
    ("add_named", lambda m, s: m.linker.add_named(s, m.named, m.question)),
    ("ground_count", lambda m, s: ground_count(m.question, s, m.linker, m.named)),
    ("ground_total", lambda m, s: ground_total(m.question, s, m.linker)),
    ("count_bounded", lambda m, s: count_bounded(m.question, s, m.linker, m.numbers)),
    ("more_than_named", lambda m, s: more_than_named(m.question, s, m.named, m.linker)),
    # (A value of the table counted rows were joined from, 'students enrolled', added too.)
    ("add_named", lambda m, s: m.linker.add_named(s, m.named, m.question)),
    ("ground_top", lambda m, s: ground_top(m.question, s, m.linker)),
    ("ground_year", lambda m, s: ground_year(m.question, s, m.linker)),
    ("ground_popular", lambda m, s: ground_popular(m.question, s, m.linker)),
    ("ground_daytime", lambda m, s: ground_daytime(m.question, s, m.linker)),
    ("compare_values", lambda m, s: compare_values(m.question, s, m.named, m.linker)),
    ("how_long", lambda m, s: how_long(m.question, s, m.named, m.linker)),
    ("count_per_value", lambda m, s: count_per_value(m.question, s, m.linker)),
    ("name_not_short", lambda m, s: name_not_short(m.question, s, m.linker)),
    ("list_asked", lambda m, s: list_asked(m.question, s, m.linker)),
    ("drop_unasked", lambda m, s: drop_unasked(m.question, s, m.linker)),
    ("show_compared", lambda m, s: show_compared(m.question, s, m.linker)),
    ("order_unasked", lambda m, s: order_unasked(m.question, s, m.linker)),
    ("show_child_compared", lambda m, s: show_child_compared(s, m.linker)),
    ("order_sequence", lambda m, s: order_sequence(m.question, s, m.linker)),
    ("show_searched", lambda m, s: show_searched(s, m.linker)),
    ("show_when", lambda m, s: show_when(m.question, s, m.linker)),
    ("name_fixed", lambda m, s: name_fixed(m.question, s, m.linker)),
    ("list_theirs", lambda m, s: list_theirs(m.question, s, m.linker)),
    ("show_parents", lambda m, s: show_parents(s, m.linker)),
    ("name_numbered", lambda m, s: name_numbered(m.question, s, m.linker)),
    ("group_each", lambda m, s: group_each(m.question, s, m.linker)),
    ("drop_fixed", lambda m, s: drop_fixed(s, m.linker)),
    ("list_values", lambda m, s: list_values(m.question, s, m.linker)),
    ("order_periods", lambda m, s: order_periods(m.question, s, m.linker)),
    ("count_the_most", lambda m, s: count_the_most(m.question, s, m.linker)),
    ("ground_superlative", lambda m, s: ground_superlative(m.question, s, m.linker)),
    ("ground_hops", lambda m, s: ground_hops(m.question, s, m.linker)),
    ("ground_negation", lambda m, s: ground_negation(m.question, s, m.said, m.linker.cannot_hold)),
    ("ground_but_not", lambda m, s: ground_but_not(m.question, s, m.named, m.said)),
    ("ground_never", lambda m, s: ground_never(m.question, s)),
    ("ground_exists_role", lambda m, s: ground_exists_role(m.question, s, m.linker)),
    ("same_as", lambda m, s: same_as(m.question, s, m.linker)),
    ("ground_requires", lambda m, s: ground_requires(m.question, s, m.linker)),
    ("list_once", lambda m, s: list_once(s, m.linker)),
    ("list_each", lambda m, s: list_each(m.question, s, m.linker)),
    ("list_kinds", lambda m, s: list_kinds(m.question, s, m.linker)),
    ("order_asked", lambda m, s: order_asked(m.question, s, m.linker)),
)

RULES: tuple[Rule, ...] = WORD_RULES + VALUE_RULES


def mend(question: str, sql: str, linker: SchemaLinker | None = None,
         today: dt.date | None = None, *, skip: frozenset[str] = frozenset(), earlier: str = "") -> str:
    """`sql` mended by every rule of RULES in turn (the value rules only with a linker); see `mend_traced`."""
    return mend_traced(question, sql, linker, today, skip=skip, earlier=earlier)[0]


def mend_traced(question: str, sql: str, linker: SchemaLinker | None = None, today: dt.date | None = None, *,
                skip: frozenset[str] = frozenset(), earlier: str = "") -> tuple[str, tuple[Change, ...]]:
    """`sql` mended where it contradicts the question's words and the schema's values, and a Change per rule that
    rewrote it; rules named in `skip` are left out (ablation). `earlier` are the questions a follow-up continues:
    their words count too, but a value the follow-up names replaces theirs of the same column ('and in spring
    2026?'). A rewrite that fails leaves the statement as the model wrote it (logged, no changes): the guard and the
    read-only role still judge it. docs/mend-rules.md says what each rule does and the evidence for it."""
    try:
        return _mend(question, sql, linker, today, skip, earlier)
    except Exception:  # noqa: BLE001 - a heuristic's slip must not cost the asker the answer
        log.warning("mending failed for %r; the statement is used as written", question, exc_info=True)
        return sql, ()


def _mend(question: str, sql: str, linker: SchemaLinker | None, today: dt.date | None,
          skip: frozenset[str], earlier: str = "") -> tuple[str, tuple[Change, ...]]:
    text = f"{earlier} {question}" if earlier else question
    if linker is None:
        m, rules = Mending(text), WORD_RULES
    else:
        named, numbers, said = _named(linker, question, today)
        if earlier:
            before, before_numbers, before_said = _named(linker, earlier, today)
            named, numbers, said = {**before, **named}, numbers or before_numbers, {**before_said, **said}
        m, rules = Mending(text, linker, named, numbers, said), RULES
    changes = []
    for name, rule in rules:
        if name in skip:
            continue
        after = rule(m, sql)
        if after != sql:
            changes.append(Change(name, sql, after))
            sql = after
    return sql, tuple(changes)


def _named(linker: SchemaLinker, question: str, today: dt.date | None):
    """The values (by column) and numbers a question names, and the periods it names relatively."""
    named, numbers = linker.named_values(question, today)
    return named, numbers, {name.lower(): start for start, _, _, name in linker.relative_periods(question, today)}
