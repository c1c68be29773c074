"""Small helpers that build SELECT statements as sqlglot trees, with one alias per table."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from sqlglot import exp

from .profile import SYNONYMS, FkEdge, SchemaProfile, TableProfile, humanise, plural


def lit(value) -> exp.Expression:
    """A SQL literal for a sampled value (dates and times as ISO strings, as people write them)."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, dt.time):
        return exp.Literal.string(value.strftime("%H:%M"))
    if isinstance(value, (dt.date, dt.datetime)):
        return exp.Literal.string(value.isoformat()[:10])
    return exp.Literal.string(str(value))


def show(value) -> str:
    """How a value reads inside a question."""
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def desc(e: exp.Expression) -> exp.Ordered:
    # nulls_first matches Postgres' own DESC default, so sqlglot prints plain DESC.
    return exp.Ordered(this=e, desc=True, nulls_first=True)


@dataclass
class Query:
    """One SELECT under construction: tables with aliases, joins, conditions."""
    profile: SchemaProfile
    root: str
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> table
    joins: list[tuple[exp.Expression, exp.Expression]] = field(default_factory=list)
    where: list[exp.Expression] = field(default_factory=list)

    def __post_init__(self):
        self.root_alias = self.alias_for(self.root)

    def alias_for(self, table: str) -> str:
        base = self.profile.tables[table].alias
        alias, n = base, 2
        while alias in self.aliases:
            alias, n = f"{base}{n}", n + 1
        self.aliases[alias] = table
        return alias

    def col(self, alias: str, name: str) -> exp.Column:
        return exp.column(name, table=alias)

    def join_parent(self, child_alias: str, fk: FkEdge) -> str:
        """JOIN the table `fk` points at; its alias."""
        a = self.alias_for(fk.ref_table)
        on = exp.EQ(this=self.col(a, fk.ref_column), expression=self.col(child_alias, fk.column))
        self.joins.append((exp.alias_(exp.to_table(fk.ref_table), a, table=True), on))
        return a

    def join_child(self, parent_alias: str, fk: FkEdge) -> str:
        """JOIN a table whose `fk` points at the parent; its alias."""
        a = self.alias_for(fk.table)
        on = exp.EQ(this=self.col(a, fk.column), expression=self.col(parent_alias, fk.ref_column))
        self.joins.append((exp.alias_(exp.to_table(fk.table), a, table=True), on))
        return a

    def eq(self, alias: str, column: str, value) -> None:
        self.where.append(exp.EQ(this=self.col(alias, column), expression=lit(value)))

    def cond(self, e: exp.Expression) -> None:
        self.where.append(e)

    def select(self, *cols, distinct=False, group=(), having=None, order=(), limit=None) -> exp.Select:
        q = exp.select(*cols).from_(exp.alias_(exp.to_table(self.root), self.root_alias, table=True))
        for table, on in self.joins:
            q = q.join(table, on=on)
        if self.where:
            q = q.where(exp.and_(*self.where) if len(self.where) > 1 else self.where[0])
        if group:
            q = q.group_by(*group)
        if having is not None:
            q = q.having(having)
        if order:
            q = q.order_by(*order)
        if limit is not None:
            q = q.limit(limit)
        if distinct:
            q = q.distinct()
        return q


def render(tree: exp.Select) -> str:
    """Postgres text; a query over one table drops its alias and qualifiers (simpler for the model)."""
    tables = list(tree.find_all(exp.Table))
    # A table read twice (a correlated subquery over itself) needs its aliases to tell the two apart.
    once = len({t.name for t in tables}) == 1 and len({t.alias for t in tables if t.alias}) <= 1
    if once and not tree.find(exp.Exists):
        tree = tree.copy()
        for t in tree.find_all(exp.Table):
            t.set("alias", None)
        for c in tree.find_all(exp.Column):
            c.set("table", None)
    return tree.sql(dialect="postgres")


def noun(rng: random.Random, t: TableProfile, *, many: bool = False, parent: str | None = None) -> str:
    """A humanised name of table `t` ('topics' for course_topics under courses), sometimes a synonym."""
    base = t.noun
    if parent:
        head = parent.split()[-1]
        if base.startswith(head + " ") and len(base) > len(head) + 1:
            base = base[len(head) + 1:]
    options = [base] * 3 + [s for s in SYNONYMS.get(base, ()) if s != base]
    word = rng.choice(options)
    return plural(word) if many else word


def colname(name: str) -> str:
    """How people say a column: 'starts_on' -> 'start date', 'joined_on' -> 'date joined'."""
    words = humanise(name).split()
    if len(words) == 2 and words[1] in ("on", "at"):
        w = words[0]
        return f"date {w}" if w.endswith("ed") else f"{w[:-1] if w.endswith('s') else w} date"
    return " ".join(words)


def join_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
