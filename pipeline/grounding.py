"""Mending the model's statement where it contradicts the question's plain words, without another generation.

A 135M model copies the comparison of the example it is shown ('capacity at least 100' -> `>=`) whatever bound the
question states ('over 40'), counts rows for any 'how many' ('how many credits is CS 2110' -> `count(*)`) and drops
a DISTINCT that 'list the distinct titles' asks for. Each is fixed by reading the question, as values are spelled
as stored (`SchemaLinker.ground_values`). How the rows are then shown is `pipeline.shaping`'s; `pipeline.mend` runs
both."""
from __future__ import annotations

import re
from typing import Callable, Mapping, Sequence

from sqlglot import exp

from .linking import (SchemaLinker, and_where, column_names, conditions, from_tables, only_alias, parse_statement,
                      table_nouns, value_condition)
from .words import humanise, names_its_table, respell, singular, words

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
PLAIN_WORDS = frozenset(w for pattern, _ in _BEFORE + _AFTER for w in re.findall(r"[a-z]{4,}", pattern.pattern)) | {
    "many", "distinct", "unique", "total", "average", "each", "every", "between"}


_FLIP = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


def stated_bound(question: str, value: str) -> type[exp.Expression] | None:
    """How the question bounds `value` ('more than 30' -> GT, '4 credits' -> EQ); None where it does not name it
    or names it as one end of a range."""
    question = respell(question, PLAIN_WORDS)
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
        elif time is None and lit.is_string and not re.fullmatch(r"\d{4}-\d\d-\d\d", lit.this):
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


def order_distinct(sql: str) -> str:
    """`sql` without the ORDER BY items of a SELECT DISTINCT that are not in its select list, which Postgres refuses
    ('for SELECT DISTINCT, ORDER BY expressions must appear in select list'): the rows stay the asked ones."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or not tree.args.get("distinct") or not tree.args.get("order"):
        return sql
    if tree.args["distinct"].args.get("on"):
        return sql  # DISTINCT ON has its own rule for the ORDER BY
    shown = {e.unalias().sql() for e in tree.expressions} | {e.alias for e in tree.expressions if e.alias}
    return _order_by_only(tree, lambda o: o.this.sql() in shown) or sql


def _order_by_only(tree: exp.Select, keep) -> str | None:
    """The statement sorted only by the ORDER BY items `keep` holds for (no ORDER BY where none does); None where it
    holds for all."""
    order = tree.args["order"]
    kept = [o for o in order.expressions if keep(o)]
    if len(kept) == len(order.expressions):
        return None
    if kept:
        order.set("expressions", kept)
    else:
        tree.set("order", None)
    return tree.sql(dialect="postgres")


def order_one_row(sql: str) -> str:
    """`sql` without the ORDER BY items of an aggregate SELECT without GROUP BY that are no aggregates, which Postgres
    refuses ('column must appear in the GROUP BY clause or be used in an aggregate function'): its one row needs
    no order ('avg rating Mark's Bistro got in 2022' written `... ORDER BY r.rating`)."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or tree.args.get("group") or not tree.args.get("order") or \
            not tree.expressions or not all(e.unalias().find(exp.AggFunc) for e in tree.expressions):
        return sql
    aliases = {e.alias for e in tree.expressions if e.alias}
    return _order_by_only(tree, lambda o: o.this.find(exp.AggFunc) or o.this.name in aliases) or sql


def order_asked(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` cut by a LIMIT and sorted by one number (a numeric column or an aggregate) the other way from the one the
    question asks: 'top 3 longest rivers' sorted `ORDER BY length` is sorted descending, 'cheapest' ascending.
    Only where the question's words ask one way alone."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or not tree.args.get("limit") or not tree.args.get("order"):
        return sql
    raw = words(question)
    said = {w for i, w in enumerate(raw) if not (i and raw[i - 1] == "at")}  # ('at least 3' bounds, it ranks nothing)
    largest, smallest = bool(said & _LARGEST), bool(said & _SMALLEST)
    keys = tree.args["order"].expressions
    if largest == smallest or len(keys) != 1:
        return sql
    key = keys[0].this
    qualified = column_names(tree)
    number = key.find(exp.AggFunc) is not None or isinstance(key, exp.Column) and \
        f"col:{qualified(key)}" in linker.numeric
    if not number or bool(keys[0].args.get("desc")) == largest:
        return sql
    keys[0].replace(exp.Ordered(this=key.copy(), desc=largest, nulls_first=False if largest else None))
    return tree.sql(dialect="postgres")


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


MOST, LEAST = "most|highest|largest|biggest|greatest|heaviest", "least|lowest|smallest|fewest|lightest"
# The words that ask for the largest or the smallest of a number, for order_asked ('oldest', 'best' read either way,
# and 'top 3' of a list in hand may mean its first three: left alone).
_LARGEST = frozenset(MOST.split("|")) | {"longest", "tallest", "maximum", "max"}
_SMALLEST = frozenset(LEAST.split("|")) | {"shortest", "cheapest", "minimum", "min"}


# 'at least' and 'at most' are bounds, not superlatives.
_SUPERLATIVE = re.compile(rf"\b(?:the|which|what)\b[\w\s]*?(?<!\bat )\b(?:({MOST}|maximum)|({LEAST}|minimum))\b")


# Several asked for: 'top 3', 'the 2 largest'.
_SEVERAL = re.compile(rf"\b(top|first|last)\s+\d+|\b\d+\s+(\w+\s+)?({MOST}|{LEAST})\b")


def ground_superlative(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` ordered by its one number column and cut to the first row where the question asks for the one with the
    most or least of something ('which assessment is worth the most in CS 1010') and the statement lists every row
    (no LIMIT, grouping or aggregate); not for 'top 3' or 'the 2 largest', which ask for several."""
    question = respell(question, PLAIN_WORDS)
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
    # The one row is told by what names it and the number it wins by, not by every column listed for a list.
    table = qualified(numbers[0]).split(".")[0]
    names = linker.names.get(table, ())
    named = [e for e in tree.expressions if isinstance(c := e.unalias(), exp.Column) and c.name in names
             and qualified(c) == f"{table}.{c.name}"]
    if named:
        tree.set("expressions", named + [e for e in tree.expressions if e.unalias() is numbers[0]])
    return tree.limit(1).sql(dialect="postgres")


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
    top = next((i for i, w in enumerate(said) if re.fullmatch(f"{MOST}|{LEAST}|maximum|minimum", w)), len(said))
    # 'which assessment ...', or the noun at most two words after the superlative with no 'of'/'for' between.
    asks_row = said[:1] in (["which"], ["what"]) and bool(set(said[1:3]) & nouns) or any(
        w in nouns and not set(said[top + 1:i]) & {"of", "for", "across", "among", "in", "per"}
        for i, w in enumerate(said[top + 1:top + 3], start=top + 1))
    if not asks_row:
        return
    tree.set("expressions", [exp.column(n, table=column.table or None) for n in linker.names[table]] + [column.copy()])


def ground_count(question: str, sql: str, linker: SchemaLinker,
                 named: Mapping[str, Sequence[str]] | None = None) -> str:
    """`sql` returning the stored number a 'how many <numeric column>' question asks for ('how many credits is
    CS 2110': `credits`) where it counts rows instead; unchanged otherwise (a total, a count per group). The table
    holding it is joined where the question names one of its rows and it points at a table the statement reads
    ('how much is the final exam worth in cloud computing' of a count of courses: the assessments)."""
    question = respell(question, PLAIN_WORDS)
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
    if not fits and len(columns) == 1 and any(item.split(".")[0] == columns[0][0] for item in named or ()):
        alias = linker.join_table(tree, columns[0][0], child=True)
        if alias is not None:
            fits, aliases[alias] = [(alias, columns[0][1])], columns[0][0]
    if len(fits) != 1:
        return sql
    alias, column = fits[0]
    tree.expressions[0].replace(exp.column(column, table=alias if len(aliases) > 1 else None))
    order = tree.args.get("order")
    if order is not None and order.find(exp.AggFunc):
        tree.set("order", None)  # (sorting one row by its count: no count is left to sort by)
    return tree.sql(dialect="postgres")


# A number summed over rows: 'total seats', 'more than 100 seats in total'.
TOTAL = re.compile(r"\b(total|in all|altogether|combined)\b")


def ground_total(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` summing the number a question totals ('total seats available in CS 1010': `SUM(s.capacity)`) where it
    counts rows instead; unchanged for 'the total number of' rows, which is a count."""
    said = respell(question, PLAIN_WORDS).lower()
    if not TOTAL.search(said) or re.search(r"\btotal (number|count)\b", said):
        return sql
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or tree.args.get("group") or len(tree.expressions) != 1 or \
            not isinstance(count := tree.expressions[0].unalias(), exp.Count):
        return sql
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    asked = {c for w in words(question) for c in linker.columns_named(w) if c in linker.numeric}
    fits = [(alias, c.split(".", 1)[1]) for c in sorted(asked) for alias, name in aliases.items()
            if c.startswith(f"col:{name}.")]
    if len(fits) != 1 or list(aliases.values()).count(aliases[fits[0][0]]) != 1:
        return sql
    alias, column = fits[0]
    count.replace(exp.Sum(this=exp.column(column, table=alias if len(aliases) > 1 else None)))
    return tree.sql(dialect="postgres")


def _role_keys(linker: SchemaLinker, bridge: str | None, table: str | None, column: str) -> tuple[str, str] | None:
    """(own key, role key) of a table `bridge` with two keys to `table`'s `column`, one named after `table`
    (`course_id`) and one after the role its row plays (`prerequisite_id`); None where it has not."""
    keys = [c for t, c, r, rc in linker.joins if t == bridge and r == table and rc == column]
    roles = [c for c in keys if singular(humanise(c)) not in table_nouns(table)]
    if len(keys) != 2 or len(roles) != 1:
        return None
    return next(c for c in keys if c != roles[0]), roles[0]


def ground_exists_role(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` asking whether a row has (NOT) EXISTS rows of a table with two keys to its table, tied by the key of
    the role the question gives the row: 'courses that aren't a prerequisite for anything' by `prerequisite_id`,
    'courses with no prerequisites' by `course_id`; unchanged where the question does not say."""
    tree = parse_statement(sql)
    if not isinstance(tree, exp.Select) or not tree.find(exp.Exists):
        return sql
    text = respell(question, PLAIN_WORDS).lower()
    outer = {t.alias_or_name: t.name for t in from_tables(tree)}
    changed = False
    for sub in tree.find_all(exp.Exists):
        inner = {t.alias_or_name: t.name for t in sub.find_all(exp.Table)}
        for node in sub.find_all(exp.EQ):
            sides = [node.this, node.expression]
            if not all(isinstance(c, exp.Column) for c in sides):
                continue
            for key, row in (sides, sides[::-1]):
                table, ref = inner.get(key.table), outer.get(row.table)
                if row.table in inner or ref is None:
                    continue
                keys = _role_keys(linker, table, ref, row.name)
                if keys is None or key.name not in keys:
                    continue
                own, role = keys
                word = re.escape(singular(humanise(role)))
                plays = re.search(rf"\b(?:is|are|was|were|be)(?:n't|\s+not|\s+never)?\s+(?:a|an|the|any)\s+{word}s?\b"
                                  rf"|\b(?:as|being)\s+(?:a|an)\s+{word}\b", text)
                owns = re.search(rf"\b(?:no|without|any|zero)\s+{word}s?\b", text)
                want = role if plays and not owns else own if owns and not plays else None
                if want is not None and key.name != want:
                    key.set("this", exp.to_identifier(want))
                    changed = True
    return tree.sql(dialect="postgres") if changed else sql


def ground_never(question: str, sql: str) -> str:
    """`sql` without the condition a NOT EXISTS puts on the state its table is named after where the question says
    'never' ('students who have never enrolled in anything': any enrollment, whatever its status now, is enrolling;
    'not enrolled this semester' keeps it)."""
    tree = parse_statement(sql)
    if not re.search(r"\bnever\b", question.lower()) or not isinstance(tree, exp.Select):
        return sql
    changed = False
    for sub in tree.find_all(exp.Exists):
        if not isinstance(sub.parent, exp.Not) or not isinstance(sub.this, exp.Select):
            continue
        inner = {t.alias_or_name: t.name for t in sub.this.find_all(exp.Table)}
        every = conditions(sub.this.args.get("where"))
        kept = [n for n in every if not (isinstance(n, exp.EQ) and value_condition(n) and names_its_table(
            n.expression.this, inner.get(n.this.table) or (next(iter(inner.values())) if len(inner) == 1 else "")))]
        if kept and len(kept) < len(every):
            sub.this.set("where", exp.Where(this=exp.and_(*[n.copy() for n in kept])))
            changed = True
    return tree.sql(dialect="postgres") if changed else sql


_NEEDS = re.compile(r"\b(?:needs?|requires?|requiring)\s+(.+?)(?:\s+(?:first|before(?:hand)?))?\W*$")


def ground_requires(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` for rows needing the row the question names ('courses this semester that need CE 3310 first') where the
    statement picks that row itself: the rows a table with two keys to its table gives it to in its role (the
    courses whose prerequisite it is); people asked for ('Who is teaching ...') listed with the row they go with."""
    m = _NEEDS.search(question.lower())
    tree = parse_statement(sql) if m else None
    if not isinstance(tree, exp.Select):
        return sql
    said = " ".join(w for w in words(m.group(1)) if w not in ("the", "a", "an"))
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    for node in conditions(tree.args.get("where")):
        table = aliases.get(node.this.table or next(iter(aliases)) if len(aliases) == 1 else node.this.table) \
            if isinstance(node, exp.EQ) and value_condition(node) else None
        if table is None or " ".join(words(node.expression.this)) != said:
            continue
        bridges = {(t, rc) for t, _, r, rc in linker.joins if r == table and t not in aliases.values()}
        for bridge, ref in sorted(bridges):
            keys = _role_keys(linker, bridge, table, ref)
            if keys is None:
                continue
            own, role = keys
            named = exp.select(ref).from_(table).where(exp.column(node.this.name).eq(node.expression.copy()))
            needing = exp.select(own).from_(bridge).where(exp.column(role).isin(query=named))
            node.replace(exp.column(ref, table=node.this.table or None).isin(query=needing))
            listed = [e.unalias() for e in tree.expressions]
            code = next((c for c in linker.names.get(table, ()) if f"{table}.{c}" in linker.unique), None)
            if code and all(isinstance(c, exp.Column) and aliases.get(c.table, table) != table for c in listed):
                shown = exp.column(code, table=node.this.table or None)
                tree.set("expressions", [shown, *tree.expressions])
                order = tree.args.get("order")
                tree.set("order", exp.Order(expressions=[exp.Ordered(this=shown.copy()),
                                                         *(order.expressions if order else [])]))
            return tree.sql(dialect="postgres")
    return sql


def ground_hops(question: str, sql: str, linker: SchemaLinker) -> str:
    """`sql` going one step further through a table with two keys to one table where the question repeats its role
    ('the prerequisites of the prerequisites of Distributed Systems'): the listed row joined to a second row of that
    table, itself joined to the first."""
    said = [singular(w) for w in words(question)]
    repeated = {said[i] for i in range(len(said) - 3) if said[i + 1] == "of" and said[i + 3] == said[i]
                and said[i + 2] in ("the", "their", "its", "those")}
    tree = parse_statement(sql) if repeated else None
    if not isinstance(tree, exp.Select):
        return sql
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    for join in tree.args.get("joins") or ():
        on = join.args.get("on")
        if not column_pair(on):
            continue
        for key, row in ((on.this, on.expression), (on.expression, on.this)):
            bridge = aliases.get(key.table)
            keys = [(c, rc) for t, c, r, rc in linker.joins if t == bridge and r == aliases.get(row.table)]
            role = [c for c, _ in keys if singular(humanise(c)) in repeated]
            if len(keys) != 2 or len(role) != 1 or key.name != role[0] or list(aliases.values()).count(bridge) != 1:
                continue
            own = next(c for c, _ in keys if c != role[0])
            second = next(a for a in [f"{key.table}2", *(f"{key.table}{n}" for n in range(3, 99))] if a not in aliases)
            hop = exp.Join(this=exp.alias_(exp.to_table(bridge), second, table=True),
                           on=exp.column(own, table=second).eq(exp.column(role[0], table=key.table)))
            key.set("table", exp.to_identifier(second))
            joins = tree.args["joins"]
            joins.insert(joins.index(join), hop)
            tree.set("joins", joins)
            return tree.sql(dialect="postgres")
    return sql


# 'no', 'not', 'never', 'without', "aren't": a question about rows that have none of something; not a bound ('no more
# than 3', 'not later than').
NEGATION = re.compile(r"\b(?:no|not|never|without|none|zero)\b(?!\s+(?:more|less|fewer|later|earlier|greater|higher|"
                       r"lower|longer|shorter|over|under|than)\b)|n't\b")


def _said_at(text: str, value: str, said: dict[str, int] | None) -> int:
    """Where the lower-cased question `text` names `value`: spelled out, else in other words (`said`: 'last fall' for
    'Fall 2025'); -1 where it does not."""
    value = value.lower()
    return text.find(value) if value in text else (said or {}).get(value, -1)


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
        return [_said_at(text, lit.this, said) for lit in cond.find_all(exp.Literal) if lit.is_string]
    m = NEGATION.search(text)
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
        if join.args.get("side") or join.args.get("kind") or not column_pair(on):
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


def ground_but_not(question: str, sql: str, named: dict[str, list[str]], said: dict[str, int] | None = None) -> str:
    """`sql` asking for rows with one value and without another of one column where the question names both, one
    before its negation and one after ('instructors who taught last fall but aren't teaching this semester') and the
    statement keeps only one side: the missing NOT EXISTS, or EXISTS, added as a copy of the side it has with the
    other value. `named`: the values the question names by column, in its order (`SchemaLinker.named_values`)."""
    text = question.lower()
    m = NEGATION.search(text)
    tree = parse_statement(sql) if m else None
    if not isinstance(tree, exp.Select) or any(tree.args.get(k) for k in ("group", "having", "limit")):
        return sql
    qualified = column_names(tree)
    for column, values in named.items():
        if len(values) != 2 or not 0 <= _said_at(text, values[0], said) < m.start() < _said_at(text, values[1], said):
            continue
        has, lacks = values
        found = {node.expression.this for node in tree.find_all(exp.EQ)
                 if value_condition(node) and qualified(node.this) in (column, None)}
        negated = [n for n in tree.find_all(exp.Not) if isinstance(n.this, exp.Exists)]
        if negated and found == {lacks} and len(negated) == 1:
            # Without the second value already; with the first one added the same way.
            positive = negated[0].this.copy()
            for lit in positive.find_all(exp.Literal):
                if lit.is_string and lit.this == lacks:
                    lit.replace(exp.Literal.string(has))
            and_where(tree, positive)
            return tree.sql(dialect="postgres")
        if not negated and not tree.find(exp.Exists) and found == {has}:
            # With the first value only: the same joins with the second one, made the NOT EXISTS of the negation.
            other = tree.copy()
            for lit in other.find_all(exp.Literal):
                if lit.is_string and lit.this == has:
                    lit.replace(exp.Literal.string(lacks))
            lacked = parse_statement(ground_negation(question, other.sql(dialect="postgres"), said))
            nots = [n for n in lacked.find_all(exp.Not) if isinstance(n.this, exp.Exists)] if lacked else []
            if len(nots) != 1:
                return sql
            and_where(tree, nots[0].copy())
            tree.set("distinct", exp.Distinct())  # each listed row once, not once per joined row of the first value
            return tree.sql(dialect="postgres")
    return sql


def column_pair(node: exp.Expression | None) -> bool:
    """Whether `node` is `a.x = b.y` for two different tables."""
    return (isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Column)
            and bool(node.this.table) and bool(node.expression.table) and node.this.table != node.expression.table)
