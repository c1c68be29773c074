"""Schema linking: which tables, columns and stored values a question names, and which a SQL statement uses.

Retrieval ranks examples by how a question is worded; a 135M model copies the tables and filters of the examples
it is shown, so among similarly worded examples those that touch what the question names ("CS 2110" is a course
code, "credits" a course column) should come first (docs/pipeline.md; the retrieval runs: docs/benchmark-history.md)."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import asyncpg
import sqlglot
from sqlglot import exp

from .database import quote_ident
from .periods import PeriodTable, load_period_tables, relative_periods
from .schema import NUMBER_TYPES, TEXT_TYPES, Schema
from .words import (COLUMN_SYNONYMS, START, SYNONYMS, abbreviates, humanise, person_columns, short_columns, singular,
                    weight_column, words)

log = logging.getLogger("askdb.linking")

_RELATIVE = ("this", "last", "next", "current", "previous")
_LONGEST_VALUE_WORDS = 6
# Words that place a question in time without naming a period ('offered right now').
_NOW = frozenset({"now", "currently", "current", "today", "upcoming", "previous", "recent", "recently", "ongoing"})
_SPELLED_NUMBERS = frozenset("one two three four five six seven eight nine ten eleven twelve first second third "
                             "fourth fifth last final".split())
_NUMBER_WORDS = frozenset("three seven eight eleven twelve fifteen twenty thirty forty fifty sixty seventy eighty "
                          "ninety hundred thousand first second third fourth fifth sixth seventh eighth ninth tenth".split())
# Values longer than this are descriptions, not names anyone types.
_MAX_VALUE_CHARS = 60
# What a question asks for, beside what it names: plain English, the same for any schema.
_ASKS = {
    "agg:count": re.compile(r"\b(how many|number of|count)\b|#"),
    "agg:sum": re.compile(r"\b(total|sum)\b"),
    "agg:avg": re.compile(r"\b(average|avg|mean)\b"),
    "agg:rank": re.compile(r"\b(most|least|fewest|top|highest|lowest|biggest|largest|smallest|max\w*|min\w*)\b"),
    "agg:group": re.compile(r"\b(each|per|every)\b"),
    # A bound one way or the other ('fewer than 20', 'before 9am', 'above the average'), or both ('in 2026');
    # '4 credits' asks for none.
    "cmp:lt": re.compile(r"\b(less|fewer|lower|smaller|shorter|earlier)\b(\s+\w+){0,2}\s+than\b|"
                         r"\b(under|below|before|at most|no more than)\b|<"),
    "cmp:range": re.compile(r"\b(in|during)\s+(19|20)\d\d\b"),
    "cmp:gt": re.compile(r"\b(more|greater|higher|bigger|larger|longer|later)\b(\s+\w+){0,2}\s+than\b|"
                         r"\b(over|above|after|exceed\w*|at least)\b|>"),
}


# The words that alone say what is asked (not 'minnesota', which the patterns' 'min\w*' would take).
_ASK_WORDS = frozenset("average avg mean total sum count number most least fewest top highest lowest biggest largest "
                       "smallest maximum minimum max min each per every".split())


def _asks(word: str) -> bool:
    """Whether a word says what is asked (a count, a total, a ranking, a bound) rather than naming something."""
    return any(p.search(word) for p in _ASKS.values())


def _norm(word: str) -> str:
    # 'lecturers' finds 'Lecturer'; short words ('cs', 'ee') are codes, not plurals.
    return singular(word) if len(word) > 3 else word


def _value_key(text: str) -> str:
    """How a stored value is looked up: its normalised words ('Associate Professors' -> 'associate professor')."""
    return " ".join(_norm(w) for w in words(text))


@dataclass(frozen=True)
class SchemaLinker:
    """Names of one schema's tables, columns and stored text values, as people type them."""

    values: Mapping[str, frozenset[str]]  # normalised value -> {"val:table.column"}
    columns: Mapping[str, frozenset[str]]  # word of a column name -> {"col:table.column"}
    tables: Mapping[str, frozenset[str]] = field(default_factory=dict)  # noun -> {"tab:table"}
    # For 'last fall' and 'this semester': the first word of multi-word values, and each table's values.
    heads: Mapping[str, frozenset[str]] = field(default_factory=dict)  # 'fall' -> {"val:terms.name"}
    table_values: Mapping[str, frozenset[str]] = field(default_factory=dict)  # "terms" -> {"val:terms.name"}
    numeric: frozenset[str] = frozenset()  # {"col:courses.credits"}: 'how many credits' asks for a stored number
    # 'ce 4229' -> {"courses.code": 'CE 4229'}; None where several values of the column read the same.
    originals: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    periods: tuple[PeriodTable, ...] = ()  # 'this semester' is 'Fall 2026' on a day of that term
    complete: frozenset[str] = frozenset()  # "table.column" whose every short value was read
    # Single-column foreign keys (table, column, referenced table, referenced column): how to join a period table.
    joins: tuple[tuple[str, str, str, str], ...] = ()
    # The columns that say which row it is, by table: a person's first and last name, else code, name and title.
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # By table, a naming column that only shortens another, and that one: departments' code 'CE' of the name.
    short: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # By table, the columns saying when a row happens (its days, its clock times) and where (a room, a building).
    schedule: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    places: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unique: frozenset[str] = frozenset()  # "table.column" no two rows share: its primary key or a unique column
    dated: frozenset[str] = frozenset()  # "table.column" holding a date, a time or a timestamp
    table_columns: Mapping[str, frozenset[str]] = field(default_factory=dict)  # every column, by table
    # The last words of one stored name, as people shorten it: 'cloud computing' -> 'introduction to cloud computing'.
    tails: Mapping[str, str] = field(default_factory=dict)

    def question_links(self, question: str) -> frozenset[str]:
        """The schema items a question names: stored values, column words and table nouns, and what it asks for
        (a count, a ranking, a bound; "many:table.column" when it names several values of one column)."""
        raw = words(question)
        norm = [_norm(w) for w in raw]
        lowered = question.lower()
        out: set[str] = {item for item, pattern in _ASKS.items() if pattern.search(lowered)}
        if self.stored_number(question):
            out.discard("agg:count")
        taken = [False] * len(norm)
        named: dict[str, int] = {}
        for _, key in self._value_spans(norm, taken):
            out |= self.values[key]
            for item in self.values[key]:
                named[item] = named.get(item, 0) + 1
        out |= {"many:" + item.removeprefix("val:") for item, count in named.items() if count > 1}
        column_words = []
        for i, w in enumerate(raw):
            tabs, cols = self.tables.get(norm[i], frozenset()), self.columns_named(w)
            out |= tabs
            period = i + 1 < len(raw) and w in _RELATIVE and (norm[i + 1] in self.heads or norm[i + 1] in self.tables)
            if not period:  # the 'last' of 'last fall' is no last_name
                # A word naming a table ('sections') names none of its columns ('section_number').
                nouns = {_table_of(item) for item in tabs}
                column_words.append(frozenset(c for c in cols if _table_of(c) not in nouns))
            if len(w) > 2 and not taken[i] and not tabs and not cols:
                out.add(f"word:{norm[i]}")  # a word that names nothing stored may be searched for
            if i and raw[i - 1] in _RELATIVE:
                # 'last fall' names a value that starts with 'Fall' ('Fall 2025') without spelling it, and
                # 'this semester' one of the terms table's values.
                out |= self.heads.get(norm[i], frozenset())
                for table in tabs:
                    out |= self.table_values.get(_table_of(table), frozenset())
        # A column word of several tables ('title': courses and instructors) means the one of a table the question
        # names otherwise ('the title of CE 3310' is a course's).
        named_tables = {_table_of(item) for item in out if item.startswith(("tab:", "val:"))}
        for items in column_words:
            out |= {i for i in items if _table_of(i) in named_tables} or items
        return frozenset(out)

    def stored_as(self, text: str) -> frozenset[str]:
        """The columns ("table.column") storing `text` as one of their values, as people spell it."""
        return frozenset(c for c, v in self.originals.get(_value_key(text), {}).items() if v is not None)

    def stored_number(self, question: str) -> frozenset[str]:
        """The numeric columns ("col:table.column") a 'how many <column>' question asks for: 'how many credits is
        CS 2110' asks for a stored number, 'how many sections' and 'how many topics' ask for a count."""
        if re.search(r"\bhow much\b.*\b(worth|weigh\w*|count for)\b", question.lower()):
            # 'how much is the final exam worth': a row's share of its parent, where the schema has one.
            return frozenset(c for c in self.numeric if weight_column(c.split(".", 1)[1]))
        m = re.search(r"\bhow many (\w+)", question.lower())
        if not m or self.tables.get(_norm(m.group(1))):
            return frozenset()
        return self.columns_named(m.group(1)) & self.numeric

    def named_values(self, question: str, today: dt.date | None = None) -> tuple[dict[str, list[str]], list[str]]:
        """The stored values a question names, by "table.column" in the order it names them (with `today`, the
        periods it names relatively too: 'this semester'), and the whole numbers it names outside them ('more than
        2', 'top 5'; not the 2110 of 'CS 2110')."""
        raw = words(question)
        norm = [_norm(w) for w in raw]
        taken = [False] * len(norm)
        found = [(i, column, stored) for i, key in self._value_spans(norm, taken)
                 for column, stored in self.originals.get(key, {}).items() if stored is not None]
        found += [(len(words(question[:start])), column, stored)
                  for start, _, column, stored in self.relative_periods(question, today)]
        out: dict[str, list[str]] = {}
        for _, column, stored in sorted(found):
            if stored not in out.setdefault(column, []):
                out[column].append(stored)
        return out, [w for w, t in zip(raw, taken) if not t and w.isdigit()]

    def relative_periods(self, question: str, today: dt.date | None) -> list[tuple[int, int, str, str]]:
        """(start, end, "table.column", stored name) of each period the question names relatively on `today`."""
        return relative_periods(self.periods, question, today)

    def ground_values(self, sql: str, named: Mapping[str, Sequence[str]] | None = None) -> str:
        """`sql` with each string it compares with a text column (=, <>, IN) spelled as the column stores it, where
        one stored value reads the same ('Associate Professors' -> 'Associate Professor'); and, given the values the
        question names by column (`named_values`), a column the question names one value of that the statement
        sets equal to one other stored value ('Spring 2026' for 'this semester'), or, where every value of the
        column was read, to a string it does not hold, set to the named one."""
        tree = parse_statement(sql)
        if tree is None:
            return sql
        qualified, changed = column_names(tree), False
        equal: dict[str, list[exp.Literal]] = {}
        for node in tree.find_all(exp.EQ, exp.NEQ, exp.In):
            name = qualified(node.this) if isinstance(node.this, exp.Column) else None
            # Only the node's own values: the strings of an `IN (SELECT ...)` belong to other columns.
            for lit in (node.expressions if isinstance(node, exp.In) else [node.expression]) if name else ():
                if not isinstance(lit, exp.Literal) or not lit.is_string:
                    continue
                stored = self.originals.get(_value_key(lit.this), {}).get(name)
                if stored is not None and stored != lit.this:
                    lit = lit.replace(exp.Literal.string(stored))
                    changed = True
                if isinstance(node, exp.EQ):
                    equal.setdefault(name, []).append(lit)
        for name, lits in equal.items():
            wanted = (named or {}).get(name, ())
            values = {lit.this for lit in lits}
            if len(wanted) != 1 or len(values) != 1 or wanted[0] in values:
                continue
            # Another stored value, a row other than the named one; or, in a column read completely, a string it
            # does not hold (an invented 'Premier' for 'professor Novak'). Where not every value was read, such a
            # string may be a column mixed up, which the question's value would not mend.
            held = self.originals.get(_value_key(next(iter(values))), {}).get(name) is not None
            if held or name in self.complete and _value_key(next(iter(values))) not in self.values:
                for lit in lits:
                    lit.replace(exp.Literal.string(wanted[0]))
                changed = True
        return tree.sql(dialect="postgres") if changed else sql

    def drop_invented(self, sql: str, question: str) -> str:
        """`sql` without a condition `column = 'value'` of its WHERE, ANDed to others, that no row can meet (the column
        stores no such value, and all its values were read) and that the question never says (none of the value's
        words are in it, or a value with a number is not said as written): the model's `first_name = 'Eve' AND
        last_name = 'Smith'` for 'Who teaches CE 4229?'. A value the question says stays, so that asking about what
        is not there finds nothing."""
        return _without_conditions(sql, self._invented(question), keep_one=True, numbers=True)

    def _invented(self, question: str):
        """Whether a condition `column = value` of a statement sets a value the question never says: a number no
        word of it says, or a string no row stores (of a column all of whose values were read) and none of whose
        words the question uses."""
        spoken = [_norm(w) for w in words(question)]
        said, text = set(spoken), f" {' '.join(spoken)} "

        def invented(cond: exp.Expression, name: str | None) -> bool:
            if not cond.expression.is_string:
                # `credits = 3` for 'Which courses cover sorting?'.
                return cond.expression.this not in said and not said & _SPELLED_NUMBERS
            value = [_norm(w) for w in words(cond.expression.this)]
            # A code with a number is said as it is written: 'CS 1' is not in 'the week 1 topics for CS courses'.
            pieced = any(w.isdigit() for w in value) and f" {' '.join(value)} " not in text
            return self.cannot_hold(name, cond.expression.this) and (pieced or not set(value) & said)
        return invented

    def drop_unnamed(self, sql: str, question: str, named: Mapping[str, Sequence[str]]) -> str:
        """`sql` without a condition of its WHERE that picks rows by their name (`p.title = '...'`, `company_name IN
        ('UPS', ...)`, `company_name LIKE '%traders%'`) where the column names its table's rows, the names are stored
        there (a pattern: any text), and the question says none of their words and names no row of that table by
        another column: a small model copies such a filter from a retrieved example ('how many papers does each
        conference have' written with one paper's title). A name the question says, or a period it names relatively,
        stays; a value it names in the same column is added again by `add_named`."""
        spoken = {_norm(w) for w in words(question)}
        naming = {f"{t}.{c}" for t, cs in self.names.items() for c in cs}

        def unsaid(value: str, name: str) -> bool:
            # ('CS' says 'Computer Science')
            return not {_norm(w) for w in words(value.replace("%", " "))} & spoken and \
                value not in named.get(name, ()) and not any(len(w) <= 4 and abbreviates(w, value) for w in spoken)

        def said_otherwise(name: str) -> bool:
            """Whether the question names a row of the table by another column ('CS courses' written with the
            department's name), or uses a word of another of its names ('intro to programming' written `c.code =
            'CS 1010'`)."""
            table = name.split(".")[0]
            others = {f"{table}.{c}" for c in self.names.get(table, ())} - {name}
            if any(values and item in others for item, values in named.items()):
                return True
            stored = {"val:" + o for o in others}
            return any(items & stored and spoken & set(key.split()) for key, items in self.values.items())

        def doomed(cond: exp.Expression, name: str | None) -> bool:
            if name not in naming or said_otherwise(name):
                return False
            if isinstance(cond, (exp.Like, exp.ILike)):
                return unsaid(cond.expression.this, name)
            values = [cond.expression] if isinstance(cond, exp.EQ) else cond.expressions
            return all(self.originals.get(_value_key(v.this), {}).get(name) is not None and unsaid(v.this, name)
                       for v in values)

        return _without_conditions(sql, doomed, keep_one=False, settable=_name_condition)

    def cannot_hold(self, name: str | None, value: str) -> bool:
        """Whether no row's column `name` ("table.column") can equal `value`: all its values were read and none is
        it. A value longer than those read proves nothing."""
        return (name in self.complete and name not in self.originals.get(_value_key(value), {})
                and len(value) <= _MAX_VALUE_CHARS)

    def drop_unasked_period(self, sql: str, question: str) -> str:
        """`sql` without a condition of its WHERE setting a period ('t.name = 'Fall 2026'') where the question says
        nothing of time: no period's name, noun ('semester') or first word ('fall'), no year, no 'now'. The model adds
        the current term by habit ('whats the avg section capacity'); a question that means one says so ('in any
        term' does not)."""
        nouns = {w for p in self.periods for w in p.nouns}
        raw = words(question)
        said: set[str] = set()
        for i, w in enumerate(raw):
            if not (i and raw[i - 1] in ("any", "every", "all") and singular(w) in nouns):
                said |= {w, singular(w)}  # ('any term', 'every semester': no one period)
        spoken = _NOW | nouns | {r.name.split()[0].lower() for p in self.periods for r in p.rows if r.name}
        if not self.periods or said & spoken or re.search(r"\b(19|20)\d\d\b", question):
            return sql
        items = {p.item for p in self.periods}
        return _without_conditions(sql, lambda cond, name: name in items, keep_one=False)

    def add_named(self, sql: str, named: Mapping[str, Sequence[str]], question: str = "") -> str:
        """`sql` filtering on a value the question names that it never uses ('in spring 2026', 'this semester',
        'exams'), where the question names that one value of the column and no other column stores it, the statement
        neither compares that column nor uses the value, and picks no row of that table by another value. The table
        must be in the statement once, in its FROM, or be joined through the one foreign key to it from a table of
        the FROM ('sections' -> 'terms' for 'this semester', 'courses' -> 'departments' for 'EE courses'). A value
        naming a table too ('professors') only where the `question` ranks it ('full professors')."""
        tree = parse_statement(sql)
        if not isinstance(tree, exp.Select) or not named:
            return sql
        qualified = column_names(tree)
        compared = {qualified(c) for node in tree.find_all(exp.Predicate) for c in node.find_all(exp.Column)} - {None}
        used = {_value_key(lit.this) for lit in tree.find_all(exp.Literal) if lit.is_string}
        # A row picked by a value: `= 'CS 2110'`, or `IN ('CS 2110')` as the model writes it too.
        picked = {(qualified(node.this) or ".").split(".")[0] for node in tree.find_all(exp.EQ, exp.In)
                  if value_condition(node) or isinstance(node, exp.In) and isinstance(node.this, exp.Column)
                  and node.expressions and all(isinstance(e, exp.Literal) and e.is_string for e in node.expressions)}
        everywhere = [t.name for t in tree.find_all(exp.Table)]
        periods = {p.item for p in self.periods}
        changed = False
        for item, values in named.items():
            table, column = item.split(".", 1)
            if len(values) != 1:
                continue
            key = _value_key(values[0])
            holders = [c for c, v in self.originals.get(key, {}).items() if v is not None]
            if item in holders and [h for h in holders if h.split(".")[0] in everywhere] == [item]:
                holders = [item]  # ('Chen' names an instructor and a student: the one the statement reads)
            # ('professors' names the instructors table as much as the title 'Professor'; 'full professors' the title)
            ranked = re.search(rf"\bfull\s+{re.escape(key)}s?\b", question.lower())
            if holders != [item] and item not in periods or key in used or item in compared or \
                    key in self.tables and not ranked:
                continue
            if table in picked:
                continue  # 'professor Okafor' is picked by the name, 'Electrical Engineering' by the code 'EE'
            alias = only_alias(tree, table)
            if alias is None and table not in everywhere:
                alias = self.join_table(tree, table) or self._join_through(tree, table)
            if alias is not None:
                alone = len(list(tree.find_all(exp.Table))) == 1
                and_where(tree, exp.column(column, table=None if alone else alias).eq(exp.Literal.string(values[0])))
                used.add(key)
                changed = True
        return tree.sql(dialect="postgres") if changed else sql

    def repair_columns(self, sql: str) -> str:
        """`sql` with a column its table does not have ('sections.title') taken from the one table it points at that
        stores the value it is compared with (the course's title, joined), or, listed or sorted by, as the columns of
        its own table its name is a word of ('time': start_time and end_time); unchanged where anything else is
        missing (the model's other candidates are the better repair) or a subquery scopes the names."""
        tree = parse_statement(sql)
        if not isinstance(tree, exp.Select) or not self.table_columns or tree.find(exp.Subquery, exp.Exists):
            return sql
        aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
        if any(t not in self.table_columns for t in aliases.values()):
            return sql
        changed = self._join_missing(tree, aliases)
        aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
        alone = next(iter(aliases.values())) if len(aliases) == 1 else None
        for c in list(tree.find_all(exp.Column)):
            table = aliases.get(c.table) if c.table else alone  # (a bare column of the one table it reads)
            if table is None or c.name in self.table_columns[table]:
                continue
            if not c.table:
                c.set("table", exp.to_identifier(next(iter(aliases))))
            # The columns of its own table its name is a word of ('time': start_time and end_time), listed for it.
            own = sorted((i.split(".", 1)[1] for i in self.columns_named(c.name) if i.startswith(f"col:{table}.")),
                         key=lambda o: (not START.search(o), o))  # (a start before an end)
            if own and c.parent is tree:
                at = tree.expressions.index(c)
                shown = {(e.table, e.name) for e in tree.expressions if isinstance(e, exp.Column)}
                tree.set("expressions", tree.expressions[:at] + [exp.column(o, table=c.table) for o in own
                                                                 if (c.table, o) not in shown] +
                         tree.expressions[at + 1:])
                changed = True
                continue
            if own and isinstance(c.parent, exp.Ordered):
                c.set("this", exp.to_identifier(own[0]))
                changed = True
                continue
            # Taken from a table it points at only where that one stores the value it is compared with ('Linear
            # Algebra' is a course's title): a listed column another table happens to have ('a.level' for an
            # assessment) is no evidence, and a statement that fails has the model's other candidates to fall to.
            parents = {ref for t, _, ref, _ in self.joins if t == table and c.name in self.table_columns.get(ref, ())}
            parents &= self._holders(c)
            owner = next(iter(parents)) if len(parents) == 1 else None
            if owner is not None and list(aliases.values()).count(table) == 1:
                alias = only_alias(tree, owner) or (
                    self.join_table(tree, owner) if owner not in aliases.values() else None)
                if alias is not None:
                    c.set("table", exp.to_identifier(alias))
                    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
                    changed = True
                    continue
            return sql
        return tree.sql(dialect="postgres") if changed else sql

    def _holders(self, c: exp.Column) -> set[str]:
        """The tables whose column named like `c` stores the string `c` is set equal to (`x.title = 'Linear
        Algebra'`: courses); none where it is compared with no string."""
        value = c.parent.expression if isinstance(c.parent, exp.EQ) else None
        if not (isinstance(value, exp.Literal) and value.is_string):
            return set()
        return {h.split(".")[0] for h in self.originals.get(_value_key(value.this), {}) if h.split(".")[1] == c.name}

    def _join_missing(self, tree: exp.Select, aliases: dict[str, str]) -> bool:
        """In place: an alias the statement uses only in a join's ON or compared with a value a table stores, but never
        defines (`JOIN terms AS t ON t.id = s.term_id` with no `s`; `t.name = 'Fall 2026'` with no `t`), joined as
        the one table that has every column used of it (and stores those values) and a foreign key to or from a table
        defined before the first join naming it; whether it did."""
        missing: dict[str, set[str]] = {}
        stored: dict[str, set[str]] = {}  # by alias, the tables storing a string it is compared with
        joined = False
        elsewhere: set[str] = set()
        for c in tree.find_all(exp.Column):
            if c.table and c.table not in aliases:
                missing.setdefault(c.table, set()).add(c.name)
                held = self._holders(c)
                if held:
                    stored[c.table] = stored.get(c.table, held) & held
                elif not isinstance(c.find_ancestor(exp.Join, exp.Select), exp.Join):
                    elsewhere.add(c.table)
        joins = tree.args.get("joins") or []
        for alias, used in missing.items():
            if alias in elsewhere:
                continue  # (a skipped join shows in an ON or a stored value; a listed column of no table is confusion)
            tables = [t for t, cols in self.table_columns.items() if used <= cols
                      and (alias not in stored or t in stored[alias])]  # ('t.name = 'Fall 2026'': a term's name)
            first = next((i for i, j in enumerate(joins) if any(c.table == alias for c in j.find_all(exp.Column))),
                         len(joins))
            before = {t.alias_or_name: t.name for t in [tree.args["from_"].this, *(j.this for j in joins[:first])]
                      if isinstance(t, exp.Table)} if tree.args.get("from_") else {}
            ways = [(t, on) for t in tables for a, name in before.items() for on in (
                [exp.column(col, table=alias).eq(exp.column(ref_col, table=a))
                 for child, col, ref, ref_col in self.joins if (child, ref) == (t, name)] +
                [exp.column(ref_col, table=alias).eq(exp.column(col, table=a))
                 for child, col, ref, ref_col in self.joins if (child, ref) == (name, t)])]
            if len(ways) != 1:
                continue
            table, on = ways[0]
            joins.insert(first, exp.Join(this=exp.alias_(exp.to_table(table), alias, table=True), on=on))
            tree.set("joins", joins)
            joined = True
        return joined

    def _join_through(self, tree: exp.Select, table: str) -> str | None:
        """Join `table` to `tree` two foreign keys away, through the one table between that is no person's (the CS
        department's sections are its courses', not its instructors'); its alias, None where no one way does."""
        read = {t.name for t in tree.find_all(exp.Table)}
        between = {mid for t in from_tables(tree) for child, _, mid, _ in self.joins if child == t.name
                   and mid not in read and not person_columns(self.names.get(mid, ()))
                   and any(c == mid and r == table for c, _, r, _ in self.joins)}
        if len(between) != 1:
            return None
        mid, trial = between.pop(), tree.copy()
        if self.join_table(trial, mid) is None or self.join_table(trial, table) is None:
            return None
        self.join_table(tree, mid)
        return self.join_table(tree, table)

    def join_table(self, tree: exp.Select, table: str, *, child: bool = False) -> str | None:
        """Join `table` to `tree` through the one foreign key a table of its FROM has to it (`child`: that it has to a
        table of the FROM); its alias."""
        ways = [(t, fk) for t in from_tables(tree) for fk in self.joins
                if (fk[2], fk[0]) == ((t.name, table) if child else (table, t.name))]
        if len(ways) != 1:
            return None
        present = list(tree.find_all(exp.Table))
        for c in tree.find_all(exp.Column) if len(present) == 1 else ():
            # A second table makes the first one's bare columns ambiguous ('code', 'id'): qualified first.
            c.set("table", c.args.get("table") or exp.to_identifier(present[0].alias_or_name))
        (there, (_, col, _, ref)), taken = ways[0], {t.alias_or_name for t in present}
        alias = next(a for a in [table[0], *(f"{table[0]}{n}" for n in range(2, 99))] if a not in taken)
        key, ref = (exp.column(col, table=alias), exp.column(ref, table=there.alias_or_name)) if child else \
            (exp.column(col, table=there.alias_or_name), exp.column(ref, table=alias))
        tree.join(exp.alias_(exp.to_table(table), alias, table=True), on=ref.eq(key), copy=False)
        return alias

    def add_searched(self, sql: str, question: str) -> str:
        """`sql` searching a text column of one of its tables for a word the question uses that only that column's
        values contain, where the statement does not compare that column ('what week do we cover kubernetes in CE
        4229': `ct.topic ILIKE '%kubernetes%'`); not a word of a stored value the question names, nor one naming a
        table or column."""
        tree = parse_statement(sql)
        if not isinstance(tree, exp.Select):
            return sql
        raw = words(question)
        norm = [_norm(w) for w in raw]
        taken = [False] * len(norm)
        spans = self._value_spans(norm, taken)
        # Not the words that say what is asked ('least', 'minimum', 'total': topics are 'Least squares' too), nor
        # numbers spelled out, nor a word the statement already searches for.
        used = " ".join(lit.this.lower() for lit in tree.find_all(exp.Literal) if lit.is_string)
        # Nor a noun a named value qualifies: the 'place' of 'lowest rated american place' is the restaurant asked for.
        asked = [({item for key, items in self.values.items() if w in key.split() for item in items}, raw[i], False)
                 for i, w in enumerate(norm) if not taken[i] and len(w) >= 5 and w.isalpha()
                 and w not in self.tables and w not in _NUMBER_WORDS and w not in used and not self.columns_named(w)
                 and not _asks(w) and not (i and taken[i - 1])]
        # A whole stored value too, of a table the statement does not read ('neural networks', a topic).
        asked += [(self.values[key], " ".join(raw[i:i + len(key.split())]), True) for i, key in spans]
        qualified = column_names(tree)
        compared = {qualified(c) for node in tree.find_all(exp.Predicate) for c in node.find_all(exp.Column)}
        invented = self._invented(question)
        for holders, typed, whole in asked:
            if len(holders) != 1:
                continue
            table, column = next(iter(holders)).removeprefix("val:").split(".", 1)
            alias = None if whole else only_alias(tree, table)
            if alias is None and all(t.name != table for t in tree.find_all(exp.Table)) and any(
                    _literal_condition(c) and invented(c, qualified(c.this))
                    for c in conditions(tree.args.get("where"))):
                # A statement that filters on what the question never says missed what it asks about: 'Which
                # courses cover sorting?' written `credits = 3`: the topics are the courses', joined.
                alias = self.join_table(tree, table, child=True)
            if alias is None or f"{table}.{column}" in compared:
                continue
            alone = len(list(tree.find_all(exp.Table))) == 1
            and_where(tree, exp.ILike(this=exp.column(column, table=None if alone else alias),
                                      expression=exp.Literal.string(f"%{typed}%")))
            return tree.sql(dialect="postgres")
        return sql

    def search_text(self, sql: str) -> str:
        """`sql` comparing a string it sets a column equal to that cannot hold it with the one text column whose
        stored values contain it instead, joined through its key where its table is not in the statement: 'Which
        courses cover dynamic programming?' written `code = 'Dynamic Programming'` searches course_topics.topic
        (ILIKE, or = where it is only ever the whole value)."""
        tree = parse_statement(sql)
        where = tree.args.get("where") if isinstance(tree, exp.Select) else None
        if where is None:
            return sql
        qualified = column_names(tree)
        for cond in conditions(where):
            value = cond.expression.this if value_condition(cond) else ""
            key = _value_key(value)
            if len(key) < 4 or not self.cannot_hold(qualified(cond.this), value):
                continue
            found = [(k, item) for k, items in self.values.items() if f" {key} " in f" {k} " for item in items]
            holders = {item for _, item in found}
            if len(holders) != 1:
                continue
            table, column = next(iter(holders)).removeprefix("val:").split(".", 1)
            alias, present = only_alias(tree, table), list(tree.find_all(exp.Table))
            if alias is None and all(t.name != table for t in present):
                alias = self.join_table(tree, table, child=True)
            if alias is None:
                continue
            alone = len(list(tree.find_all(exp.Table))) == 1
            target = exp.column(column, table=None if alone else alias)
            stored = self.originals.get(key, {}).get(f"{table}.{column}")
            cond.replace(target.eq(exp.Literal.string(stored)) if stored and len(found) == 1 else
                         exp.ILike(this=target, expression=exp.Literal.string(f"%{value.lower()}%")))
            return tree.sql(dialect="postgres")
        return sql

    def _value_spans(self, norm: list[str], taken: list[bool]) -> list[tuple[int, str]]:
        """(position, value key) of each stored value in the normalised words, marking their words `taken`."""
        found = []
        for n in range(min(_LONGEST_VALUE_WORDS, len(norm)), 0, -1):
            for i in range(len(norm) - n + 1):
                key = " ".join(norm[i:i + n])
                # Longest match first: the 'CS' of 'CS 2110' is part of a course code, not the CS department.
                # A word that says what is asked is not a value too: 'average rating' with a review reading 'Average'.
                if n == 1 and key in _ASK_WORDS:
                    continue
                if (key in self.values or n >= 2 and key in self.tails) and not any(taken[i:i + n]):
                    taken[i:i + n] = [True] * n
                    found.append((i, key if key in self.values else self.tails[key]))
        return found

    def columns_named(self, word: str) -> frozenset[str]:
        """The columns ("col:table.column") a word of a question names."""
        # The column word less its last two letters, at least four: 'credit' names credits, 'start' starts_on.
        return frozenset().union(*(items for col, items in self.columns.items()
                                   if word.startswith(col[:max(4, len(col) - 2)])))


def build_linker(schema: Schema, values: Mapping[tuple[str, str], list[str]],
                 periods: tuple[PeriodTable, ...] = (), complete: frozenset[str] = frozenset()) -> SchemaLinker:
    """A linker over `schema` (denied columns already removed), the text values read from each column, its tables
    of periods and the columns ("table.column") whose values were read completely."""
    by_value: dict[str, set[str]] = {}
    originals: dict[str, dict[str, str]] = {}
    for (table, column), vals in values.items():
        for value in map(str, vals):
            key, item = _value_key(value), f"{table}.{column}"
            if len(key) >= 2:
                by_value.setdefault(key, set()).add(f"val:{item}")
                spelled = originals.setdefault(key, {})
                # Two values of one column that read the same ('Lecturer', 'lecturers') name neither for sure.
                spelled[item] = value if spelled.get(item, value) == value else None
    columns: dict[str, set[str]] = {}
    tables: dict[str, set[str]] = {}
    numeric = frozenset(f"col:{t.name}.{c.name}" for t in schema.tables for c in t.columns if c.base_type in NUMBER_TYPES)
    for t in schema.tables:
        for word in table_nouns(t.name):
            tables.setdefault(word, set()).add(f"tab:{t.name}")
        for c in t.columns:
            if _is_key(c.name):
                continue
            said = words(humanise(c.name))
            for word in said + [w for s in said for w in COLUMN_SYNONYMS.get(s, ())]:
                if len(word) >= 4 and word != "name":
                    columns.setdefault(word, set()).add(f"col:{t.name}.{c.name}")
    heads: dict[str, set[str]] = {}
    table_values: dict[str, set[str]] = {}
    for value, items in by_value.items():
        head, _, rest = value.partition(" ")
        if rest:
            heads.setdefault(head, set()).update(items)
        for item in items:
            table_values.setdefault(_table_of(item), set()).add(item)
    joins = tuple((t.name, fk.columns[0], fk.ref_table, fk.ref_columns[0])
                  for t in schema.tables for fk in t.foreign_keys if len(fk.columns) == 1)
    names, short = {}, {}
    for t in schema.tables:
        naming = tuple(c.name for c in t.columns if c.base_type in TEXT_TYPES and (
            c.name in ("code", "title") or c.name.endswith("name")))  # 'name', 'city_name', 'authorname'
        short[t.name] = short_columns({c: [str(v) for v in values.get((t.name, c), ())] for c in naming})
        # People say 'the Computer Engineering department', not 'CE Computer Engineering': a code that only
        # shortens the name does not name the row beside it.
        names[t.name] = person_columns(c.name for c in t.columns) or tuple(c for c in naming if c not in short[t.name])
    schedule = {t.name: cols for t in schema.tables if (cols := tuple(
        c.name for c in t.columns if c.base_type.startswith("time ") or c.base_type == "time"
        or (c.base_type in TEXT_TYPES and set(words(humanise(c.name))) & {"day", "days", "weekday", "weekdays"})))}
    places = {t.name: cols for t in schema.tables if (cols := tuple(
        c.name for c in t.columns if c.base_type in TEXT_TYPES and set(words(humanise(c.name))) & PLACE_WORDS))}
    freeze = lambda d: {k: frozenset(v) for k, v in d.items()}  # noqa: E731
    return SchemaLinker(freeze(by_value), freeze(columns), freeze(tables), freeze(heads), freeze(table_values),
                        numeric, originals, periods, complete, joins, names,
                        {t: cols for t, cols in short.items() if cols}, schedule, places,
                        frozenset(f"{t.name}.{c}" for t in schema.tables
                                  for c in t.unique + t.primary_key[:len(t.primary_key) == 1]),
                        frozenset(f"{t.name}.{c.name}" for t in schema.tables for c in t.columns
                                  if c.base_type.startswith(("date", "time"))),
                        {t.name: frozenset(c.name for c in t.columns) for t in schema.tables},
                        _tails(by_value, {f"{t}.{c}" for t, cols in names.items() for c in cols}))


_LEADING = frozenset({"to", "of", "and", "for", "in", "the", "a", "an", "on", "with", "i", "ii", "iii"})


def _tails(by_value: Mapping[str, set[str]], naming: set[str]) -> dict[str, str]:
    """The last two or more words of each stored name of three or more words, where they end no other value and
    are no value themselves, nor start with a small word ('to programming'): 'cloud computing'."""
    found: dict[str, set[str]] = {}
    for key, items in by_value.items():
        parts = key.split()
        if len(parts) >= 3 and any(i.removeprefix("val:") in naming for i in items):
            for n in range(2, len(parts)):
                if parts[-n] not in _LEADING:
                    found.setdefault(" ".join(parts[-n:]), set()).add(key)
    return {tail: next(iter(keys)) for tail, keys in found.items() if len(keys) == 1 and tail not in by_value}


PLACE_WORDS = frozenset({"room", "location", "building", "venue", "place", "address", "hall", "campus"})


def table_nouns(table: str) -> set[str]:
    """What a question calls one row of `table`: 'course_topics' -> course topic, topic (and synonyms)."""
    noun = singular(humanise(table))
    last = noun.split()[-1]
    return {noun, last, *SYNONYMS.get(noun, ()), *SYNONYMS.get(last, ())}


async def load_linker(pool: asyncpg.Pool, schema: Schema, *, per_column: int = 1000,
                      scan_rows: int = 100_000, timeout_s: float = 5.0) -> SchemaLinker:
    """Read up to `per_column` distinct short values of every text column (from the first `scan_rows` rows, so a
    big table costs a bounded scan) and build the linker. A column that cannot be read in `timeout_s` is left out."""
    values: dict[tuple[str, str], list[str]] = {}
    complete: set[str] = set()
    for t in schema.tables:
        table = f"{quote_ident(t.schema)}.{quote_ident(t.name)}"
        whole = None  # whether the first scan_rows rows are the whole table
        for c in t.columns:
            if c.base_type not in TEXT_TYPES or _is_key(c.name):
                continue
            col = quote_ident(c.name)
            sql = (f"SELECT DISTINCT v FROM (SELECT {col}::text AS v FROM {table} "
                   f"LIMIT {int(scan_rows)}) s WHERE length(v) <= {_MAX_VALUE_CHARS} LIMIT {int(per_column)}")
            try:
                values[(t.name, c.name)] = found = [r["v"] for r in await pool.fetch(sql, timeout=timeout_s)]
                if whole is None:
                    whole = await pool.fetchval(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT {int(scan_rows) + 1}) s",
                                                timeout=timeout_s) <= scan_rows
                if whole and len(found) < per_column:
                    complete.add(f"{t.name}.{c.name}")
            except (asyncpg.PostgresError, asyncio.TimeoutError) as exc:
                log.warning("schema linking skips %s.%s: %s", t.name, c.name, exc)
    periods = await load_period_tables(pool, schema, table_nouns, timeout_s=timeout_s)
    return build_linker(schema, values, periods, frozenset(complete))


def _is_key(column: str) -> bool:
    return column == "id" or column.endswith("_id")


def _table_of(item: str) -> str:
    """'col:courses.title' -> 'courses'; 'tab:courses' -> 'courses'."""
    return item.partition(":")[2].split(".")[0]


def parse_statement(sql: str) -> exp.Expression | None:
    """The statement's tree (postgres dialect), or None when sqlglot cannot read it."""
    try:
        return sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return None


def sql_links(sql: str) -> frozenset[str]:
    """The tables, columns and value-compared columns ("val:table.column") a statement uses; empty if unparsable."""
    tree = parse_statement(sql)
    if tree is None:
        return frozenset()
    tables = {t.name for t in tree.find_all(exp.Table)}
    qualified = column_names(tree)
    out = {f"tab:{t}" for t in tables}
    for c in tree.find_all(exp.Column):
        name = qualified(c)
        if name and not _is_key(c.name):
            out.add(f"col:{name}")
    for item, kinds in _STATEMENT_ASKS.items():
        if any(tree.find(kind) for kind in kinds):
            out.add(item)
    for node in tree.find_all(exp.EQ, exp.Like, exp.ILike, exp.In):
        col = node.this if isinstance(node.this, exp.Column) else None
        strings = [lit for lit in node.find_all(exp.Literal) if lit.is_string]
        name = qualified(col) if col is not None and strings else None
        if name and isinstance(node, (exp.Like, exp.ILike)):
            # A pattern is a word searched for ('%security%'), not a stored value: the question names the word.
            out |= {f"word:{_norm(w)}" for lit in strings for w in words(lit.this) if len(w) > 2}
        elif name:
            out.add(f"val:{name}")
            if isinstance(node, exp.In) and len(strings) > 1:
                out.add(f"many:{name}")
    # Bounds: a column bounded on both sides ('>= 2026-01-01 AND < 2027-01-01') is a range ('in 2026').
    bounds: dict[str, set[str]] = {}
    for node in tree.find_all(exp.LT, exp.LTE, exp.GT, exp.GTE):
        upper = isinstance(node, (exp.LT, exp.LTE))
        if isinstance(node.expression, exp.Column) and not isinstance(node.this, exp.Column):
            upper, side = not upper, node.expression  # '5 < x' bounds x from below
        else:
            side = node.this
        bounds.setdefault(side.sql(), set()).add("cmp:lt" if upper else "cmp:gt")
    out |= {next(iter(kinds)) if len(kinds) == 1 else "cmp:range" for kinds in bounds.values()}
    return frozenset(out)


def from_tables(tree: exp.Select) -> list[exp.Table]:
    """The tables of a SELECT's own FROM and JOINs (not of its subqueries)."""
    from_ = tree.args.get("from_")
    found = [from_.this if from_ else None] + [j.this for j in tree.args.get("joins") or ()]
    return [t for t in found if isinstance(t, exp.Table)]


def _literal_condition(node: exp.Expression) -> bool:
    """Whether `node` is `column = 'string'` or `column = 3`."""
    return isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Literal)


def _name_condition(node: exp.Expression) -> bool:
    """Whether `node` is `column = 'string'`, `column IN ('string', ...)` or `column [I]LIKE 'pattern'`."""
    if isinstance(node, (exp.Like, exp.ILike)):
        return isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Literal) and \
            node.expression.is_string
    if isinstance(node, exp.In) and isinstance(node.this, exp.Column) and not node.args.get("query"):
        return bool(node.expressions) and all(isinstance(e, exp.Literal) and e.is_string for e in node.expressions)
    return value_condition(node)


def value_condition(node: exp.Expression) -> bool:
    """Whether `node` is `column = 'string'`."""
    return (isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Literal)
            and node.expression.is_string)


def conditions(where: exp.Where | None) -> list[exp.Expression]:
    """The conditions a WHERE ANDs at its top level (none without a WHERE)."""
    if where is None:
        return []
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


def _without_conditions(sql: str, doomed, *, keep_one: bool, numbers: bool = False, settable=None) -> str:
    """`sql` without the `column = 'string'` (and with `numbers`, `column = 3`; or those `settable` says) conditions of
    its WHERE's top-level AND for which `doomed(condition, "table.column")` holds; unchanged where none does, or
    (`keep_one`) where none would remain."""
    tree = parse_statement(sql)
    where = tree.args.get("where") if isinstance(tree, exp.Select) else None
    if where is None:
        return sql
    qualified = column_names(tree)
    conds = conditions(where)
    settable = settable or (_literal_condition if numbers else value_condition)
    kept = [c for c in conds if not (settable(c) and doomed(c, qualified(c.this)))]
    if len(kept) == len(conds) or keep_one and not kept:
        return sql
    if kept:
        where.set("this", exp.and_(*kept))
    else:
        tree.set("where", None)
    return tree.sql(dialect="postgres")


def only_alias(tree: exp.Select, table: str) -> str | None:
    """The alias of `table` where it is in the statement once, in the SELECT's own FROM; else None."""
    hits = [t for t in from_tables(tree) if t.name == table]
    if len(hits) != 1 or sum(t.name == table for t in tree.find_all(exp.Table)) != 1:
        return None
    return hits[0].alias_or_name


def and_where(tree: exp.Select, cond: exp.Expression) -> None:
    """Add `cond` to the statement's WHERE with AND, in place."""
    where = tree.args.get("where")
    if where is None:
        tree.where(cond, copy=False)
        return
    # An OR gets brackets; the ANDs the model wrote stay as they read.
    kept = exp.paren(where.this) if isinstance(where.this, exp.Or) else where.this
    where.set("this", exp.and_(kept, cond, wrap=False))


def column_names(tree: exp.Expression):
    """A function naming a column of the statement "table.column" (aliases resolved; None if ambiguous)."""
    found = list(tree.find_all(exp.Table))
    tables = {t.name for t in found}
    alias = {t.alias_or_name: t.name for t in found}

    def qualified(c: exp.Column) -> str | None:
        if c.table:
            return f"{alias.get(c.table, c.table)}.{c.name}"
        return f"{next(iter(tables))}.{c.name}" if len(tables) == 1 else None
    return qualified


_STATEMENT_ASKS = {"agg:count": (exp.Count,), "agg:sum": (exp.Sum,), "agg:avg": (exp.Avg,),
                   "agg:rank": (exp.Limit, exp.Max, exp.Min), "agg:group": (exp.Group,)}


# Items a statement filters on: a value, a bound, a list of values. link_score also counts aggregates and searched
# words against a statement; contradictions only these.
_FILTERS = ("val:", "cmp:", "many:")


def _unasked(question: frozenset[str], statement: frozenset[str], kinds: tuple[str, ...]) -> set[str]:
    """The statement's items of these kinds that the question does not ask for."""
    return {s for s in statement if s.startswith(kinds) and s not in question}


def contradictions(question: frozenset[str], statement: frozenset[str]) -> frozenset[str]:
    """Where a statement contradicts the question's own words: a value, bound or list of values it filters on that
    the question does not name (an invented `first_name = 'Eve'`), and a value the question names that it never
    filters on ('full professors' with no title filter)."""
    skipped = {q for q in question if q.startswith("val:") and q not in statement}
    return frozenset(_unasked(question, statement, _FILTERS) | skipped)


def link_score(question: frozenset[str], statement: frozenset[str]) -> float:
    """Share of the question's links the statement uses, less half a point for each value the statement filters
    on, aggregate it computes or bound it sets that the question does not ask for (a course-title filter for a
    question naming no course; a count for 'topics of Algorithms'; 'credits < 4' for '4 credits'; three course
    codes for one; a search for a word the question does not use)."""
    named = sum(1 for q in question if not q.startswith("word:"))
    if not named:
        return 0.0
    # Every word of the question is linked, so that a searched-for word can be found among them; only a search
    # counts them, as a match when the question has the word, as a filter it did not ask for when not.
    extra = len(_unasked(question, statement, _FILTERS + ("agg:", "word:")))
    return (len(question & statement) - 0.5 * extra) / named
