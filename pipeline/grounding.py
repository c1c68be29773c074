"""Mending the model's statement where it contradicts the question's plain words, without another generation.

A 135M model copies the comparison of the example it is shown ('capacity at least 100' -> `>=`) whatever bound the
question states ('over 40'), counts rows for any 'how many' ('how many credits is CS 2110' -> `count(*)`) and drops
a DISTINCT that 'list the distinct titles' asks for. Each is fixed by reading the question, as values are spelled
as stored (`SchemaLinker.ground_values`)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Callable

from sqlglot import exp

from .linking import (SchemaLinker, and_where, column_names, conditions, only_alias, parse_statement, table_nouns,
                      value_condition)
from .words import humanise, person_columns, respell, sequence_column, singular, words

_BOUNDS = (exp.GT, exp.GTE, exp.LT, exp.LTE)
# Words right before a number or date and what they make of it; checked in this order ('no more than' before
# 'more than').
_BEFORE = (
    (re.compile(r"\b(at|on) or (after|later than|above|over)\s*$"), exp.GTE),
    (re.compile(r"\b(at|on) or (before|earlier than|below|under)\s*$"), exp.LTE),
    (re.compile(r"\b(at least|no less than|no fewer than|not less than|since)\s*$"), exp.GTE),
    (re.compile(r"\b(at most|no more than|not more than|up to|until)\s*$"), exp.LTE),
    (re.compile(r"\b(more|greater|higher|bigger|larger|longer|later|older|newer)\s+than\s*$|"
                r"\b(over|above|after|exceeding|exceeds|beyond)\s*$"), exp.GT),
    (re.compile(r"\b(less|fewer|lower|smaller|shorter|earlier|younger)\s+than\s*$|\b(under|below|before)\s*$"),
     exp.LT),
)
_AFTER = (
    (re.compile(r"^\s*(\w+\s+)?or (more|greater|higher|above|later|after)\b"), exp.GTE),
    (re.compile(r"^\s*(\w+\s+)?or (less|fewer|lower|below|earlier|before)\b"), exp.LTE),
)
# A number that is one end of a range ('between 20 and 40') or one of a list ('3 or 4') is left to the model.
_RANGE = re.compile(r"\b(between|from|and|or)\s*$|(?<!\bup )\bto\s*$")
_RANGE_AFTER = re.compile(r"^\s*(to|and|or|-)\s*\d")  # the first end: '20 to 40', '3 or 4 credits'
# The words the mends read, so that one typed with a slip ('feewr than 5', 'how mnay credits') still reads as meant.
_PLAIN = frozenset(w for pattern, _ in _BEFORE + _AFTER for w in re.findall(r"[a-z]{4,}", pattern.pattern)) | {
    "many", "distinct", "unique", "total", "average", "each", "every", "between"}
_FLIP = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


def stated_bound(question: str, value: str) -> type[exp.Expression] | None:
    """How the question bounds `value` ('more than 30' -> GT, '4 credits' -> EQ); None where it does not name it
    or names it as one end of a range."""
    question = respell(question, _PLAIN)
    m = re.search(r"(?<![\w.:-])" + re.escape(value.lower()) + r"(?![\w.:-]?\w)", question)
    if m is None:
        return None
    before, after = question[:m.start()], question[m.end():]
    if _RANGE.search(before) or _RANGE_AFTER.search(after):
        return None
    for pattern, kind in _AFTER:
        if pattern.search(after):
            return kind
    for pattern, kind in _BEFORE:
        if pattern.search(before):
            return kind
    return exp.EQ


_CLOCK = re.compile(r"\b(1[0-2]|0?[1-9])(?::([0-5]\d))?\s*([ap])\.?m\b\.?")
_TIME = re.compile(r"(\d{1,2}):(\d\d)(?::\d\d)?")


def clock_24h(question: str) -> str:
    """`question` lower-cased with its clock times written as 24-hour times: 'after 3pm' -> 'after 15:00'."""
    def to24(m: re.Match) -> str:
        return f"{int(m.group(1)) % 12 + (12 if m.group(3) == 'p' else 0):02d}:{m.group(2) or '00'}"
    return _CLOCK.sub(to24, question.lower())


def _said_time(question: str, literal: str) -> str | None:
    """The 24-hour time the question says that `literal` ('3:00', '15:00:00') means, where it says one."""
    m = _TIME.fullmatch(literal)
    if m is None:
        return None
    hour, minutes = int(m.group(1)), m.group(2)
    said = re.findall(r"\b(\d\d):(\d\d)\b", question)
    # The same time, or the same hour read on a 12-hour clock ('3:00' for '3pm').
    fits = {f"{h}:{mm}" for h, mm in said if mm == minutes and int(h) % 12 == hour % 12}
    return fits.pop() if len(fits) == 1 else None


def ground_bounds(question: str, sql: str) -> str:
    """`sql` with each comparison of a number, date or time the question names set to the bound the question states
    ('over 40' is `> 40` where the model wrote `>= 40`; '4 credits' is `= 4`, not `<= 4`; 'after 3pm' is
    `> '15:00'` where it wrote `>= '3:00'`)."""
    tree = parse_statement(sql)
    if tree is None:
        return sql
    question = clock_24h(question)
    changed = False
    for node in list(tree.find_all(*_BOUNDS, exp.EQ)):
        left, right = node.this, node.expression
        flipped = isinstance(left, exp.Literal) and not isinstance(right, exp.Literal)
        lit, other = (left, right) if flipped else (right, left)
        if not isinstance(lit, exp.Literal) or isinstance(other, exp.Literal):
            continue
        time = _said_time(question, lit.this) if lit.is_string else None
        if time is not None and time != lit.this:
            lit = lit.replace(exp.Literal.string(time))
            left, right = (lit, right) if flipped else (left, lit)
            changed = True
        elif lit.is_string and not re.fullmatch(r"\d{4}-\d\d-\d\d", lit.this):
            continue  # a name: equality is the value grounding's business
        kind = stated_bound(question, lit.this)
        if kind is None or (isinstance(node, exp.EQ) and kind is exp.EQ):
            continue
        if isinstance(node, exp.EQ) and not isinstance(other, (exp.Column, exp.AggFunc)):
            continue
        kind = _FLIP[kind] if flipped else kind
        if type(node) is not kind:
            node.replace(kind(this=left.copy(), expression=right.copy()))
            changed = True
    return tree.sql(dialect="postgres") if changed else sql


def ground_distinct(question: str, sql: str) -> str:
    """`sql` selecting DISTINCT rows where the question asks for 'distinct' or 'unique' values and the statement
    neither removes duplicates nor aggregates."""
    if not re.search(r"\b(distinct|unique)\b", respell(question, _PLAIN)):
        return sql
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or tree.args.get("distinct") or tree.args.get("group"):
        return sql
    if any(e.find(exp.AggFunc) for e in tree.expressions):
        return sql
    return tree.distinct().sql(dialect="postgres")


def order_distinct(sql: str) -> str:
    """`sql` without the ORDER BY items of a SELECT DISTINCT that are not in its select list, which Postgres refuses
    ('for SELECT DISTINCT, ORDER BY expressions must appear in select list'): the rows stay the asked ones."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or not tree.args.get("distinct") or not tree.args.get("order"):
        return sql
    if tree.args["distinct"].args.get("on"):
        return sql  # DISTINCT ON has its own rule for the ORDER BY
    shown = {e.unalias().sql() for e in tree.expressions} | {e.alias for e in tree.expressions if e.alias}
    order = tree.args["order"]
    kept = [o for o in order.expressions if o.this.sql() in shown]
    if len(kept) == len(order.expressions):
        return sql
    if kept:
        order.set("expressions", kept)
    else:
        tree.set("order", None)
    return tree.sql(dialect="postgres")


def show_groups(sql: str) -> str:
    """`sql` listing the columns it groups by where it lists none of them: 'How many sections did each term have?'
    answered with counts alone does not say which term has which."""
    tree = parse_statement(sql)
    group = tree.args.get("group") if isinstance(tree, exp.Select) else None
    if group is None or not all(isinstance(k, exp.Column) for k in group.expressions):
        return sql
    listed = {(c.table, c.name) for e in tree.expressions for c in e.find_all(exp.Column)}
    if any((k.table, k.name) in listed for k in group.expressions):
        return sql
    tree.set("expressions", [k.copy() for k in group.expressions] + list(tree.expressions))
    return tree.sql(dialect="postgres")


def name_groups(sql: str, linker: SchemaLinker) -> str:
    """`sql` grouping by a foreign key whose table it joins (`GROUP BY s.term_id` with `terms t ON t.id = s.term_id`)
    grouping by, listing and sorting by that table's naming columns instead: an id says nothing to the asker."""
    tree = parse_statement(sql)
    group = tree.args.get("group") if isinstance(tree, exp.Select) else None
    if group is None or len(group.expressions) != 1 or not isinstance(group.expressions[0], exp.Column):
        return sql
    key = group.expressions[0]
    tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    refs = {(col, ref, ref_col) for child, col, ref, ref_col in linker.joins if child == tables.get(key.table)
            and col == key.name}
    joined = [(on.this if on.expression == key else on.expression) for j in tree.args.get("joins") or ()
              if _column_pair(on := j.args.get("on")) and key in (on.this, on.expression)]
    parents = [c for c in joined if any(tables.get(c.table) == ref and c.name == ref_col for _, ref, ref_col in refs)]
    if len(parents) != 1 or not linker.names.get(tables[parents[0].table]):
        return sql
    names = [exp.column(n, table=parents[0].table) for n in linker.names[tables[parents[0].table]]]
    same = lambda node: isinstance(node, exp.Column) and (node.table, node.name) == (key.table, key.name)  # noqa: E731
    listed = []
    for e in tree.expressions:
        listed += [n.copy() for n in names] if same(e) else [e]
    tree.set("expressions", listed)
    group.set("expressions", [n.copy() for n in names])
    order = tree.args.get("order")
    if order is not None:
        keys = []
        for k in order.expressions:
            keys += [exp.Ordered(this=n, desc=k.args.get("desc")) for n in _name_order(names)] if same(k.this) else [k]
        order.set("expressions", keys)
    return tree.sql(dialect="postgres")


_ASKS_SHORT = re.compile(r"\b(codes?|abbreviat\w*|acronyms?|short\s+names?|initials)\b")


def name_not_short(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` naming rows by the name a code only shortens (departments' 'Computer Engineering', not 'CE'): the code
    dropped where the name is listed too or the question already names the row, listed as the name otherwise;
    unchanged where the question asks for codes or names rows by theirs ('the names of CE and EE')."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or not linker.short or _ASKS_SHORT.search(question.lower()):
        return sql
    qualified = column_names(tree)
    picked = {qualified(node.this) for node in tree.find_all(exp.EQ) if value_condition(node)}
    # Rows asked for by their codes ('the names of CE and EE') are told apart by them.
    by_code = {qualified(node.this) for node in tree.find_all(exp.In) if isinstance(node.this, exp.Column)}
    listed, changed = [], {}
    for e in tree.expressions:
        c = e.unalias()
        table, _, name = (qualified(c) or "").partition(".") if isinstance(c, exp.Column) else ("", "", "")
        full = linker.short.get(table, {}).get(name)
        if full is None or f"{table}.{name}" in by_code:
            listed.append(e)
            continue
        to = exp.column(full, table=c.table or None)
        changed[(c.table, c.name)] = to
        shown = any(isinstance(o := x.unalias(), exp.Column) and (o.table, o.name) == (c.table, full)
                    for x in tree.expressions)
        if not shown and not (len(tree.expressions) > 1 and {f"{table}.{name}", f"{table}.{full}"} & picked):
            listed.append(exp.alias_(to.copy(), e.alias) if e.alias else to.copy())
    if not changed or not listed:
        return sql
    tree.set("expressions", listed)
    for clause in ("group", "order"):
        node = tree.args.get(clause)
        for c in list(node.find_all(exp.Column)) if node else ():
            if (c.table, c.name) in changed:
                c.replace(changed[c.table, c.name].copy())
        if node is not None:
            keys = []
            for k in node.expressions:  # the code and its name both grouped or sorted by: the name once
                if k.sql() not in [x.sql() for x in keys]:
                    keys.append(k)
            node.set("expressions", keys)
    return tree.sql(dialect="postgres")


def group_each(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` counting or summing once where the question asks for it per row of a table the statement reads ('How
    many students are in each section of CS 1010?'): grouped by, listing and sorted by the columns naming that
    table's rows (its name, else its number: `section_number`)."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "limit", "distinct")):
        return sql
    if not tree.expressions or not all(isinstance(e.unalias(), (exp.Count, exp.Sum)) for e in tree.expressions):
        return sql
    said = [singular(w) for w in words(question)]
    for i, w in enumerate(said[:-1]):
        if w not in ("each", "every", "per"):
            continue
        for noun in (" ".join(said[i + 1:i + 3]), said[i + 1]):
            items = linker.tables.get(noun, frozenset())
            table = next(iter(items)).removeprefix("tab:") if len(items) == 1 else None
            alias = only_alias(tree, table) if table else None
            if alias is None:
                continue
            keys = linker.names.get(table) or tuple(c for c in _columns_of(linker, table)
                                                    if c in ("number", f"{singular(humanise(table))}_number"))
            if not keys:
                return sql
            qualify = alias if len(list(tree.find_all(exp.Table))) > 1 else None
            cols = [exp.column(k, table=qualify) for k in keys]
            tree.set("expressions", [c.copy() for c in cols] + list(tree.expressions))
            tree.set("group", _group_by_row(linker, table, qualify, cols))
            tree.set("order", exp.Order(expressions=[exp.Ordered(this=k) for k in _name_order(cols)]))
            return tree.sql(dialect="postgres")
    return sql


def _group_by_row(linker: SchemaLinker, table: str, alias: str | None, names: list[exp.Column]) -> exp.Group:
    """GROUP BY one row of `table`: its key, where a foreign key names it, and the columns naming it (two people of
    one name, or section 1 of two courses, are two rows)."""
    key = sorted({ref_col for _, _, ref, ref_col in linker.joins if ref == table})[:1]
    return exp.Group(expressions=[exp.column(k, table=alias) for k in key] + [c.copy() for c in names])


def _columns_of(linker: SchemaLinker, table: str) -> set[str]:
    """The columns of `table` the linker knows by word."""
    return {item.split(".", 1)[1] for items in linker.columns.values() for item in items
            if item.startswith(f"col:{table}.")}


def drop_fixed(sql: str, linker: SchemaLinker) -> str:
    """`sql` listing rows by their names without a number every one of them has (`c.credits` of 'Which EE courses
    are worth 3 credits?', set by an equality), nor sorting by it: a column of one value says nothing per row."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "distinct")):
        return sql
    qualified = column_names(tree)
    fixed = {qualified(node.this) for node in conditions(tree.args.get("where"))
             if isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and isinstance(node.expression,
                                                                                             exp.Literal)}
    listed = [e.unalias() for e in tree.expressions]
    if not all(isinstance(c, exp.Column) for c in listed):
        return sql
    drop = [c for c in listed if qualified(c) in fixed and f"col:{qualified(c)}" in linker.numeric]
    kept = [c for c in listed if c not in drop]
    names = [c for c in kept if c.name in linker.names.get((qualified(c) or ".").split(".")[0], ())]
    if not drop or not names:
        return sql
    tree.set("expressions", [e for e in tree.expressions if e.unalias() not in drop])
    order = tree.args.get("order")
    if order is not None and any(k.this in drop for k in order.expressions):
        rest = [k for k in order.expressions if k.this not in drop]
        order.set("expressions", rest or [exp.Ordered(this=k) for k in _name_order(names)])
    return tree.sql(dialect="postgres")


# A column of this many values or fewer is a kind of thing ('Lecturer', 'Professor'), not a name of each row.
_FEW_VALUES = 20


def list_values(question: str, sql: str, linker: SchemaLinker) -> str:
    """The different values of one kind-of column where that is all the question names ('list all the assessment
    kinds', 'what meeting day patterns are used?'): no stored value, number, period, count, bound or negation, and
    the statement does not already list that column alone."""
    links = linker.question_links(question)
    if any(item.startswith(("val:", "agg:", "cmp:")) for item in links) or re.search(r"\d", question) or \
            _NEGATION.search(question.lower()) or linker.relative_periods(question, None):
        return sql
    asked = [item.removeprefix("col:") for item in links if item.startswith("col:")]
    if len(asked) != 1 or asked[0] not in linker.complete:
        return sql
    table, column = asked[0].split(".")
    named = {item.removeprefix("tab:") for item in links if item.startswith("tab:")}
    if named - {table} or sum(f"val:{asked[0]}" in items for items in linker.values.values()) > _FEW_VALUES:
        return sql  # ('number of course topics' asks for no section number)
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or tree.args.get("group") or any(e.find(exp.AggFunc) for e in tree.expressions):
        return sql
    # A string the statement compares that the question says is a value it names, if not as stored ('with
    # neural in the description', 'meeting days t').
    said = set(words(question))
    if any(lit.is_string and set(words(lit.this)) & said for lit in tree.find_all(exp.Literal)):
        return sql
    listed = [e.unalias() for e in tree.expressions]
    if len(listed) == 1 and isinstance(listed[0], exp.Column) and listed[0].name == column:
        return sql
    return f"SELECT DISTINCT {column} FROM {table} ORDER BY {column}"


def order_people(question: str, sql: str) -> str:
    """`sql` listing people's first and last names sorted by last then first name where it sorts by either name
    alone and the question asks for no order by name: namesakes otherwise come in any order."""
    tree = parse_statement(sql)
    order = tree.args.get("order") if isinstance(tree, exp.Select) else None
    if order is None or re.search(r"\b(first|given|last|family)\s+names?\b|\bsurname|alphabetic", question.lower()):
        return sql
    keys = order.expressions
    if not all(isinstance(k.this, exp.Column) and not k.args.get("desc") for k in keys):
        return sql
    tables = {k.this.table for k in keys}
    shown = {(c.table, c.name): c for e in tree.expressions if isinstance(c := e.unalias(), exp.Column)}
    (table,) = tables if len(tables) == 1 else (None,)
    pair = person_columns(n for t, n in shown if t == table)
    if table is None or pair is None or {k.this.name for k in keys} - set(pair):
        return sql
    wanted = _name_order([shown[table, n] for n in pair])
    if [k.this.name for k in keys] == [c.name for c in wanted]:
        return sql
    order.set("expressions", [exp.Ordered(this=k) for k in wanted])
    return tree.sql(dialect="postgres")


def mend(question: str, sql: str, linker: SchemaLinker | None = None,
         today: dt.date | None = None) -> str:
    """Every mend by the question's words, in this order: bounds; DISTINCT (and no ORDER BY Postgres refuses with
    it); the grouped columns listed; people sorted by last then first name. With a linker: values spelled as stored
    and set to the one named ('this semester' on `today`); a value dropped from a column that cannot hold it where one
    that does compares it, or the question never says it, or no period was asked; a string or word searched in the
    column that holds it; a value or number the question names added where skipped; a stored number where rows were
    counted; rows named by the name a code shortens; a grouped foreign key named by its table's naming columns; the
    rows of the table asked for listed, not those of a table it joins, sorted by a column they show; one row's
    children in the order a column numbering them gives; a count asked for each row of a table grouped by them; a
    number every listed row shares not listed; the values of a kind of column where that is all the question names;
    numbers per period in calendar order unless a ranking is asked; the first row for 'the one with the most'
    (counted where it has the most of another table's rows); a table's two keys to one table joined as the question
    names its row; NOT EXISTS for rows that lack something."""
    sql = order_people(question, show_groups(order_distinct(ground_distinct(question, ground_bounds(question, sql)))))
    if linker is None:
        return sql
    named, numbers = linker.named_values(question, today)
    sql = linker.drop_unasked_period(linker.drop_misplaced(linker.ground_values(sql, named)), question)
    sql = linker.add_searched(linker.search_text(sql), question)
    # Added before an invented condition is dropped (it is dropped only where others remain), and again after, for a
    # column it freed ('week 1 of data structures' written `c.title = 'Fall'`): mending twice changes nothing.
    sql = linker.drop_invented(add_numbers(question, linker.add_named(sql, named), linker, numbers), question)
    sql = ground_count(question, linker.add_named(sql, named), linker)
    sql = order_unasked(question, list_asked(question, name_groups(name_not_short(question, sql, linker), linker),
                                             linker), linker)
    sql = drop_fixed(group_each(question, order_sequence(question, sql, linker), linker), linker)
    sql = order_periods(question, list_values(question, sql, linker), linker)
    sql = ground_roles(question, ground_superlative(question, count_the_most(question, sql, linker), linker), linker)
    said = {name.lower(): start for start, _, _, name in linker.relative_periods(question, today)}
    return ground_negation(question, sql, said, linker.cannot_hold)


def add_numbers(question: str, sql: str, linker: SchemaLinker, numbers: list[str]) -> str:
    """`sql` comparing a number column with a whole number the question states beside that column's word ('worth 4
    credits', 'admitted in 2025', 'week 1') as the question bounds it, where the statement never compares the column
    nor uses the number; `numbers` are the question's numbers outside stored values (`named_values`)."""
    tree = parse_statement(sql) if numbers else None
    if not isinstance(tree, exp.Select):
        return sql
    raw, changed = words(question), False
    used = {lit.this for lit in tree.find_all(exp.Literal)}
    compared = {(c.table, c.name) for node in tree.find_all(exp.Predicate) for c in node.find_all(exp.Column)}
    aliases = {t.name: only_alias(tree, t.name) for t in tree.find_all(exp.Table)}
    for i, number in enumerate(raw):
        kind = stated_bound(question, number) if number in numbers and number not in used else None
        if kind is None:
            continue
        # The word after the number names its column ('4 credits'), else the nearest of the three before it.
        for word in raw[i + 1:i + 2] + raw[max(0, i - 3):i][::-1]:
            fits = [(aliases[item[4:].split(".")[0]], item.split(".")[1]) for item in linker.columns_named(word)
                    if item in linker.numeric and aliases.get(item[4:].split(".")[0])]
            if fits:
                break
        if len(fits) != 1:
            continue
        column = exp.column(fits[0][1], table=fits[0][0] if len(aliases) > 1 else None)
        if (column.table, column.name) in compared or ("", column.name) in compared:
            continue
        and_where(tree, kind(this=column, expression=exp.Literal.number(number)))
        used.add(number)
        changed = True
    return tree.sql(dialect="postgres") if changed else sql


_MOST, _LEAST = "most|highest|largest|biggest|greatest", "least|lowest|smallest|fewest"
# 'at least' and 'at most' are bounds, not superlatives.
_SUPERLATIVE = re.compile(rf"\b(?:the|which|what)\b[\w\s]*?(?<!\bat )\b(?:({_MOST}|maximum)|({_LEAST}|minimum))\b")
# Several asked for: 'top 3', 'the 2 largest'.
_SEVERAL = re.compile(rf"\b(top|first|last)\s+\d+|\b\d+\s+(\w+\s+)?({_MOST}|{_LEAST})\b")


_RANKED = re.compile(rf"\b({_MOST}|{_LEAST}|top|max\w*|min\w*|rank\w*|popular|busiest|sort\w*|order\w*)\b")


def order_periods(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` giving a number per period (term) sorted by that number where the question asks for no ranking ('How
    many sections did each term have?'): the periods in calendar order, by their start."""
    tree = parse_statement(sql)
    group, order = (tree.args.get("group"), tree.args.get("order")) if isinstance(tree, exp.Select) else (None, None)
    if group is None or order is None or tree.args.get("limit") or _RANKED.search(respell(question, _PLAIN)):
        return sql
    aggregates = {e.alias for e in tree.expressions if e.alias and e.unalias().find(exp.AggFunc)}
    if not all(k.this.find(exp.AggFunc) or isinstance(k.this, exp.Column) and not k.this.table
               and k.this.name in aggregates for k in order.expressions):
        return sql
    tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    for key in group.expressions:
        table = tables.get(key.table) if isinstance(key, exp.Column) else None
        if table is None and isinstance(key, exp.Column) and len(tables) == 1:
            table = next(iter(tables.values()))
        period = next((p for p in linker.periods if (p.table, p.column) == (table, key.name) and p.start), None)
        if period is not None:
            start = exp.column(period.start, table=key.table or None)
            if all(k != start for k in group.expressions):
                group.append("expressions", start.copy())
            order.set("expressions", [exp.Ordered(this=start)])
            return tree.sql(dialect="postgres")
    return sql


def ground_superlative(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` ordered by its one number column and cut to the first row where the question asks for the one with the
    most or least of something ('which assessment is worth the most in CS 1010') and the statement lists every row
    (no LIMIT, grouping or aggregate); not for 'top 3' or 'the 2 largest', which ask for several."""
    question = respell(question, _PLAIN)
    m = _SUPERLATIVE.search(question)
    if m is None or _SEVERAL.search(question):
        return sql
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("limit", "group", "having")):
        return sql
    if len(tree.expressions) == 1 and isinstance(tree.expressions[0].unalias(), (exp.Max, exp.Min)):
        _name_the_extreme(question, tree, linker)
    if any(e.find(exp.AggFunc) for e in tree.expressions):
        return sql
    qualified = column_names(tree)
    numbers = [e.unalias() for e in tree.expressions
               if isinstance(e.unalias(), exp.Column) and f"col:{qualified(e.unalias())}" in linker.numeric]
    if len(numbers) != 1:
        return sql
    order = exp.Ordered(this=numbers[0].copy(), desc=bool(m.group(1)))
    tree.set("order", exp.Order(expressions=[order]))
    return tree.limit(1).sql(dialect="postgres")


def count_the_most(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing the rows of one table joined to another where the question asks which has the most (or fewest)
    of the other's rows ('Which instructor teaches the most sections this semester?'): counted per row, the first
    by that count."""
    said = [singular(w) for w in words(respell(question, _PLAIN))]
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "limit")) or \
            re.search(r"\d", question):
        return sql  # ('the 3 instructors with the most sections' asks for several)
    listed = [e.unalias() for e in tree.expressions]
    if not listed or not all(isinstance(c, exp.Column) and c.table for c in listed) or \
            len({c.table for c in listed}) != 1:
        return sql
    tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    table = tables.get(listed[0].table)
    if table is None or not {c.name for c in listed} <= set(linker.names.get(table, ())):
        return sql
    for i, w in enumerate(said[:-1]):
        if not re.fullmatch(f"{_MOST}|{_LEAST}", w):
            continue
        counted = [t for t in tables.values() if t != table and said[i + 1] in table_nouns(t)]
        if len(counted) != 1 or list(tables.values()).count(counted[0]) != 1:
            return sql
        n = exp.alias_(exp.Count(this=exp.Star()), "n")
        tree.set("distinct", None)
        tree.set("expressions", [c.copy() for c in listed] + [n])
        tree.set("group", _group_by_row(linker, table, listed[0].table, listed))
        desc = not re.fullmatch(_LEAST, w)
        tree.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column("n"), desc=desc or None)]))
        return tree.limit(1).sql(dialect="postgres")
    return sql


def _name_the_extreme(question: str, tree: exp.Select, linker: SchemaLinker) -> None:
    """In place: `SELECT max(x)` listing the columns that name its row and x instead, where the question asks for
    the row ('which assessment counts the most', 'the highest weighted assessment'), not the number ('the highest
    weight of an assessment')."""
    column = tree.expressions[0].unalias().this
    tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    table = tables.get(column.table) if column.table else next(iter(tables.values())) if len(tables) == 1 else None
    if not isinstance(column, exp.Column) or table is None or not linker.names.get(table):
        return
    said = [singular(w) for w in words(question)]
    nouns = table_nouns(table)
    top = next((i for i, w in enumerate(said) if re.fullmatch(f"{_MOST}|{_LEAST}|maximum|minimum", w)), len(said))
    # 'which assessment ...', or the noun at most two words after the superlative with no 'of'/'for' between.
    asks_row = said[:1] in (["which"], ["what"]) and bool(set(said[1:3]) & nouns) or any(
        w in nouns and not set(said[top + 1:i]) & {"of", "for", "across", "among", "in", "per"}
        for i, w in enumerate(said[top + 1:top + 3], start=top + 1))
    if not asks_row:
        return
    tree.set("expressions", [exp.column(n, table=column.table or None) for n in linker.names[table]] + [column.copy()])


def list_asked(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing the rows of the table the question asks for ('List all the graduate courses': the courses'
    code and title) where it lists the naming columns of another table it joins (the departments'), sorted by the
    first of them."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "limit")):
        return sql
    asked = _asked_table(question, linker)
    listed = [e.unalias() for e in tree.expressions]
    if asked is None or not linker.names.get(asked) or not all(isinstance(c, exp.Column) and c.table for c in listed):
        return sql
    tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    shown = {c.table for c in listed}
    target = only_alias(tree, asked)
    # A table whose row a name or code picks ('courses of the Physics department') is not what is listed; a
    # category ('graduate courses') picks no one row.
    picks = lambda t: {*linker.names.get(t, ()), *linker.short.get(t, {})}  # noqa: E731
    picked = {node.this.table for node in tree.find_all(exp.EQ) if value_condition(node)
              and node.this.name in picks(tables.get(node.this.table))}
    if len(shown) != 1 or target is None or target in shown | picked:
        return sql
    (alias,) = shown
    if tables.get(alias) == asked or not {c.name for c in listed} <= set(linker.names.get(tables.get(alias), ())):
        return sql
    names = [exp.column(n, table=target) for n in linker.names[asked]]
    tree.set("expressions", names)
    tree.set("order", exp.Order(expressions=[exp.Ordered(this=k) for k in _name_order(names)]))
    return tree.sql(dialect="postgres")


def order_unasked(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing rows sorted by a column it neither lists nor the question names ('Show me all the math courses'
    sorted by credits) sorted by the first column that names its rows instead (people by last then first name)."""
    tree = parse_statement(sql)
    order = tree.args.get("order") if isinstance(tree, exp.Select) else None
    if order is None or any(tree.args.get(k) for k in ("group", "having", "limit")):
        return sql
    listed = [e.unalias() for e in tree.expressions]
    if not all(isinstance(c, exp.Column) for c in listed) or len({c.table for c in listed}) != 1:
        return sql
    qualified = column_names(tree)
    named = set().union(*(linker.columns_named(w) for w in words(question)))
    shown = {(c.table, c.name) for c in listed}
    for key in order.expressions:
        c = key.this
        if not isinstance(c, exp.Column) or (c.table, c.name) in shown or f"col:{qualified(c)}" in named:
            return sql
    table = qualified(listed[0]).split(".")[0] if qualified(listed[0]) else None
    names = [c for c in listed if c.name in linker.names.get(table, ())]
    if not names:
        return sql
    order.set("expressions", [exp.Ordered(this=k) for k in _name_order(names)])
    return tree.sql(dialect="postgres")


_IN_ORDER_ASKED = re.compile(r"\balphabetic|\b(a|z)\s*(-|to)\s*(z|a)\b|\bsort|\border\b|\bby\b")


def order_sequence(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing one row's children (the topics of one course) in the order a column numbering them gives (week)
    where it sorts them by a text column and the question asks for no order; 'the first/last topic of X' cut to that
    one."""
    tree = parse_statement(sql)
    order = tree.args.get("order") if isinstance(tree, exp.Select) else None
    said = question.lower()
    if order is None or any(tree.args.get(k) for k in ("group", "having")) or _IN_ORDER_ASKED.search(said):
        return sql
    keys = [k.this for k in order.expressions]
    if not all(isinstance(c, exp.Column) for c in keys) or len({c.table for c in keys}) != 1:
        return sql
    qualified = column_names(tree)
    table, alias = (qualified(keys[0]) or ".").split(".")[0], keys[0].table
    if any(f"col:{qualified(c)}" in linker.numeric for c in keys) or not table:
        return sql
    seq = [c.split(".")[1] for c in linker.numeric
           if c.startswith(f"col:{table}.") and sequence_column(c.split(".")[1])]
    parents = {(col, ref) for child, col, ref, _ in linker.joins if child == table}
    tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    # One parent row picked by a value ('of Computer Networks'): weeks of different courses are no one sequence.
    one_parent = any(value_condition(node) and (tables.get(node.this.table) in {r for _, r in parents} or (
        node.this.table == alias and node.this.name in {c for c, _ in parents})) for node in tree.find_all(exp.EQ))
    fixed = {qualified(n.this) for n in conditions(tree.args.get("where")) if isinstance(n, exp.EQ)}
    if len(seq) != 1 or not one_parent or tree.args.get("distinct") or f"{table}.{seq[0]}" in fixed:
        return sql  # (a week fixed by 'in week 1' orders nothing)
    key = exp.column(seq[0], table=alias or None)
    nouns = "|".join(re.escape(n) for n in sorted(table_nouns(table), key=len, reverse=True))
    end = re.search(rf"\b(first|last|final)\s+(?:\w+\s+)?(?:{nouns})s?\b", said)
    if end and not tree.args.get("limit"):
        last = end.group(1) != "first"
        order.set("expressions", [exp.Ordered(this=key, desc=True) if last else exp.Ordered(this=key)])
        return tree.limit(1).sql(dialect="postgres")
    order.set("expressions", [exp.Ordered(this=key)])
    return tree.sql(dialect="postgres")


def _name_order(named: list[exp.Column]) -> list[exp.Column]:
    """How rows named by these columns are sorted: people by last then first name, else by the first column."""
    by = {c.name: c for c in named}
    pair = person_columns(by)
    return [by[pair[1]].copy(), by[pair[0]].copy()] if pair else [named[0].copy()]


def _asked_table(question: str, linker: SchemaLinker) -> str | None:
    """The table the question's first table noun names ('Which graduate courses does ...': courses); none for 'who'
    ('Who teaches graduate courses?' asks for people whatever table the noun names)."""
    said = [singular(w) for w in words(question)]
    if said[:1] in (["who"], ["whom"], ["whose"]):
        return None
    for i, w in enumerate(said):
        for noun in (" ".join(said[i:i + 2]), w):
            items = linker.tables.get(noun, frozenset())
            if len(items) == 1:
                return next(iter(items)).removeprefix("tab:")
    return None


def ground_count(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` returning the stored number a 'how many <numeric column>' question asks for ('how many credits is
    CS 2110': `credits`) where it counts rows instead; unchanged otherwise (a total, a count per group)."""
    question = respell(question, _PLAIN)
    asked = linker.stored_number(question)
    if not asked or re.search(r"\b(total|sum|average|avg|mean|each|per|every)\b", question):
        return sql
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or tree.args.get("group") or len(tree.expressions) != 1:
        return sql
    count = tree.expressions[0].unalias()
    if not isinstance(count, exp.Count):
        return sql
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    columns = [item.removeprefix("col:").split(".", 1) for item in sorted(asked)]
    fits = [(alias, column) for table, column in columns for alias, name in aliases.items() if name == table]
    if len(fits) != 1:
        return sql
    alias, column = fits[0]
    tree.expressions[0].replace(exp.column(column, table=alias if len(aliases) > 1 else None))
    return tree.sql(dialect="postgres")


def ground_roles(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` joining a table with two keys to one table (prerequisites.course_id and .prerequisite_id) the way round
    the question names its row: 'prerequisites for CE 4229' names the course, 'courses with CE 4229 as a
    prerequisite' the prerequisite; unchanged where the question does not say, or the statement already agrees."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select):
        return sql
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    for bridge, table in aliases.items():
        by_ref: dict[str, list[tuple[str, str]]] = {}
        for child, column, ref, ref_column in linker.joins:
            if child == table:
                by_ref.setdefault(ref, []).append((column, ref_column))
        for ref, keys in by_ref.items():
            # The role is the key not named like the table it points at: prerequisite_id, not course_id.
            roles = [c for c, _ in keys if singular(humanise(c)) not in table_nouns(ref)]
            if len(keys) != 2 or len(roles) != 1:
                continue
            joined = _key_joins(tree, bridge, {c for c, _ in keys}, {a for a, t in aliases.items() if t == ref},
                                {r for _, r in keys})
            named = [(node.this.table, node.expression.this) for node in tree.find_all(exp.EQ)
                     if value_condition(node) and node.this.table in joined]
            if len(joined) != 2 or len({c.name for c in joined.values()}) != 2 or len(named) != 1:
                continue
            alias, value = named[0]
            side = _named_role(question, value, humanise(roles[0]))
            if side is None or side == (joined[alias].name == roles[0]):
                continue
            first, second = joined.values()
            name = first.name
            first.set("this", exp.to_identifier(second.name))
            second.set("this", exp.to_identifier(name))
            return tree.sql(dialect="postgres")
    return sql


def _key_joins(tree: exp.Select, bridge: str, keys: set[str], targets: set[str],
               ref_columns: set[str]) -> dict[str, exp.Column]:
    """For each alias of the referenced table joined as `target.id = bridge.key`: the key's column node."""
    found = {}
    for node in tree.find_all(exp.EQ):
        sides = [node.this, node.expression]
        if not all(isinstance(s, exp.Column) for s in sides):
            continue
        for key, target in (sides, sides[::-1]):
            if key.table == bridge and key.name in keys and target.table in targets and target.name in ref_columns:
                found[target.table] = key
    return found


def _named_role(question: str, value: str, role: str) -> bool | None:
    """Whether the question names `value` in `role` ('CE 2300 as a prerequisite': True; 'prerequisites for
    CE 2300': False), or None where it does not say."""
    text = respell(question, frozenset({role, role + "s"}))
    at = text.find(value.lower())
    if at < 0:
        return None
    before, after = text[:at], text[at + len(value):]
    # 'prereqs' for prerequisites: a long role word may be cut to its first six letters.
    word = rf"{re.escape(role)}(?:s|es)?" if len(role) <= 6 else rf"{re.escape(role[:6])}\w*"
    if re.search(rf"\b{word}\s+(?:for|of)\s+(?:the\s+)?(?:\w+\s+)?$", before) or re.match(rf"'s\s+{word}\b", after):
        return False
    if re.search(rf"\b{word}\s+(?:is\s+|=\s*)?(?:the\s+)?$", before) or \
            re.match(rf"\s*(?:\([^)]*\)\s*)?as\s+(?:(?:a|an|the|their|its)\s+)?{word}\b", after):
        return True
    return None


# 'no', 'not', 'never', 'without', "aren't": a question about rows that have none of something; not a bound ('no more
# than 3', 'not later than').
_NEGATION = re.compile(r"\b(?:no|not|never|without|none|zero)\b(?!\s+(?:more|less|fewer|later|earlier|greater|higher|"
                       r"lower|longer|shorter|over|under|than)\b)|n't\b")


def ground_negation(question: str, sql: str, said: dict[str, int] | None = None,
                    cannot_hold: Callable[[str | None, str], bool] | None = None) -> str:
    """`sql` asking for rows with NOT EXISTS where the question wants those with none of something ('instructors not
    teaching this semester') and the statement joined what they should lack: the tables whose columns are not listed
    move into the NOT EXISTS, with their conditions. Unchanged where the statement already negates, counts, groups or
    lists columns of more than one table, or where the question negates a value of the listed table itself ('courses
    that are not graduate courses in CS'). `said`: where the question names a value in other words ('last fall' for
    'Fall 2025': the lower-cased value and the offset of its words); `cannot_hold("table.column", value)`: a condition
    no row can meet, dropped from the NOT EXISTS (the model's `c.code = 'No prerequisites'`), where it would make
    every row lack it."""
    text = question.lower()

    def at(cond: exp.Expression) -> list[int]:
        spelled = [lit.this.lower() for lit in cond.find_all(exp.Literal) if lit.is_string]
        return [text.find(v) if v in text else (said or {}).get(v, -1) for v in spelled]
    m = _NEGATION.search(text)
    tree = parse_statement(sql) if m else None
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "limit")):
        return sql
    if tree.find(exp.Not, exp.NEQ, exp.Exists, exp.Subquery, exp.AggFunc, exp.Union):
        return sql
    shown = {c.table for e in tree.expressions for c in e.find_all(exp.Column)}
    order = tree.args.get("order")
    shown |= {c.table for c in order.find_all(exp.Column)} if order else set()
    tables = {t.alias_or_name: t for t in tree.find_all(exp.Table)}
    if len(shown) != 1 or "" in shown or len(tables) < 2 or next(iter(shown)) not in tables:
        return sql
    (kept,) = shown
    edges = []
    for join in tree.args.get("joins") or ():
        on = join.args.get("on")
        if join.args.get("side") or join.args.get("kind") or not _column_pair(on):
            return sql
        edges.append(on)
    where = tree.args.get("where")
    conds = conditions(where)
    outside, inside, qualified = [], [], column_names(tree)
    for cond in conds:
        aliases = {c.table for c in cond.find_all(exp.Column)}
        if len(aliases) != 1:
            return sql
        if aliases == {kept}:
            if any(i > m.start() for i in at(cond)):
                return sql  # the question negates this value, not the joined rows
            outside.append(cond)
        elif any(0 <= i < m.start() for i in at(cond)):
            return sql  # named before the negation: 'courses that Chen teaches are not ...' keeps Chen outside
        elif not (cannot_hold and value_condition(cond) and cannot_hold(qualified(cond.this), cond.expression.this)):
            inside.append(cond)
    links = [e for e in edges if kept in {c.table for c in e.find_all(exp.Column)}]
    if len(links) != 1:
        return sql
    # The lacked rows: every other table, joined among themselves as the statement joined them.
    (link,) = links
    start = next(c.table for c in link.find_all(exp.Column) if c.table != kept)
    inner = exp.select("1").from_(tables[start].copy())
    placed, rest = {start}, [e for e in edges if e is not link]
    while rest:
        step = next((e for e in rest if len({c.table for c in e.find_all(exp.Column)} - placed) == 1), None)
        if step is None or kept in {c.table for c in step.find_all(exp.Column)}:
            return sql
        (new,) = {c.table for c in step.find_all(exp.Column)} - placed
        inner = inner.join(tables[new].copy(), on=step.copy())
        placed.add(new)
        rest.remove(step)
    if placed | {kept} != set(tables):
        return sql
    inner = inner.where(exp.and_(link.copy(), *[c.copy() for c in inside]))
    outer = exp.select(*[e.copy() for e in tree.expressions]).from_(tables[kept].copy())
    outer.set("distinct", tree.args.get("distinct"))
    outer = outer.where(exp.and_(*[c.copy() for c in outside], exp.Not(this=exp.Exists(this=inner))))
    if order:
        outer.set("order", order.copy())
    return outer.sql(dialect="postgres")


def _column_pair(node: exp.Expression | None) -> bool:
    """Whether `node` is `a.x = b.y` for two different tables."""
    return (isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Column)
            and bool(node.this.table) and bool(node.expression.table) and node.this.table != node.expression.table)
