"""How the rows of a mended statement are shown: which columns name them, in what order, grouped how.

The generated data the model copies keeps conventions of its own (a department's code beside its name, a course's
topics alphabetically, a count once where one per section is asked); people name a department by its name, read
topics by week and want a count for each section. Each rule reads the schema's data or the question's words, never a
table's name (`pipeline.mend` runs them after `pipeline.grounding`'s)."""
from __future__ import annotations

import re

from sqlglot import exp

from .grounding import LEAST, MOST, NEGATION, PLAIN_WORDS, TOTAL, stated_bound
from .linking import (SchemaLinker, and_where, column_names, conditions, from_tables, only_alias, parse_statement,
                      table_nouns, value_condition)
from .words import (START, humanise, names_its_table, person_columns, respell, sequence_column, singular,
                    weight_column, words)


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
        for table in _tables_named(said, i + 1, linker):
            alias = only_alias(tree, table)
            if alias is None:
                continue
            keys = _row_keys(linker, table)
            if not keys:
                return sql
            qualify = alias if len(list(tree.find_all(exp.Table))) > 1 else None
            cols = [exp.column(k, table=qualify) for k in keys]
            tree.set("expressions", [c.copy() for c in cols] + list(tree.expressions))
            tree.set("group", _group_by_row(linker, table, qualify, cols))
            tree.set("order", exp.Order(expressions=[exp.Ordered(this=k) for k in _name_order(cols)]))
            return tree.sql(dialect="postgres")
    return sql


def count_bounded(question: str, sql: str, linker: SchemaLinker, numbers: list[str]) -> str:
    """`sql` listing named rows of one table and reading another table's rows without counting them where the
    question keeps those with more (or fewer) than a number of the other's ('Which courses have more than 2 sections
    this semester?'): grouped by the listed rows, their count shown, kept by the bound; a comparison of the number
    with a column dropped (the model's `s.capacity > 2`). A number of a column's units 'in total' ('courses with more
    than 100 seats in total') is that column's sum."""
    plain = _plain_list(sql, linker, ("group", "having", "distinct", "limit"))
    if plain is None:
        return sql
    tree, listed, owner, _ = plain
    raw = words(question)
    total = TOTAL.search(question.lower())
    for i, number in enumerate(raw[:-1]):
        kind = stated_bound(question, number) if number in numbers else None
        if kind not in (exp.GT, exp.GTE, exp.LT, exp.LTE):
            continue
        table, measure = next(_tables_named([singular(w) for w in raw], i + 1, linker), None), exp.Count(
            this=exp.Star())
        summed = [c.removeprefix("col:").split(".") for c in linker.columns_named(raw[i + 1])
                  if c in linker.numeric] if total and table is None else []
        if len(summed) == 1 and only_alias(tree, summed[0][0]):
            table, column = summed[0]
            measure = exp.Sum(this=exp.column(column, table=only_alias(tree, table)))
        numbered = _numbered(question, listed, owner, linker)
        names = numbered or [c for c in listed if owner(c) not in (table, None)
                             and c.name in linker.names.get(owner(c), ())]
        if table is None or not names or not numbered and len({owner(c) for c in names}) != 1:
            continue
        alias = only_alias(tree, table) or _join_counted(tree, table, linker)
        if alias is None:
            continue
        where = tree.args.get("where")
        kept = [n for n in conditions(where) if not (isinstance(n, exp.Binary) and isinstance(n.expression, exp.Literal)
                                                      and n.expression.this == number and not n.expression.is_string)]
        if where is not None:
            tree.set("where", exp.Where(this=exp.and_(*kept)) if kept else None)
        tree.set("expressions", [c.copy() for c in names] + [exp.alias_(measure.copy(), raw[i + 1])])
        tree.set("group", exp.Group(expressions=[c.copy() for c in names]))
        tree.set("having", exp.Having(this=kind(this=measure, expression=exp.Literal.number(number))))
        # (Read from the bound's side: 'more than 2' most first, 'fewer than 20' fewest first.)
        tree.set("order", _sorted_by(exp.column(raw[i + 1]), kind in (exp.GT, exp.GTE)))
        return tree.sql(dialect="postgres")
    return sql


def ground_top(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing the rows with the most (or least) of a number where the question asks for a number of them
    ('What are the 5 biggest sections by capacity?') and the statement totals that number or lists every row:
    the rows, by what tells them apart, and the number, sorted by it and cut to as many as asked."""
    m = re.search(rf"\b(\d+)\s+({MOST}|{LEAST})\s+(\w+)", respell(question, PLAIN_WORDS).lower())
    tree = parse_statement(sql)
    if m is None or not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "limit")):
        return sql
    table = next(_tables_named([singular(m.group(3))], 0, linker), None)
    alias = only_alias(tree, table) if table else None
    keys = _row_keys(linker, table) if alias else ()
    if not keys:
        return sql
    qualified = column_names(tree)
    said = [c.split(".", 1)[1] for c in _columns_said(question, linker)
            if c.startswith(f"col:{table}.") and c in linker.numeric]
    listed = [e.unalias() for e in tree.expressions]
    if len(listed) == 1 and isinstance(listed[0], (exp.Sum, exp.Avg, exp.Max, exp.Min)):
        number = listed[0].this
        if not isinstance(number, exp.Column) or qualified(number) != f"{table}.{number.name}" or \
                said and said != [number.name]:
            return sql
        tree.set("expressions", [exp.column(k, table=number.table or None) for k in keys] + [number.copy()])
    else:
        numbers = [c for c in listed if isinstance(c, exp.Column) and qualified(c) == f"{table}.{c.name}"
                   and f"col:{table}.{c.name}" in linker.numeric]
        numbers = [c for c in numbers if c.name in said] if said else numbers
        if len(numbers) != 1 or not all(isinstance(c, exp.Column) for c in listed):
            return sql
        number = numbers[0]
    most = bool(re.fullmatch(MOST, m.group(2)))
    tree.set("order", exp.Order(expressions=[exp.Ordered(this=number.copy(), desc=most or None)]))
    return tree.limit(int(m.group(1))).sql(dialect="postgres")


# More or less of a number, in the question's words: group 1 more, group 2 less.
_MORE_LESS = r"\b(?:(more|greater|bigger|larger|higher|longer)|(fewer|less|smaller|lower|shorter))\b"
_THAN_AVERAGE = re.compile(_MORE_LESS + r"([\w\s]*?)\bthan\s+(?:the\s+)?(?:average|mean)\b([\w\s]*)")


def above_average(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` for the rows of the asked table whose number is above (or below) its average over every row ('sections
    this semester bigger than the average section size', 'courses with more credits than the average') where the
    statement compares with no average: the rows by what tells them apart, with the number, most first; the
    statement's conditions on that table kept (later mends add the periods and values the question names)."""
    m = _THAN_AVERAGE.search(question.lower())
    tree = parse_statement(sql) if m else None
    table = _asked_table(question, linker) if isinstance(tree, exp.Select) else None
    if table is None or any(isinstance(a, exp.Avg) for a in tree.find_all(exp.Avg)) or not _row_keys(linker, table):
        return sql
    said = words(m.group(3)) + words(m.group(4))
    numbers = sorted({c.split(".", 1)[1] for w in said for c in linker.columns_named(w)
                      if c.startswith(f"col:{table}.") and c in linker.numeric})
    if len(numbers) != 1:
        return sql
    alias = only_alias(tree, table)
    qualified = column_names(tree)
    kept = [n.copy() for n in conditions(tree.args.get("where")) if alias and value_condition(n)
            and qualified(n.this) == f"{table}.{n.this.name}"]
    for n in kept:
        n.this.set("table", None)
    number = exp.column(numbers[0])
    average = exp.Subquery(this=exp.select(exp.Avg(this=number.copy())).from_(table))
    bound = (exp.GT if m.group(1) else exp.LT)(this=number.copy(), expression=average)
    out = exp.select(*[exp.column(k) for k in _row_keys(linker, table)], number.copy()).from_(table)
    out = out.where(exp.and_(*kept, bound))
    out.set("order", _sorted_by(number.copy(), bool(m.group(1))))
    return out.sql(dialect="postgres")


_EVERY_ROW = re.compile(r"\s*(?:what|which)\s+([a-z]+(?:\s+[a-z]+)?)\s+(?:are|is)\s+"
                        r"(?:there|in\s+the\s+(?:system|database))\W*")


def list_all(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing every row of the table a question asks for with nothing else said ('What terms are in the
    system?'): by their names, a period's with its start and end, in calendar order; left where the statement reads
    that table alone, unfiltered."""
    m = _EVERY_ROW.fullmatch(question.lower())
    tree = parse_statement(sql) if m else None
    table = next(_tables_named([singular(w) for w in m.group(1).split()][-1:], 0, linker), None) if m else None
    if table is None or not linker.names.get(table) or not isinstance(tree, exp.Select):
        return sql
    if [t.name for t in tree.find_all(exp.Table)] == [table] and not tree.args.get("where"):
        return sql
    names = [exp.column(n) for n in linker.names[table]]
    period = next((p for p in linker.periods if p.table == table and p.start), None)
    shown = names + [exp.column(c) for c in (period.start, period.end) if c] if period else names
    order = [exp.column(period.start)] if period else _name_order(names)
    return exp.select(*shown).from_(table).order_by(*order).sql(dialect="postgres")


_POPULAR = re.compile(r"\b(?:top\s+(\d+)\s+|(\d+)\s+)?(?:the\s+)?most\s+popular\s+(\w+)")
_NOW = re.compile(r"\b(?:this|current(?:ly)?|now)\b")
_PAST = re.compile(r"\b(?:last|previous|past)\b|\b(?:19|20)\d\d\b")


def ground_popular(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` ranking the listed rows by how many people chose them where the question asks for the most popular ('top
    3 most popular courses this semester'): counted by the rows of the one table pairing people with them
    (enrollments), only those in the state that table is named after ('enrolled') unless a past period is asked;
    the first as many as asked (one where no number is)."""
    m = _POPULAR.search(question.lower())
    plain = _plain_list(sql, linker, ("group", "having", "limit")) if m else None
    table = next(_tables_named([singular(m.group(3))], 0, linker), None) if plain else None
    if table is None or plain[3] != table or not linker.names.get(table):
        return sql
    tree, listed = plain[0], plain[1]
    people = {t for t, names in linker.names.items() if person_columns(names)}
    # (A table of pairs only: rows nobody names or numbers, a section's students, not its instructor.)
    pairing = [(child, (set(keys) & people).pop()) for child in linker.table_columns if child != table and len(
        keys := [ref for t, _, ref, _ in linker.joins if t == child]) == 2 and len(set(keys) & people) == 1
        and not _row_keys(linker, child)]
    alias = _join_counted(tree, pairing[0][0], linker) if len(pairing) == 1 else None
    if alias is None:
        return sql
    (pairs, chooser) = pairing[0]
    states = [(column, stored) for values in linker.originals.values() for column, stored in values.items()
              if stored and column.startswith(f"{pairs}.") and names_its_table(stored, pairs)]
    if len(states) == 1 and (_NOW.search(question.lower()) or not _PAST.search(question.lower())):
        and_where(tree, exp.column(states[0][0].split(".")[1], table=alias).eq(exp.Literal.string(states[0][1])))
    count = exp.Count(this=exp.Star())
    tree.set("distinct", None)
    tree.set("expressions", [c.copy() for c in listed] + [exp.alias_(count, chooser)])
    tree.set("group", _group_by_row(linker, table, listed[0].table or None, listed))
    tree.set("order", _sorted_by(exp.column(chooser), True))
    return tree.limit(int(m.group(1) or m.group(2) or 1)).sql(dialect="postgres")


def same_as(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` for rows sharing a row they point at with one the question names ('Which instructors are in the same
    department as Priya Natarajan?'): the asked table's other rows whose key equals the named row's, by their
    names; written as the named row's conditions the model kept, whatever else it made of them."""
    m = re.search(r"\bsame\s+([a-z]+)(?:\s+([a-z]+))?\s+as\b", question.lower())
    tree = parse_statement(sql)
    table = _asked_table(question, linker) if m and isinstance(tree, exp.Select) else None
    alias = only_alias(tree, table) if table else None
    if alias is None or not linker.names.get(table):
        return sql
    noun = {singular(w) for w in m.groups() if w}
    keys = sorted({col for child, col, ref, _ in linker.joins if child == table and (
        noun & set(singular(humanise(col)).split()) or noun & table_nouns(ref))})
    named = [n for n in conditions(tree.args.get("where")) if isinstance(n, exp.EQ) and value_condition(n)
             and n.this.table in (alias, "")]
    if len(keys) != 1 or not named:
        return sql
    bare = [n.copy() for n in named]
    for n in bare:
        n.this.set("table", None)
    own = exp.and_(*bare)
    picked = exp.select(keys[0]).from_(table).where(own.copy())
    # (IN: two rows of one name, two people called Chen, share either's.)
    where = exp.and_(exp.column(keys[0]).isin(query=picked), exp.Not(this=exp.Paren(this=own)))
    names = [exp.column(n) for n in linker.names[table]]
    out = exp.select(*names).from_(table).where(where).order_by(*_name_order(names))
    return out.sql(dialect="postgres")


_THAN_NAMED = re.compile(_MORE_LESS + r"(.*?)\bthan\b(.+)$")


def more_than_named(question: str, sql: str, named: dict[str, list[str]], linker: SchemaLinker) -> str:
    """`sql` for the rows of the asked table with more (or less) of a number than one row the question names ('Which
    courses have more students enrolled this semester than CE 4229?') where the statement works out that row's
    number alone: every row's number, kept where it beats the named row's (the model's statement, as a subquery)."""
    m = _THAN_NAMED.search(question.lower())
    tree = parse_statement(sql) if m else None
    table = _asked_table(question, linker) if m and isinstance(tree, exp.Select) else None
    alias = only_alias(tree, table) if table else None
    if alias is None or not linker.names.get(table) or any(tree.args.get(k) for k in ("group", "having", "limit")) \
            or len(tree.expressions) != 1 or tree.find(exp.Subquery):
        return sql
    tail = words(m.group(4))
    said = {v for item, values in named.items() if item.split(".")[0] == table for v in values
            if " ".join(words(v)) in " ".join(tail)}
    row = [n for n in conditions(tree.args.get("where")) if isinstance(n, exp.EQ) and value_condition(n)
           and n.this.table in (alias, "") and n.expression.this in said]
    number = tree.expressions[0].unalias()
    qualified = column_names(tree)
    measured = isinstance(number, (exp.Count, exp.Sum, exp.Avg)) or isinstance(number, exp.Column) and \
        f"col:{qualified(number)}" in linker.numeric and qualified(number).split(".")[0] == table
    if len(row) != 1 or not measured:
        return sql
    outer = tree.copy()
    where = [n.copy() for n in conditions(outer.args.get("where")) if n != row[0]]
    outer.set("where", exp.Where(this=exp.and_(*where)) if where else None)
    names = [exp.column(n, table=alias) for n in linker.names[table]]
    label = number.name if isinstance(number, exp.Column) else (words(m.group(3)) or ["value"])[0]
    bound = (exp.GT if m.group(1) else exp.LT)(this=number.copy(), expression=exp.Subquery(this=tree.copy()))
    shown = number.copy() if isinstance(number, exp.Column) else exp.alias_(number.copy(), label)
    outer.set("expressions", names + [shown])
    if isinstance(number, exp.Column):
        outer.set("where", exp.Where(this=exp.and_(*where, bound)))
    else:
        outer.set("group", _group_by_row(linker, table, alias, names))
        outer.set("having", exp.Having(this=bound))
    outer.set("order", _sorted_by(exp.column(label), bool(m.group(1))))
    return outer.sql(dialect="postgres")


_IN_YEAR = re.compile(r"\b(?:in|during)\s+((?:19|20)\d\d)\b(?![-/])")
_DAY = re.compile(r"\d{4}-\d\d-\d\d")


def ground_year(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` keeping rows whose date the question says falls in a year ('Which terms started in 2026?') where the
    statement does not compare that date with the year: the date from the year's first day to the next's (a day the
    model picked instead dropped), shown and sorted by."""
    m = _IN_YEAR.search(question.lower())
    plain = _plain_list(sql, linker, ("group", "having", "limit")) if m else None
    if plain is None or plain[3] is None:
        return sql
    tree, listed, owner, table = plain
    dates = [c.split(".", 1)[1] for c in _columns_said(question, linker)
             if c.startswith(f"col:{table}.") and c.removeprefix("col:") in linker.dated]
    if len(dates) != 1 or only_alias(tree, table) is None:
        return sql
    year, column = int(m.group(1)), dates[0]
    mine = lambda c: isinstance(c, exp.Column) and c.name == column and owner(c) == table  # noqa: E731
    kept, ends = [], {f"{year}-01-01", f"{year}-12-31", f"{year + 1}-01-01", str(year)}
    for node in conditions(tree.args.get("where")):
        days = [lit.this for lit in node.find_all(exp.Literal) if lit.is_string and _DAY.match(lit.this)]
        if any(mine(c) for c in node.find_all(exp.Column)) and ends & {lit.this for lit in node.find_all(exp.Literal)}:
            return sql  # (compared with the year already: its ends, or the year of the date)
        if not days:
            kept.append(node)
    qualify = next(c.table for c in listed) or None
    date = exp.column(column, table=qualify)
    span = [date.copy() >= exp.Literal.string(f"{year}-01-01"), date.copy() < exp.Literal.string(f"{year + 1}-01-01")]
    tree.set("where", exp.Where(this=exp.and_(*kept, *span)))
    if not any(mine(c) for c in listed):
        tree.set("expressions", list(tree.expressions) + [date.copy()])
    tree.set("order", exp.Order(expressions=[exp.Ordered(this=date.copy())]))
    return tree.sql(dialect="postgres")


_VERSUS = re.compile(r"\b(?:vs\.?|versus|compared (?:to|with))(?=\s)")
_AGGREGATES = ((re.compile(r"\b(?:average|avg|mean)\b"), exp.Avg), (re.compile(r"\b(?:total|sum)\b"), exp.Sum),
               (re.compile(r"\b(?:how many|number of|count)\b"), exp.Count))


def compare_values(question: str, sql: str, named: dict[str, list[str]], linker: SchemaLinker) -> str:
    """`sql` for an average, total or count the question compares between values of one column ('Average credits
    for graduate vs undergraduate courses'): one row per value, grouped by that column, from the one table the
    statement reads (its value conditions on other columns kept)."""
    said = respell(question, PLAIN_WORDS).lower()
    columns = [c for c, values in named.items() if len(values) >= 2]
    agg = next((kind for pattern, kind in _AGGREGATES if pattern.search(said)), None)
    tree = parse_statement(sql) if _VERSUS.search(said) and len(columns) == 1 and agg else None
    found = from_tables(tree) if isinstance(tree, exp.Select) else []
    table, column = columns[0].split(".", 1) if columns else (None, None)
    if len(found) != 1 or found[0].name != table or tree.find(exp.Join):
        return sql
    numbers = [c.split(".", 1)[1] for c in _columns_said(question, linker)
               if c.startswith(f"col:{table}.") and c in linker.numeric]
    if agg is not exp.Count and len(numbers) != 1:
        return sql
    value = exp.Count(this=exp.Star()) if agg is exp.Count else agg(this=exp.column(numbers[0]))
    kept = [n.copy() for n in conditions(tree.args.get("where")) if isinstance(n, exp.EQ) and value_condition(n)
            and n.this.name != column]
    values = exp.column(column).isin(*[exp.Literal.string(v) for v in named[columns[0]]])
    out = exp.select(exp.column(column), value).from_(table).where(exp.and_(*kept, values)).group_by(column)
    out.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column(column))]))
    return out.sql(dialect="postgres")


_HOW_LONG = re.compile(r"\bhow (?:many (days|weeks)(?: long)?|long)\b")


def how_long(question: str, sql: str, named: dict[str, list[str]], linker: SchemaLinker) -> str:
    """`sql` for how long the one named row of a table with a start and an end date lasts ('how many weeks long is
    the fall 2026 semester': `(ends_on - starts_on) / 7`), in days unless weeks are asked."""
    m = _HOW_LONG.search(question.lower())
    rows = [(item, values[0]) for item, values in named.items() if len(values) == 1
            and item.split(".")[1] in linker.names.get(item.split(".")[0], ())] if m else []
    if len(rows) != 1:
        return sql
    (item, value), table = rows[0], rows[0][0].split(".")[0]
    dates = [c.split(".", 1)[1] for c in sorted(linker.dated) if c.startswith(f"{table}.")]
    start = [c for c in dates if START.search(c)]
    end = [c for c in dates if re.search(r"end|finish|until|to$", c)]
    if len(start) != 1 or len(end) != 1:
        return sql
    span = exp.Sub(this=exp.column(end[0]), expression=exp.column(start[0]))
    unit = m.group(1) or "days"
    # (Whole weeks, as Postgres divides the whole days a date difference is.)
    length = exp.Div(this=exp.Paren(this=span), expression=exp.Literal.number(7), typed=True) if unit == "weeks" \
        else span
    out = exp.select(exp.alias_(length, unit)).from_(table).where(exp.column(item.split(".")[1]).eq(value))
    return out.sql(dialect="postgres")


def count_per_value(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` counting a table's rows for each value of one of its columns where the question asks so ('Number of
    students admitted each year': by `admit_year`) and the statement does not group by it: a count per value, in
    its order. Left alone where the statement reads the table with others (their conditions would be lost)."""
    said = respell(question, PLAIN_WORDS).lower()
    counted, per = re.search(r"\b(?:number of|how many)\s+(\w+)", said), re.search(r"\b(?:each|per)\s+(\w+)", said)
    table = next(_tables_named([singular(counted.group(1))], 0, linker), None) if counted and per else None
    if table is None or linker.tables.get(singular(per.group(1))):
        return sql
    columns = [c.split(".", 1)[1] for c in linker.columns_named(per.group(1)) if c.startswith(f"col:{table}.")]
    tree = parse_statement(sql)
    if len(columns) != 1 or not isinstance(tree, exp.Select):
        return sql
    column = columns[0]
    group = tree.args.get("group")
    if group is not None and any(isinstance(k, exp.Column) and k.name == column for k in group.expressions):
        return sql
    read = [t.name for t in tree.find_all(exp.Table)]
    if table in read and read != [table]:
        return sql
    kept = [n.copy() for n in conditions(tree.args.get("where")) if isinstance(n, exp.EQ) and value_condition(n)
            and n.this.name != column] if read == [table] else []
    out = exp.select(exp.column(column), exp.Count(this=exp.Star())).from_(table)
    if kept:
        out = out.where(exp.and_(*kept))
    out = out.group_by(column)
    out.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column(column))]))
    return out.sql(dialect="postgres")


def _numbered(question: str, listed: list[exp.Column], owner, linker: SchemaLinker) -> list[exp.Column]:
    """Of the listed columns, those telling apart rows no column of theirs names where the question asks for them
    ('Which sections ...'): the unique code of the row they belong to and their number; none otherwise."""
    asked = _asked_table(question, linker)
    if asked is None or linker.names.get(asked):
        return []
    keys = [c for c in listed if owner(c) == asked and c.name in _row_keys(linker, asked)]
    codes = [c for c in listed if any(owner(c) == ref and f"{ref}.{c.name}" in linker.unique and c.name in
                                      linker.names.get(ref, ()) for t, _, ref, _ in linker.joins if t == asked)]
    return codes[:1] + keys if keys and codes else []


def _join_counted(tree: exp.Select, table: str, linker: SchemaLinker) -> str | None:
    """In place: `table`'s rows joined to the statement that does not read them, to be counted: itself where it
    points at a table the statement reads, else the one table linking the two ('students' of a section are its
    enrollments); its alias, None where no one way joins them."""
    present = {t.name for t in tree.find_all(exp.Table)}
    if table in present:
        return None
    if any(child == table and ref in present for child, _, ref, _ in linker.joins):
        return linker.join_table(tree, table, child=True)
    links = {child for child, _, ref, _ in linker.joins if ref == table and child not in present
             and any(c == child and r in present for c, _, r, _ in linker.joins)}
    return linker.join_table(tree, links.pop(), child=True) if len(links) == 1 else None


def _fk_joins(nodes, alias: dict[str, str], linker: SchemaLinker) -> list[tuple[str, str]]:
    """(alias of the child, alias of the parent) of each `child.key = parent.column` among `nodes` that is one of
    the schema's foreign keys (`alias` names the statement's tables by alias)."""
    found = []
    for node in nodes:
        if isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Column):
            for c, p in ((node.this, node.expression), (node.expression, node.this)):
                if (alias.get(c.table), c.name, alias.get(p.table), p.name) in linker.joins:
                    found.append((c.table, p.table))
    return found


def _sorted_by(key: exp.Expression, most: bool) -> exp.Order:
    """ORDER BY `key`, most first where `most` (written `DESC`: Postgres sorts no NULL first then), else least first."""
    most_first = exp.Ordered(this=key, desc=True, nulls_first=True)
    return exp.Order(expressions=[most_first if most else exp.Ordered(this=key)])


def _row_keys(linker: SchemaLinker, table: str) -> tuple[str, ...]:
    """The columns telling `table`'s rows apart to a reader: its naming columns, else its number (`section_number`)."""
    return linker.names.get(table) or tuple(c for c in _columns_of(linker, table)
                                            if c in ("number", f"{singular(humanise(table))}_number"))


def _group_by_row(linker: SchemaLinker, table: str, alias: str | None, names: list[exp.Column]) -> exp.Group:
    """GROUP BY one row of `table`: its key, where a foreign key names it, and the columns naming it (two people of
    one name, or section 1 of two courses, are two rows)."""
    key = sorted({ref_col for _, _, ref, ref_col in linker.joins if ref == table})[:1]
    return exp.Group(expressions=[exp.column(k, table=alias) for k in key] + [c.copy() for c in names])


def _columns_of(linker: SchemaLinker, table: str) -> set[str]:
    """The columns of `table` the linker knows by word."""
    return {item.split(".", 1)[1] for items in linker.columns.values() for item in items
            if item.startswith(f"col:{table}.")}


def _owner(tree: exp.Expression, linker: SchemaLinker):
    """A function naming the table of a column of the statement: a bare column of a join, the one table that has it
    (None where none or several do)."""
    qualified = column_names(tree)
    tables = {t.name for t in tree.find_all(exp.Table)}

    def owner(c: exp.Column) -> str | None:
        if name := qualified(c):
            return name.split(".")[0]
        has = [t for t in tables if c.name in _columns_of(linker, t)]
        return has[0] if len(has) == 1 else None
    return owner


def _plain_list(sql: str, linker: SchemaLinker, without: tuple[str, ...] = ("group",)):
    """For a SELECT of plain columns without the clauses `without`: the parsed statement, its listed columns, a
    function naming a column's table (`_owner`) and the one table they all belong to (None if not one); else None."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in without):
        return None
    listed = [e.unalias() for e in tree.expressions]
    if not listed or not all(isinstance(c, exp.Column) for c in listed):
        return None
    owner = _owner(tree, linker)
    tables = {owner(c) for c in listed}
    return tree, listed, owner, next(iter(tables)) if len(tables) == 1 else None


def _columns_said(question: str, linker: SchemaLinker) -> set[str]:
    """The columns ("col:table.column") the question's words name."""
    return set().union(*(linker.columns_named(w) for w in words(question)))


def _set_by_value(tree: exp.Select, qualified) -> set[str]:
    """The columns ("table.column") its WHERE sets equal to a literal at its top level (a bare column of a join,
    which names no table, left out)."""
    return {name for node in conditions(tree.args.get("where")) if isinstance(node, exp.EQ)
            and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Literal)
            and (name := qualified(node.this)) is not None}


def drop_fixed(sql: str, linker: SchemaLinker) -> str:
    """`sql` listing rows by their names without a number every one of them has (`c.credits` of 'Which EE courses
    are worth 3 credits?', set by an equality), nor sorting by it: a column of one value says nothing per row."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "distinct")):
        return sql
    qualified = column_names(tree)
    fixed = _set_by_value(tree, qualified)
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
    # (A period named relatively, 'this semester', links the period table's values: a "val:" item.)
    if any(item.startswith(("val:", "agg:", "cmp:")) for item in links) or re.search(r"\d", question) or \
            NEGATION.search(question.lower()):
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


_RANKED = re.compile(rf"\b({MOST}|{LEAST}|top|max\w*|min\w*|rank\w*|popular|busiest|sort\w*|order\w*)\b")


def order_periods(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` giving a number per period (term) sorted by that number or the periods' names where the question asks for
    no ranking ('How many sections did each term have?'): the periods in calendar order, by their start."""
    tree = parse_statement(sql)
    group, order = (tree.args.get("group"), tree.args.get("order")) if isinstance(tree, exp.Select) else (None, None)
    if group is None or order is None or tree.args.get("limit") or _RANKED.search(respell(question, PLAIN_WORDS)):
        return sql
    aggregates = {e.alias for e in tree.expressions if e.alias and e.unalias().find(exp.AggFunc)}
    # Sorted by the number, or by the periods' names: 'Fall 2025, Fall 2026, Spring 2026' is no order anyone reads.
    if not all(k.this.find(exp.AggFunc) or isinstance(k.this, exp.Column) and (
            not k.this.table and k.this.name in aggregates or k.this in group.expressions) for k in order.expressions):
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


def count_the_most(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing the rows of one table joined to another where the question asks which has the most (or fewest)
    of the other's rows ('Which instructor teaches the most sections this semester?'; the one other table where the
    question's word names no table and no column: 'the most majors'): counted per row, the first by that count."""
    said = [singular(w) for w in words(respell(question, PLAIN_WORDS))]
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("having", "limit")) or \
            re.search(r"\d", question):
        return sql  # ('the 3 instructors with the most sections' asks for several)
    listed = [e.unalias() for e in tree.expressions]
    if not listed or not all(isinstance(c, exp.Column) and c.table for c in listed) or \
            len({c.table for c in listed}) != 1:
        return sql
    group = tree.args.get("group")
    if group is not None and {k.sql() for k in group.expressions} != {c.sql() for c in listed}:
        return sql  # (grouped by what it lists and counting nothing, it is a list)
    tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    table = tables.get(listed[0].table)
    if table is None or not {c.name for c in listed} <= set(linker.names.get(table, ())):
        return sql
    for i, w in enumerate(said[:-1]):
        if not re.fullmatch(f"{MOST}|{LEAST}", w):
            continue
        counted = [t for t in tables.values() if t != table and said[i + 1] in table_nouns(t)]
        others = [t for t in tables.values() if t != table]
        if not counted and len(others) == 1 and not linker.columns_named(said[i + 1]):
            counted = others  # 'Which department has the most majors?' of departments and students
        named = next(_tables_named(said, i + 1, linker), None) if not counted else None
        if named not in (None, table) and _join_counted(tree, named, linker):
            counted = [named]  # ('the most topics' of courses that read none: their topics joined)
            tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
        if len(counted) != 1 or list(tables.values()).count(counted[0]) != 1:
            return sql
        n = exp.alias_(exp.Count(this=exp.Star()), "n")
        tree.set("distinct", None)
        tree.set("expressions", [c.copy() for c in listed] + [n])
        tree.set("group", _group_by_row(linker, table, listed[0].table, listed))
        desc = not re.fullmatch(LEAST, w)
        tree.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column("n"), desc=desc or None)]))
        return tree.limit(1).sql(dialect="postgres")
    return sql


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


_WHEN = re.compile(r"^\s*(when|(at )?what (time|days?)|which days?)\b|\b(when and where|where and when)\b")
_WHERE = re.compile(r"^\s*where\b|\b(when and where|where and when)\b")


# The hours a part of the day names, as a start time from (inclusive) and before: a class 'in the evening' starts at
# 17:00 or later.
DAYTIME = {"morning": (None, "12:00"), "afternoon": ("12:00", "17:00"), "evening": ("17:00", None),
           "night": ("17:00", None)}
_DAYTIME = re.compile(rf"\b({'|'.join(DAYTIME)})s?\b")


def ground_daytime(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` keeping scheduled rows that start in the part of the day the question names ('evening classes this
    fall?': `start_time >= '17:00'`) where the statement does not compare their start time."""
    m = _DAYTIME.search(question.lower())
    tree = parse_statement(sql) if m else None
    if not isinstance(tree, exp.Select):
        return sql
    timed = [(t, c) for t in tree.find_all(exp.Table) for c in linker.schedule.get(t.name, ())
             if f"{t.name}.{c}" in linker.dated][:1]
    if not timed or sum(t.name == timed[0][0].name for t in tree.find_all(exp.Table)) != 1:
        return sql
    table, column = timed[0]
    qualified = column_names(tree)
    if any(qualified(c) == f"{table.name}.{column}" for n in tree.find_all(exp.Predicate)
           for c in n.find_all(exp.Column)):
        return sql
    start = exp.column(column, table=table.alias_or_name if len(list(tree.find_all(exp.Table))) > 1 else None)
    since, before = DAYTIME[m.group(1)]
    for bound in ([start.copy() >= exp.Literal.string(since)] if since else []) + \
            ([start.copy() < exp.Literal.string(before)] if before else []):
        and_where(tree, bound)
    return tree.sql(dialect="postgres")


def show_when(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing rows of a table with a schedule (a section's days and times) where the question asks when
    ('When and where does Data Structures meet?', or names a part of the day: 'evening classes') with the columns
    saying when, and where it asks where, the room."""
    said = respell(question, PLAIN_WORDS)
    when, where = bool(_WHEN.search(said) or _DAYTIME.search(said)), bool(_WHERE.search(said))
    plain = _plain_list(sql, linker) if when or where else None
    if plain is None:
        return sql
    tree, listed, owner, _ = plain
    asked = lambda t: linker.schedule.get(t, ()) * when + linker.places.get(t, ()) * where  # noqa: E731
    timed = [t for t in tree.find_all(exp.Table) if asked(t.name)]
    if len(timed) != 1:
        return sql
    table, alias = timed[0].name, timed[0].alias_or_name
    shown = {c.name for c in listed if owner(c) == table}
    wanted = asked(table)
    qualify = alias if len(list(tree.find_all(exp.Table))) > 1 else None
    add = [exp.column(c, table=qualify) for c in wanted if c not in shown]
    # Columns of a table the question never names (who teaches it, for 'When does Embedded Systems meet?') give way
    # to what tells the scheduled rows apart (a section's number).
    links = linker.question_links(question)
    unasked = [e for e, c in zip(tree.expressions, listed) if owner(c) not in (table, None)
               and not any(item.split(":", 1)[1].startswith(f"{owner(c)}.") or item == f"tab:{owner(c)}"
                           for item in links)]
    kept = [e for e in tree.expressions if e not in unasked]
    # Only when and where is left: which row each is, first ('what time is linear algebra': each section's number).
    timing = set(linker.schedule.get(table, ())) | set(linker.places.get(table, ()))
    keys = [] if linker.names.get(table) or any(owner(e.unalias()) != table or e.unalias().name not in timing
                                                for e in kept) else \
        [exp.column(k, table=qualify) for k in _row_keys(linker, table)]
    if not add and not unasked and not keys:
        return sql
    tree.set("expressions", keys + kept + add)
    order = tree.args.get("order")
    gone = {owner(e.unalias()) for e in unasked}
    rest = [k for k in order.expressions if not (isinstance(k.this, exp.Column) and owner(k.this) in gone)] \
        if order is not None else []
    if keys or unasked:
        first = keys[:1] or [e.unalias() for e in kept if owner(e.unalias()) == table][:1]
        tree.set("order", exp.Order(expressions=rest or [exp.Ordered(this=k.copy()) for k in first]))
    return tree.sql(dialect="postgres")


def name_fixed(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` answering only with a column its WHERE sets to one value (`SELECT MIN(ct.week) ... WHERE ct.week = 1`
    for 'what's covered in week 1 of data structures') listing what names those rows instead (the topic): the value
    is already in the question. Counts and questions naming a smallest or largest are left alone."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having")):
        return sql
    said = respell(question, PLAIN_WORDS)
    if re.search(rf"\b({MOST}|{LEAST}|first|last|earliest|latest|min\w*|max\w*|how many|number of|count)\b", said):
        return sql
    qualified = column_names(tree)
    fixed = _set_by_value(tree, qualified)
    shown = [e.unalias() for e in tree.expressions]
    shown = [e.this if isinstance(e, (exp.Min, exp.Max)) else e for e in shown]
    if not shown or not all(isinstance(c, exp.Column) and qualified(c) in fixed for c in shown):
        return sql
    table, alias = qualified(shown[0]).split(".")[0], shown[0].table
    texts = sorted(item.split(".", 1)[1] for item in linker.table_values.get(table, ()))
    names = linker.names.get(table) or (tuple(texts) if len(texts) == 1 else ())
    if not names or {qualified(c).split(".")[0] for c in shown} != {table}:
        return sql
    tree.set("expressions", [exp.column(n, table=alias or None) for n in names])
    return tree.sql(dialect="postgres")


_ASKS_FOR_ROW = re.compile(r"^\s*(who|whom|whose)\b|\bnamed?\b")


def list_theirs(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` answering a question about one row it names ('What does professor Karimi teach this semester?') with
    only that row's names, listing the rows of the table joined to it instead: their names, else the named rows
    they belong to and their number (each course and section number): the question already says who."""
    plain = _plain_list(sql, linker, ("group", "having", "limit"))
    if plain is None or plain[3] is None:
        return sql
    tree, listed, owner, table = plain
    names = linker.names.get(table, ())
    said = [singular(w) for w in words(question)]
    nouns = {n for n in linker.tables if f"tab:{table}" in linker.tables[n]}
    if not names or not all(c.name in names for c in listed) or _ASKS_FOR_ROW.search(question.lower()) or any(
            w in nouns and i and said[i - 1] in ("which", "what") for i, w in enumerate(said)):
        return sql
    qualified = column_names(tree)
    fixed = {c.split(".", 1)[1] for c in _set_by_value(tree, qualified) if c.split(".")[0] == table}
    found = from_tables(tree)
    mine = [t.alias_or_name for t in found if t.name == table]
    if not fixed & set(names) or len(mine) != 1:
        return sql
    # The table joined through its key to the named row ('sections' of an instructor).
    alias = {t.alias_or_name: t.name for t in found}
    children = {c for c, p in _fk_joins(tree.find_all(exp.EQ), alias, linker) if p == mine[0]}
    if len(children) != 1:
        return sql
    child = next(iter(children))
    ctable = alias[child]
    if linker.names.get(ctable):
        shown = [exp.column(n, table=child) for n in linker.names[ctable]]
    else:
        # Rows no column of theirs names: by the row they belong to that the statement leaves open, and number.
        set_tables = {c.split(".")[0] for c in _set_by_value(tree, qualified)}
        parents = [ref for t, _, ref, _ in linker.joins if t == ctable and ref != table and ref not in set_tables
                   and linker.names.get(ref)]
        keys = _row_keys(linker, ctable)
        if len(parents) != 1 or not keys:
            return sql
        palias = only_alias(tree, parents[0]) or linker.join_table(tree, parents[0])
        if palias is None:
            return sql
        shown = [exp.column(n, table=palias) for n in linker.names[parents[0]]] + \
            [exp.column(k, table=child) for k in keys]
    tree.set("expressions", shown)
    tree.set("distinct", None)
    tree.set("order", exp.Order(expressions=[exp.Ordered(this=c.copy()) for c in shown[:1]]))
    return tree.sql(dialect="postgres")


def name_numbered(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing rows no column of theirs names by their number ('Which sections have a capacity over 40?': a
    section number, its room and capacity), no row they belong to joined: shown as people tell them apart, by the
    code of the one row they belong to that has one (the course) and their number, beside the columns the question
    names, not those it does not nor a compared number (section 001 of what, not its room)."""
    plain = _plain_list(sql, linker, ("group", "having", "distinct"))
    if plain is None:
        return sql
    tree, listed, owner, table = plain
    present = {t.name for t in tree.find_all(exp.Table)}
    periods = {p.table for p in linker.periods}
    coded = lambda t: [(ref, codes[0]) for c, _, ref, _ in linker.joins if c == t and ref not in periods  # noqa: E731
                       for codes in [[n for n in linker.names.get(ref, ()) if f"{ref}.{n}" in linker.unique]] if codes]
    theirs: list[exp.Column] = []
    if table is None:
        # Joined to the row they belong to and listed with its names, where the question asks for these rows
        # ('Which sections start after 3pm?': CE 2300 section 001, not the course's title beside it).
        owners = {owner(c) for c in listed}
        table = next((t for t in owners if t is not None and len(coded(t)) == 1 and coded(t)[0][0] in owners), None)
        if table is None or len(owners) != 2 or _asked_table(question, linker) != table:
            return sql
        theirs = [c for c in listed if owner(c) == coded(table)[0][0]]
        if any(c.name not in linker.names[owner(c)] for c in theirs) or only_alias(tree, owner(theirs[0])) is None:
            return sql
    if linker.names.get(table):
        return sql
    keys = [c for c in listed if c.name in _row_keys(linker, table)]
    coded = coded(table)
    if not keys or len(coded) != 1 or (coded[0][0] in present) != bool(theirs):
        return sql
    said = _columns_said(question, linker)
    # (As `show_compared`: a date or time compared with a value shown, a number not; one compared with a computed
    # value, 'above the average capacity', shown.)
    compared = {n.this.name: n.this for n in conditions(tree.args.get("where")) if isinstance(n, exp.Binary)
                and isinstance(n.this, exp.Column) and isinstance(n.expression, exp.Literal) and owner(n.this) == table}
    computed = {n.this.name for n in tree.find_all(exp.Binary)
                if isinstance(n.this, exp.Column) and n.expression.find(exp.Select)}
    parent, code = coded[0]
    # (Of the row they belong to, only a column the question names beside the code.)
    keep = [e for e, c in zip(tree.expressions, listed) if (
            c.name != code and f"col:{parent}.{c.name}" in said if c in theirs else c in keys or c.name in computed or (
                f"{table}.{c.name}" in linker.dated if c.name in compared else f"col:{table}.{c.name}" in said))]
    keep += [c.copy() for name, c in compared.items() if f"{table}.{name}" in linker.dated
             and name not in {k.unalias().name for k in keep}]
    alias = only_alias(tree, parent) if theirs else linker.join_table(tree, parent)
    if alias is None:
        return sql
    mine = next(t.alias_or_name for t in from_tables(tree) if t.name == table)
    for c in tree.find_all(exp.Column) if mine == table else ():
        # A second table makes the bare columns of the statement's own SELECT ambiguous (not its subqueries').
        if not c.table and c.find_ancestor(exp.Select) is tree:
            c.set("table", exp.to_identifier(mine))
    for c in keep:
        if not c.unalias().table:
            c.unalias().set("table", exp.to_identifier(mine))
    tree.set("expressions", [exp.column(code, table=alias)] + keep)
    order = tree.args.get("order")
    if order is not None:
        kept = {e.unalias().name for e in keep} | {code}
        rest = [k for k in order.expressions if isinstance(k.this, exp.Column) and k.this.name in kept]
        # Rows kept by a time or date are read in its order ('after 3pm': the 4pm sections first).
        when = [exp.Ordered(this=e.unalias().copy()) for e in keep
                if e.unalias().name in compared and f"{table}.{e.unalias().name}" in linker.dated]
        order.set("expressions", when + [exp.Ordered(this=exp.column(code, table=alias))] +
                  [exp.Ordered(this=e.unalias().copy()) for e in keep if e.unalias() in keys] if when or not rest
                  else rest)
    return tree.sql(dialect="postgres")


def show_parents(sql: str, linker: SchemaLinker) -> str:
    """`sql` listing rows that no column of theirs names (topics, sections), joined to the rows they belong to
    without fixing which one ('what are the week 1 topics for CS courses'): each shown with its own (the course's
    code, first): a list of topics of several courses says whose each is."""
    plain = _plain_list(sql, linker, ("group", "having", "distinct"))
    if plain is None or plain[3] is None:
        return sql
    tree, listed, owner, table = plain
    names = linker.names.get(table, ())
    if len(names) > 1 or any(f"{table}.{n}" in linker.unique for n in names):
        return sql  # (rows their own columns name: people, courses)
    found = from_tables(tree)
    if sum(t.name == table for t in found) != 1:
        return sql
    alias = {t.alias_or_name: t.name for t in found}
    mine = next(t.alias_or_name for t in found if t.name == table)
    ons = [c for j in tree.args.get("joins") or () if j.args.get("on") is not None
           for c in conditions(exp.Where(this=j.args["on"]))]
    parents = {p for c, p in _fk_joins(ons, alias, linker) if c == mine and linker.names.get(alias[p])}
    if len(parents) != 1:
        return sql
    parent = next(iter(parents))
    ptable = alias[parent]
    pnames = linker.names[ptable]
    # A parent set to one row (by its name, code or key) is already said by the question.
    fixed = {n.this.name for n in conditions(tree.args.get("where")) if isinstance(n, exp.EQ)
             and isinstance(n.this, exp.Column) and n.this.table == parent}
    if any(f"{ptable}.{c}" in linker.unique or c in pnames for c in fixed) or any(owner(c) == ptable for c in listed):
        return sql
    shown = [n for n in pnames if f"{ptable}.{n}" in linker.unique][:1] or list(pnames)
    cols = [exp.column(n, table=parent) for n in shown]
    tree.set("expressions", cols + list(tree.expressions))
    order = tree.args.get("order")
    if order is not None and not tree.args.get("limit"):
        order.set("expressions", [exp.Ordered(this=c.copy()) for c in cols] + list(order.expressions))
    return tree.sql(dialect="postgres")


def list_once(sql: str, linker: SchemaLinker) -> str:
    """`sql` listing, through joins, columns of one table only, among them one no two of its rows share (a course's
    code), with DISTINCT: 'Which CE courses are offered this semester?' lists each course once, not once a section."""
    plain = _plain_list(sql, linker, ("group", "having", "distinct"))
    if plain is None:
        return sql
    tree, listed, owner, table = plain
    found = from_tables(tree)
    if len(found) < 2 or len(found) <= len(tree.args.get("joins") or ()):
        return sql
    # (The same table twice, a course and its prerequisite, lists two rows by one name.)
    if table is None or sum(t.name == table for t in found) != 1 or not any(
            f"{table}.{c.name}" in linker.unique for c in listed):
        return sql
    order = tree.args.get("order")
    shown = {(c.table, c.name) for c in listed}
    if order is not None and not all(isinstance(k.this, exp.Column) and (k.this.table, k.this.name) in shown
                                     for k in order.expressions):
        return sql  # (DISTINCT sorts only by what it lists)
    tree.set("distinct", exp.Distinct())
    return tree.sql(dialect="postgres")


def list_kinds(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing the one column a plural question noun names ('Which rooms does the CS department use?'): each
    value once, in its order; a room two sections meet in is one room."""
    m = re.match(r"\s*(?:which|what)\s+([a-z]+)\b", question.lower())
    plain = _plain_list(sql, linker, ("group", "having", "distinct", "limit")) if m else None
    noun = m.group(1) if plain else ""
    if singular(noun) == noun or linker.tables.get(singular(noun)) or len(plain[1]) != 1:
        return sql
    tree, (column,), owner, table = plain
    if f"col:{table}.{column.name}" not in linker.columns_named(noun) or f"{table}.{column.name}" in linker.unique:
        return sql
    tree.set("distinct", exp.Distinct())
    tree.set("order", exp.Order(expressions=[exp.Ordered(this=column.copy())]))
    return tree.sql(dialect="postgres")


def list_each(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing the rows of one table it reads alone by their names without DISTINCT, unless the question asks
    for distinct ones: two students of one name are two students. Only rows of a table others point at."""
    plain = _plain_list(sql, linker, ("group", "having"))
    if plain is None or not plain[0].args.get("distinct") or re.search(r"\b(distinct|unique)\b", question.lower()):
        return sql
    tree, listed, _, table = plain
    if len(from_tables(tree)) != 1 or tree.args.get("joins") or \
            {c.name for c in listed} != set(linker.names.get(table) or ("",)):
        return sql
    # Rows other tables point at are things of their own; a table nothing points at may repeat a name per row of
    # another (a business's neighbourhood), and its names are listed once.
    if not any(ref == table for _, _, ref, _ in linker.joins):
        return sql
    tree.set("distinct", None)
    return tree.sql(dialect="postgres")


def drop_unasked(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing rows by the two columns naming them (a course's code and title, a person's first and last name)
    and other columns of theirs the question never names nor compares with a computed value ('Which courses does the
    EE department offer?' with their credits and level): those left out, the answer shows what was asked."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "limit")):
        return sql
    listed = [e.unalias() for e in tree.expressions]
    if not all(isinstance(c, exp.Column) for c in listed):
        return sql
    qualified = column_names(tree)
    tables = {(qualified(c) or ".").split(".")[0] for c in listed}
    names = linker.names.get(next(iter(tables)), ()) if len(tables) == 1 else ()
    if len(names) < 2 or not set(names) <= {c.name for c in listed}:
        return sql
    named = _columns_said(question, linker)
    computed = {qualified(n.this) for n in tree.find_all(exp.Binary)
                if isinstance(n.this, exp.Column) and n.expression.find(exp.Select)}
    keep = [e for e, c in zip(tree.expressions, listed)
            if c.name in names or f"col:{qualified(c)}" in named or qualified(c) in computed]
    if len(keep) == len(listed):
        return sql
    tree.set("expressions", keep)
    return tree.sql(dialect="postgres")


def show_compared(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` listing named rows kept by comparing one column of theirs with a value, shown as people read such lists:
    a compared date or time listed, without the row's other dates and times the question does not name ('Which terms
    end before June?': the name and the end); a compared number neither listed nor sorted by where two columns name
    the rows ('Which courses have fewer than 4 credits?': the courses, by code)."""
    plain = _plain_list(sql, linker, ("group", "having", "limit"))
    if plain is None:
        return sql
    tree, listed, owner, table = plain
    names = [c for c in listed if c.name in linker.names.get(table, ())]
    compared = [n.this for n in conditions(tree.args.get("where"))
                if isinstance(n, (exp.GT, exp.GTE, exp.LT, exp.LTE)) and isinstance(n.this, exp.Column)
                and isinstance(n.expression, exp.Literal) and owner(n.this) == table]
    if table is None or not names or len(compared) != 1:
        return sql
    column = compared[0].name
    mine = lambda c: owner(c) == table  # noqa: E731
    if f"col:{table}.{column}" in linker.numeric:
        if len(linker.names.get(table, ())) < 2:
            return sql  # (as `drop_unasked`: rows one column names, an assessment, keep what tells them apart)
        keep = [e for e, c in zip(tree.expressions, listed) if not (mine(c) and c.name == column)]
        order = tree.args.get("order")
        if order is not None and any(isinstance(k.this, exp.Column) and mine(k.this) and k.this.name == column
                                     for k in order.expressions):
            order.set("expressions", [exp.Ordered(this=k) for k in _name_order(names)])
    elif f"{table}.{column}" in linker.dated:
        named = _columns_said(question, linker)
        other_date = lambda c: c.name != column and f"{table}.{c.name}" in linker.dated  # noqa: E731
        keep = [e for e, c in zip(tree.expressions, listed)
                if not (mine(c) and other_date(c) and f"col:{table}.{c.name}" not in named)]
        if not any(mine(c) and c.name == column for c in listed):
            keep.append(compared[0].copy())
    else:
        return sql
    if [e.sql() for e in keep] == [e.sql() for e in tree.expressions]:
        return sql
    tree.set("expressions", keep)
    return tree.sql(dialect="postgres")


def show_child_compared(sql: str, linker: SchemaLinker) -> str:
    """`sql` listing rows by a joined row of theirs that it names and compares a number of ('Courses where the final
    exam is worth more than 30 percent'): that number shown beside them, each row's own (not one every listed row
    shares, as a compared number of the rows themselves would be)."""
    plain = _plain_list(sql, linker, ("group", "having", "limit"))
    if plain is None or plain[3] is None or not linker.names.get(plain[3]):
        return sql
    tree, listed, owner, table = plain
    where = conditions(tree.args.get("where"))
    named = {n.this.table for n in where if isinstance(n, exp.EQ) and value_condition(n) and owner(n.this) != table
             and n.this.name in linker.names.get(owner(n.this) or "", ())}
    compared = [n.this for n in where if isinstance(n, (exp.GT, exp.GTE, exp.LT, exp.LTE))
                and isinstance(n.this, exp.Column) and isinstance(n.expression, exp.Literal)
                and n.this.table in named and f"col:{owner(n.this)}.{n.this.name}" in linker.numeric]
    if len(compared) != 1 or not any((child, parent) == (owner(compared[0]), table)
                                     for child, _, parent, _ in linker.joins):
        return sql
    tree.set("expressions", list(tree.expressions) + [compared[0].copy()])
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
    named = _columns_said(question, linker)
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
    """`sql` listing one row's children (the topics of one course) in the order a column numbering them gives (week),
    or else heaviest first by a column weighing them (an assessment's weight), and showing that column, where it
    sorts them by a text column, or the weight lightest first, and the question asks for no order; 'the first/last
    topic of X' cut to that one."""
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
    if not table:
        return sql
    numbers = [c.split(".")[1] for c in linker.numeric if c.startswith(f"col:{table}.")]
    seq = [c for c in numbers if sequence_column(c)]
    heavy = [c for c in numbers if weight_column(c)] if not seq else []
    parents = {(col, ref) for child, col, ref, _ in linker.joins if child == table}
    tables = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    # One parent row picked by a value ('of Computer Networks'): weeks of different courses are no one sequence.
    one_parent = any(value_condition(node) and (tables.get(node.this.table) in {r for _, r in parents} or (
        node.this.table == alias and node.this.name in {c for c, _ in parents})) for node in tree.find_all(exp.EQ))
    fixed = {qualified(n.this) for n in conditions(tree.args.get("where"))
             if isinstance(n, exp.EQ) and isinstance(n.this, exp.Column)}
    by = (seq or heavy)[0] if len(seq or heavy) == 1 else None
    if by is None or not one_parent or tree.args.get("distinct") or f"{table}.{by}" in fixed:
        return sql  # (a week fixed by 'in week 1' orders nothing)
    numeric = [c for c in keys if f"col:{qualified(c)}" in linker.numeric]
    # Sorted by a number already: left as it is, but an unasked 'lightest first' of a whole list is turned round.
    lightest_first = [qualified(c) for c in keys] == [f"{table}.{by}"] and not order.expressions[0].args.get("desc")
    if numeric and not (heavy and lightest_first and not tree.args.get("limit")):
        return sql
    key = exp.column(by, table=alias or None)
    listed = {qualified(e.unalias()) for e in tree.expressions if isinstance(e.unalias(), exp.Column)}
    if f"{table}.{by}" not in listed and all(isinstance(e.unalias(), exp.Column) for e in tree.expressions):
        tree.set("expressions", [key.copy()] * bool(seq) + list(tree.expressions) + [key.copy()] * bool(heavy))
    nouns = "|".join(re.escape(n) for n in sorted(table_nouns(table), key=len, reverse=True))
    end = re.search(rf"\b(first|last|final)\s+(?:\w+\s+)?(?:{nouns})s?\b", said) if seq else None
    if end and not tree.args.get("limit"):
        last = end.group(1) != "first"
        order.set("expressions", [exp.Ordered(this=key, desc=True) if last else exp.Ordered(this=key)])
        return tree.limit(1).sql(dialect="postgres")
    order.set("expressions", _sorted_by(key, heavy).expressions)
    return tree.sql(dialect="postgres")


def show_searched(sql: str, linker: SchemaLinker) -> str:
    """`sql` listing other columns of the rows it finds by a word in their naming column ('what week do we cover
    kubernetes in CE 4229': the week) listing that column too: a word can find several rows, each to be told apart."""
    plain = _plain_list(sql, linker)
    if plain is None or plain[3] is None:
        return sql
    tree, cols, owner, table = plain
    # The column naming the rows, or where none does (a course's topics), the text searched.
    names = linker.names.get(table)
    if names and any(c.name in names for c in cols):
        return sql
    # (Not a whole stored name searched as a word, '%Final Exam%': that finds the row the question names.)
    searched = [n.this for n in conditions(tree.args.get("where")) if isinstance(n, exp.ILike)
                and isinstance(n.this, exp.Column) and (not names or n.this.name in names) and owner(n.this) == table
                and n.this.name not in {c.name for c in cols} and not (
                    names and isinstance(n.expression, exp.Literal) and f"{table}.{n.this.name}" in
                    linker.stored_as(n.expression.this.strip("%")))]
    if len(searched) != 1:
        return sql
    tree.set("expressions", list(tree.expressions) + [searched[0].copy()])
    return tree.sql(dialect="postgres")


def _name_order(named: list[exp.Column]) -> list[exp.Column]:
    """How rows named by these columns are sorted: people by last then first name, else by the first column."""
    by = {c.name: c for c in named}
    pair = person_columns(by)
    return [by[pair[1]].copy(), by[pair[0]].copy()] if pair else [named[0].copy()]


def _asked_table(question: str, linker: SchemaLinker) -> str | None:
    """The table the question's first table noun names ('Which graduate courses does ...': courses); none for 'who'
    ('Who teaches graduate courses?' asks for people whatever table the noun names)."""
    nouns = frozenset(n + s for n in linker.tables if " " not in n for s in ("", "s"))
    # A noun typed with a slip still names its table: 'studetns of the Turing Hall department'.
    said = [w if w in linker.tables else singular(respell(w, nouns)) for w in map(singular, words(question))]
    if said[:1] in (["who"], ["whom"], ["whose"]):
        return None
    for i in range(len(said)):
        for table in _tables_named(said, i, linker):
            # 'the Noether Hall department instructors': a noun just before another table's only qualifies it.
            if linker.tables.get(" ".join(said[i:i + 2])) or next(_tables_named(said, i + 1, linker), None) is None:
                return table
            break
    return None


def _tables_named(said: list[str], i: int, linker: SchemaLinker):
    """The tables the singular words `said` name from position `i` on: by two words ('course topic'), then by one."""
    for noun in (" ".join(said[i:i + 2]), said[i]):
        items = linker.tables.get(noun, frozenset())
        if len(items) == 1:
            yield next(iter(items)).removeprefix("tab:")
