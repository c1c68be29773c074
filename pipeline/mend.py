"""Every mend of the model's statement, in order: the question's words (`pipeline.grounding`), the schema's stored
values (`pipeline.linking.SchemaLinker`), then how the rows are shown (`pipeline.shaping`)."""
from __future__ import annotations

import datetime as dt
import logging

from .grounding import (add_numbers, ground_bounds, ground_but_not, ground_count, ground_distinct, ground_exists_role,
                        ground_hops, ground_negation, ground_never, ground_requires, ground_roles, ground_superlative,
                        ground_total, order_distinct)
from .linking import SchemaLinker
from .shaping import (above_average, compare_values, count_bounded, count_per_value, count_the_most, drop_fixed,
                      drop_lookup_names, drop_unasked, ground_daytime, ground_popular, ground_top, ground_year,
                      group_each, how_long, list_all, list_asked, list_each, list_kinds, list_once, list_theirs,
                      list_values, more_than_named, name_fixed, name_groups, name_not_short, name_numbered,
                      order_periods, order_people, order_sequence, order_unasked, same_as, show_child_compared,
                      show_compared, show_groups, show_parents, show_searched, show_when)

log = logging.getLogger("askdb.mend")


def mend(question: str, sql: str, linker: SchemaLinker | None = None,
         today: dt.date | None = None) -> str:
    """Every mend by the question's words, in this order: bounds; DISTINCT (and no ORDER BY Postgres refuses with it);
    the grouped columns listed; people sorted by last then first name. With a linker: values spelled as stored and
    set to the one named ('this semester' on `today`); a value dropped from a column that cannot hold it where one
    that does compares it, or the question never says it, or no period was asked; a string or word searched in the
    column that holds it; a value or number the question names added where skipped; a stored number where rows were
    counted, and rows kept by how many of another table's rows they have counted (a number no word says dropped; a
    word only a joined child's text holds searched where the statement filters on what is never said); rows named
    by the name a code shortens; a grouped foreign key named by its table's naming columns; the rows of the table
    asked for listed, not those of a table it joins, without columns of theirs never asked for
    (where two columns name them), a compared date shown and a compared number not, sorted by a column they show;
    one row's children in the order a column numbering them gives (or heaviest first), showing it; rows found by a
    word in their name listed with it; their days and times where the question asks when, their room where it asks
    where (and which row each is, not who else); what is joined to the one row a question names, not that row again;
    rows no column of theirs names shown with the row they belong to (its code), and numbered ones by that code and
    their number; a count asked for each row of a table grouped by them; what names the rows where only a value the
    question sets was listed; a number every listed row shares not listed; the values of a kind of column where that
    is all the question names; numbers per period in calendar order unless a ranking is asked; the first row for
    'the one with the most' (counted where it has the most of another table's rows); a table's two keys to one table
    joined as the question names its row; NOT EXISTS for rows that lack something, and the side skipped of 'with one
    value but not another'; rows of one table listed once through joins that repeat them. A rewrite that fails
    leaves the statement as the model wrote it (logged): the guard and the read-only role still judge it."""
    try:
        return _mend(question, sql, linker, today)
    except Exception:  # noqa: BLE001 - a heuristic's slip must not cost the asker the answer
        log.warning("mending failed for %r; the statement is used as written", question, exc_info=True)
        return sql


def _mend(question: str, sql: str, linker: SchemaLinker | None, today: dt.date | None) -> str:
    """Every mend, in `mend`'s order."""
    sql = order_people(question, show_groups(order_distinct(ground_distinct(question, ground_bounds(question, sql)))))
    if linker is None:
        return sql
    named, numbers = linker.named_values(question, today)
    sql = linker.repair_columns(sql)
    sql = linker.drop_unasked_period(linker.drop_misplaced(linker.ground_values(sql, named)), question)
    sql = list_all(question, above_average(question, sql, linker), linker)
    sql = linker.add_searched(linker.search_text(sql), question)
    # Added before an invented condition is dropped (it is dropped only where others remain), and again after, for a
    # column it freed ('week 1 of data structures' written `c.title = 'Fall'`): mending twice changes nothing.
    sql = add_numbers(question, linker.add_named(sql, named, question), linker, numbers)
    sql = linker.drop_invented(sql, question)
    sql = ground_total(question, ground_count(question, linker.add_named(sql, named, question), linker, named), linker)
    sql = more_than_named(question, count_bounded(question, sql, linker, numbers), named, linker)
    # (A value of the table counted rows were joined from, 'students enrolled', added too.)
    sql = ground_year(question, ground_top(question, linker.add_named(sql, named, question), linker), linker)
    sql = ground_popular(question, sql, linker)
    sql = compare_values(question, ground_daytime(question, sql, linker), named, linker)
    sql = count_per_value(question, how_long(question, sql, named, linker), linker)
    sql = list_asked(question, name_groups(name_not_short(question, sql, linker), linker), linker)
    sql = order_unasked(question, show_compared(question, drop_unasked(question, sql, linker), linker), linker)
    sql = show_child_compared(drop_lookup_names(question, sql, linker), linker)
    sql = show_when(question, show_searched(order_sequence(question, sql, linker), linker), linker)
    sql = show_parents(list_theirs(question, name_fixed(question, sql, linker), linker), linker)
    sql = name_numbered(question, sql, linker)
    sql = drop_fixed(group_each(question, sql, linker), linker)
    sql = order_periods(question, list_values(question, sql, linker), linker)
    sql = ground_roles(question, ground_superlative(question, count_the_most(question, sql, linker), linker), linker)
    sql = ground_hops(question, sql, linker)
    said = {name.lower(): start for start, _, _, name in linker.relative_periods(question, today)}
    sql = ground_but_not(question, ground_negation(question, sql, said, linker.cannot_hold), named, said)
    sql = same_as(question, ground_exists_role(question, ground_never(question, sql), linker), linker)
    sql = ground_requires(question, sql, linker)
    return list_kinds(question, list_each(question, list_once(sql, linker), linker), linker)
