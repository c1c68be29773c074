"""The catalogue of query shapes: each builds one SQL candidate from the real schema and sampled values.

Every shape is a plain function (ctx, rng) -> Candidate | None, named like its shape; None means
"this database has nothing for that shape right now" and the caller tries another. The shapes that analyse (shares,
rows in common, the top row per group, per year or month, chains, rankings by a total) are in analyses.py; run.SHAPES
holds both.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sqlglot import exp

from pipeline.words import sequence_column, weight_column

from .profile import FkEdge, SchemaProfile, TableProfile, year_of
from .refs import Ref, pick_ref, relative_phrases
from .sqlbuild import Query, colname, desc, join_words, lit, noun, render, show
from .values import ValueBank


@dataclass(frozen=True)
class Candidate:
    shape: str
    sql: str
    tables: tuple[str, ...]
    intent: str  # which family of question templates fits
    slots: dict
    relative: dict = field(default_factory=dict)  # SQL literal -> words that may stand for it
    # 'Which departments have no instructors?' is answered by no rows; without such pairs a database whose
    # every parent has children never shows the model NOT EXISTS at all. Verified without generate.require_rows.
    empty_ok: bool = False


@dataclass
class Ctx:
    profile: SchemaProfile
    bank: ValueBank
    usage: Counter = field(default_factory=Counter)  # table -> pairs kept, for balance
    years: bool = False  # generate.year_periods: a year of a row's date as the period where no term applies
    # The year and attribute filters draw from their own generator, so that switching them on leaves the other
    # draws as they were. Only partly: a pair they change changes the usage that weighs every later pick (northwind:
    # 47 of 196 pairs keep their SQL with attributes on), so such a change is still measured over seeds.
    side: random.Random = field(default_factory=lambda: random.Random(0))
    attributes: bool = False  # generate.attribute_filters: filters by a table's attributes too (its own draws)


ATTRIBUTE_SHARE = 0.4  # of the filters that test a category, how many test an attribute instead


def _pick(ctx: Ctx, rng: random.Random, tables: list[TableProfile]) -> TableProfile | None:
    """One of `tables`, favouring those the set has used least."""
    if not tables:
        return None
    weights = [1.0 / (1 + ctx.usage[t.name]) ** 2 for t in tables]
    return rng.choices(tables, weights)[0]


def _edges(ctx: Ctx, pred=lambda f: True, *, main_only: bool = True) -> list[FkEdge]:
    return [f for t in ctx.profile.tables.values() for f in t.fks if pred(f) and (not main_only or _main_edge(ctx, f))]


def _main_edge(ctx: Ctx, f: FkEdge) -> bool:
    """For a table with several keys to one parent (course_id, prerequisite_id), only the one named like the parent."""
    same = ctx.profile.tables[f.table].fk_to(f.ref_table)
    return len(same) == 1 or f.label == ctx.profile.tables[f.ref_table].noun


def _pick_edge(ctx: Ctx, rng: random.Random, edges: list[FkEdge]) -> FkEdge | None:
    if not edges:
        return None
    weights = [1.0 / (1 + ctx.usage[f.table] + ctx.usage[f.ref_table]) ** 2 for f in edges]
    return rng.choices(edges, weights)[0]


def _tp(ctx: Ctx, name: str) -> TableProfile:
    return ctx.profile.tables[name]


def _apply(q: Query, alias: str, ref: Ref) -> None:
    for c, v in ref.conds:
        q.eq(alias, c, v)


def _parent_row(ctx: Ctx, fk: FkEdge, child_row: dict) -> dict | None:
    key = child_row.get(fk.column)
    return ctx.bank.by_key(fk.ref_table, fk.ref_column).get(key) if key is not None else None


def _labels(q: Query, alias: str, t: TableProfile) -> list[exp.Column]:
    return [q.col(alias, c) for c in t.labels]


def _show_cols(t: TableProfile, rng: random.Random, k: int = 3) -> list[str]:
    """Columns worth showing for rows of a table without a name: its own columns, numbers first."""
    cols = list(t.labels) or [c for c in t.own if c in t.texts or c in t.categories][:1]
    rest = [c for c in t.own if c not in cols and c not in t.texts[1:]]
    return (cols + rest)[:k] or list(t.own[:k])


def _sort_cols(t: TableProfile, cols: list[str]) -> list[str]:
    """How a list of `t` rows is sorted when nothing else is asked: people by last then first name, else the first column."""
    if t.person and t.person[1] in cols:
        return [t.person[1]] + [t.person[0]] * (t.person[0] in cols)
    return cols[:1]


def _label_order(labels: list[exp.Column], t: TableProfile) -> list[exp.Column]:
    """Sort keys for a list of `t`'s labels, by _sort_cols' rule.

    Last name alone leaves namesakes in any order, which an ordered comparison counts as a different answer.
    """
    by_name = {c.name: c for c in labels}
    return [by_name[n].copy() for n in _sort_cols(t, list(by_name))]


def _years_of(t: TableProfile) -> list[str]:
    """`t`'s columns that place a row in a year: its dates, then its year columns."""
    return list(t.dates) + list(t.years)


def _time_column(ctx: Ctx, rng: random.Random, cols: list[str]) -> str:
    """Which of a row's dates a period is about: with generate.year_periods mostly the first, when the row happened
    (an order's date, not the date it was required by), as people mean when they do not name one."""
    col = rng.choice(cols)
    return cols[0] if ctx.years and ctx.side.random() < 0.6 else col


Keep = Callable[[dict], bool]  # which sampled rows a restriction keeps


def _in_year(ctx: Ctx, q: Query, alias: str, t: TableProfile, row: dict) -> tuple[str, dict, Keep | None]:
    """Restrict to the year `row` lies in, by one of `t`'s dates or year columns: ' in 1997', ' with shipped date
    in 1998'. A database without a table of terms still asks for counts and totals of one year."""
    every = _years_of(t)
    cols = [c for c in every if year_of(row.get(c)) is not None]
    if not cols:
        return "", {}, None
    col = _time_column(ctx, ctx.side, cols)
    year = year_of(row[col])
    c = q.col(alias, col)
    if col in t.dates:
        q.cond(exp.GTE(this=c, expression=lit(dt.date(year, 1, 1))))
        q.cond(exp.LT(this=c.copy(), expression=lit(dt.date(year + 1, 1, 1))))
    else:
        q.eq(alias, col, year)
    said = f"{ctx.side.choice(['in', 'in', 'during', 'for'])} {year}"
    # The first date of a row is when it happened (an order's date); another one is named.
    text = f" {said}" if col == every[0] else f" with {colname(col)} {said}"
    return text, {}, lambda r: year_of(r.get(col)) == year


def _period_when(ctx: Ctx, rng: random.Random, q: Query, alias: str, t: TableProfile,
                 row: dict) -> tuple[str, dict, Keep | None]:
    """Restrict to the period of `row`: its term when `t` points at the period table (' this semester', ' in Fall
    2025'), else the year of one of its dates. Also which sampled rows share it."""
    per = ctx.profile.period
    fk = next((f for f in t.fks if f.ref_table == per.table), None) if per else None
    if fk is None:
        return _in_year(ctx, q, alias, t, row) if ctx.years else ("", {}, None)
    prow = _parent_row(ctx, fk, row)
    if prow is None or prow.get(per.label_column) is None:
        return "", {}, None
    value = prow[per.label_column]
    pa = q.join_parent(alias, fk)
    q.eq(pa, per.label_column, value)
    keep = lambda r: r.get(fk.column) == row.get(fk.column)  # noqa: E731
    phrases = relative_phrases(ctx.profile, value)
    if phrases and rng.random() < 0.6:
        return " " + rng.choice(phrases), {value: phrases}, keep
    return " " + rng.choice(["in", "in", "for", "during"]) + f" {value}", {}, keep


def _when(ctx: Ctx, rng: random.Random, q: Query, alias: str, t: TableProfile, row: dict) -> tuple[str, dict]:
    """Restrict to the period of `row` (_period_when); the words and the relative phrases."""
    when, rel, _ = _period_when(ctx, rng, q, alias, t, row)
    return when, rel


def _maybe_when(ctx: Ctx, rng: random.Random, q: Query, alias: str, t: TableProfile, p: float,
                *, parent: TableProfile | None = None) -> tuple[str, dict, Keep | None]:
    """With probability `p`, restrict rows of `t` to one period ('this semester', 'in 1997'); also which sampled
    rows of `t` it keeps.

    Not when the rows are grouped by the period itself ('sections per term this term' asks nothing)."""
    per = ctx.profile.period
    if per and per.table in (t.name, parent.name if parent else None):
        return "", {}, None
    if not (per and t.fk_to(per.table)):
        if not (ctx.years and _years_of(t)):
            return "", {}, None
        rng = ctx.side  # a year: its own draws (Ctx.side)
    if rng.random() >= p:
        return "", {}, None
    row = rng.choice(ctx.bank.rows(t.name))
    when, rel, keep = _period_when(ctx, rng, q, alias, t, row)
    return (when, rel, keep) if when else ("", {}, None)


def _or_attribute(ctx: Ctx, t: TableProfile, col: str) -> str:
    """With generate.attribute_filters, now and then one of `t`'s attributes instead of the category `col` that a
    filter tests ('suppliers whose country is Japan'). Drawn from Ctx.side, so that switching it on leaves the
    other draws, and so most of the set, as they were."""
    if ctx.attributes and t.attributes and ctx.side.random() < ATTRIBUTE_SHARE:
        return ctx.side.choice(t.attributes)
    return col


def _category_cond(ctx: Ctx, rng: random.Random, q: Query, t: TableProfile, p: float, row: dict | None = None) -> str:
    """With probability `p`, keep only rows of `t` with one value of a category column (`row`'s, so some rows
    remain); the words for it."""
    if not t.categories or rng.random() >= p:
        return ""
    col = _or_attribute(ctx, t, rng.choice(t.categories))
    rows = [row] if row is not None else ctx.bank.rows(t.name)
    values = [r[col] for r in rows if r.get(col) is not None]
    if not values:
        return ""
    value = rng.choice(values)
    q.eq(q.root_alias, col, value)
    return rng.choice([f" with {colname(col)} {show(value)}", f" whose {colname(col)} is {show(value)}"])


def _some_value(ctx: Ctx, rng: random.Random, table: str, col: str):
    """A sampled non-null value of `table.col`, or None when the sample holds none."""
    values = [r[col] for r in ctx.bank.rows(table) if r.get(col) is not None]
    return rng.choice(values) if values else None


def _cand(shape, q_tree, tables, intent, slots, relative=None, *, empty_ok: bool = False) -> Candidate:
    return Candidate(shape, render(q_tree), tuple(sorted(set(tables))), intent, slots, relative or {}, empty_ok)


def _count_alias(t: TableProfile) -> str:
    # Never the table's own name: the guard reads a bare table name as its whole row.
    return t.noun.split()[-1].replace(" ", "_") + "_count"


def _label_like(col: str) -> bool:
    return any(w in col.lower() for w in ("year", "week", "number", "_no", "day", "month"))


# ---- single table ---------------------------------------------------------------------------------

def lookup(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """One or two facts about a row named by its code, title or name."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.labels and len(t.own) > len(t.labels)])
    if t is None:
        return None
    row = rng.choice(ctx.bank.rows(t.name))
    ref = pick_ref(rng, ctx.profile, t, row)
    if ref is None:
        return None
    named = {c for c, _ in ref.conds}
    attrs = [c for c in t.own if c not in named and c not in (t.person or ())]
    if not attrs:
        return None
    attrs = rng.sample(attrs, min(len(attrs), rng.choice([1, 1, 2])))
    q = Query(ctx.profile, t.name)
    _apply(q, q.root_alias, ref)
    tree = q.select(*[q.col(q.root_alias, c) for c in attrs])
    # 'how many credits is CS 2110?' asks for a stored number, not for a count of rows.
    counted = (len(attrs) == 1 and isinstance(row.get(attrs[0]), int) and not isinstance(row.get(attrs[0]), bool)
               and colname(attrs[0]).endswith("s") and rng.random() < 0.5)
    return _cand("lookup", tree, [t.name], "lookup_many" if counted else "lookup",
                 {"ent": ref.text, "attrs": join_words([colname(c) for c in attrs]), "T": noun(rng, t)}, ref.relative)


def filter_category(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows with one category value: 'graduate courses'; with generate.attribute_filters also one attribute value
    ('suppliers in Japan'), of a table that may have no category."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.categories and t.labels])
    col = rng.choice(t.categories) if t else None
    if ctx.attributes and ctx.side.random() < ATTRIBUTE_SHARE:
        by = _pick(ctx, ctx.side, [t for t in ctx.profile.tables.values() if t.attributes and t.labels])
        t, col = (by, ctx.side.choice(by.attributes)) if by else (t, col)
    if t is None or col is None:
        return None
    value = _some_value(ctx, rng, t.name, col)
    if value is None:
        return None
    q = Query(ctx.profile, t.name)
    q.eq(q.root_alias, col, value)
    labels = _labels(q, q.root_alias, t)
    tree = q.select(*labels, order=[labels[-1] if t.person else labels[0]])
    return _cand("filter_category", tree, [t.name], "filter_eq",
                 {"Ts": noun(rng, t, many=True), "col": colname(col), "val": show(value)})


def filter_number(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows with one value of a whole number that takes few values: 'courses worth 4 credits', 'admitted in 2024'."""
    def few(t: TableProfile) -> list[str]:
        return [c for c in t.numbers if 2 <= len({r.get(c) for r in ctx.bank.rows(t.name)} - {None}) <= 12
                and all(isinstance(r.get(c), int) for r in ctx.bank.rows(t.name) if r.get(c) is not None)]
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.labels and few(t)])
    if t is None:
        return None
    col = rng.choice(few(t))
    value = _some_value(ctx, rng, t.name, col)
    if value is None:
        return None
    q = Query(ctx.profile, t.name)
    q.eq(q.root_alias, col, value)
    labels = _labels(q, q.root_alias, t)
    tree = q.select(*labels, order=_label_order(labels, t))
    return _cand("filter_number", tree, [t.name], "filter_eq",
                 {"Ts": noun(rng, t, many=True), "col": colname(col), "val": show(value)})


_MOST = {True: ("highest", "largest", "biggest", "most"), False: ("lowest", "smallest", "least")}
_LATEST = {True: ("latest", "highest"), False: ("earliest", "lowest")}  # weeks and years are not 'most'
_OPS = {">": ("more than", "over", "greater than", "above"), "<": ("less than", "under", "fewer than", "below"),
        ">=": ("at least",), "<=": ("at most", "no more than")}
_TIME_OPS = {">": ("after", "later than"), "<": ("before", "earlier than"), ">=": ("at or after",),
             "<=": ("at or before",)}


def filter_compare(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows whose number, time or date compares with a real value."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if (t.numbers or t.times or t.dates)])
    if t is None:
        return None
    col = rng.choice(t.numbers + t.times + t.dates)
    values = sorted({r[col] for r in ctx.bank.rows(t.name) if r.get(col) is not None})
    if len(values) < 2:
        return None
    value = values[rng.randrange(1, len(values))] if rng.random() < 0.5 else values[rng.randrange(0, len(values) - 1)]
    op = rng.choice([">", "<", ">", "<", ">=", "<="])
    cls = {">": exp.GT, "<": exp.LT, ">=": exp.GTE, "<=": exp.LTE}[op]
    words = _OPS if col in t.numbers else _TIME_OPS
    q = Query(ctx.profile, t.name)
    q.cond(cls(this=q.col(q.root_alias, col), expression=lit(value)))
    shown = _show_cols(t, rng, 2)
    cols = [q.col(q.root_alias, c) for c in shown if c != col] + [q.col(q.root_alias, col)]
    order = [q.col(q.root_alias, col)]
    # Named rows as pipeline.shaping.show_compared lists them: a compared date or time beside the names, sorted by
    # it; a compared number not at all where two columns name them, the rows by name.
    labels = [q.col(q.root_alias, c) for c in t.labels]
    if t.labels and col not in t.numbers:
        cols = labels + [q.col(q.root_alias, col)]
    elif len(t.labels) >= 2:
        cols, order = labels, [q.col(q.root_alias, c) for c in _sort_cols(t, list(t.labels))]
    tree = q.select(*cols, order=order)
    return _cand("filter_compare", tree, [t.name], "filter_cmp",
                 {"Ts": noun(rng, t, many=True), "col": colname(col), "op": rng.choice(words[op]), "val": show(value)})


def _word(rng: random.Random, values: list[str]) -> str | None:
    words = [w.strip(",.;:()'\"").lower() for v in values for w in str(v).split()]
    words = [w for w in words if len(w) >= 5 and w.isalpha()]
    return rng.choice(words) if words else None


def filter_like(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows whose text mentions a word: ILIKE '%word%'."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.texts])
    if t is None:
        return None
    col = rng.choice(t.texts)
    word = _word(rng, [r[col] for r in ctx.bank.rows(t.name) if r.get(col)])
    if word is None:
        return None
    q = Query(ctx.profile, t.name)
    q.cond(exp.ILike(this=q.col(q.root_alias, col), expression=exp.Literal.string(f"%{word}%")))
    shown = [c for c in _show_cols(t, rng, 2)]
    if col not in shown and len(shown) < 2:
        shown.append(col)
    cols = [q.col(q.root_alias, c) for c in shown]
    tree = q.select(*cols, order=[q.col(q.root_alias, c) for c in _sort_cols(t, shown)])
    return _cand("filter_like", tree, [t.name], "filter_like",
                 {"Ts": noun(rng, t, many=True), "col": colname(col), "word": word})


def count_rows(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """How many rows, optionally with one category value, in one period."""
    t = _pick(ctx, rng, list(ctx.profile.tables.values()))
    if t is None:
        return None
    q = Query(ctx.profile, t.name)
    slots = {"Ts": noun(rng, t, many=True), "cond": ""}
    if t.categories and rng.random() < 0.75:
        col = _or_attribute(ctx, t, rng.choice(t.categories))
        value = _some_value(ctx, rng, t.name, col)
        if value is None:
            return None
        q.eq(q.root_alias, col, value)
        slots["cond"] = rng.choice([f" with {colname(col)} {show(value)}", f" whose {colname(col)} is {show(value)}",
                                    f" where {colname(col)} = {show(value)}"])
    rel = {}
    if ctx.years and not (ctx.profile.period and t.fk_to(ctx.profile.period.table)):  # 'orders during 1997'
        when, rel, _ = _maybe_when(ctx, rng, q, q.root_alias, t, 0.3)
        slots["cond"] += when
    tree = q.select(exp.Count(this=exp.Star()))
    return _cand("count_rows", tree, list(q.aliases.values()), "count", slots, rel)


_FNS = {"avg": (exp.Avg, ("average", "mean", "avg")), "sum": (exp.Sum, ("total", "sum of the")),
        "min": (exp.Min, ("smallest", "lowest", "minimum")), "max": (exp.Max, ("largest", "highest", "maximum"))}


def aggregate(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """AVG/SUM/MIN/MAX of a number, over a table or the children of one row."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.numbers])
    if t is None:
        return None
    col = rng.choice(t.numbers)
    # Sums and averages of years or numbers-as-labels mean nothing to anyone.
    fn = rng.choice(["min", "max"] if _label_like(col) else list(_FNS))
    cls, words = _FNS[fn]
    q = Query(ctx.profile, t.name)
    slots = {"fn": rng.choice(words), "col": colname(col), "Ts": noun(rng, t, many=True), "scope": ""}
    rel = {}
    parents = [f for f in t.fks if _tp(ctx, f.ref_table).labels]
    parent = None
    if parents and rng.random() < 0.6:
        fk = rng.choice(parents)
        row = rng.choice(ctx.bank.rows(t.name))
        prow = _parent_row(ctx, fk, row)
        parent = _tp(ctx, fk.ref_table)
        ref = pick_ref(rng, ctx.profile, parent, prow) if prow else None
        if ref is None:
            return None
        pa = q.join_parent(q.root_alias, fk)
        _apply(q, pa, ref)
        slots["scope"] = rng.choice([f" for {ref.text}", f" in {ref.text}", f" of {ref.text}"])
        slots["Ts"] = noun(rng, t, many=True, parent=parent.noun)
        rel = ref.relative
    # 'total seats in CS 1010 this semester', 'total weight of the exams in CS 2110'.
    slots["when"], when_rel, _ = _maybe_when(ctx, rng, q, q.root_alias, t, 0.4, parent=parent)
    slots["cond"] = _category_cond(ctx, rng, q, t, 0.3)
    tree = q.select(cls(this=q.col(q.root_alias, col)))
    rel = {**rel, **when_rel}
    return _cand("aggregate", tree, list(q.aliases.values()), "aggregate", slots, rel)


def distinct(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """The different values of a category column."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.categories])
    if t is None:
        return None
    col = rng.choice(t.categories)
    q = Query(ctx.profile, t.name)
    c = q.col(q.root_alias, col)
    tree = q.select(c, distinct=True, order=[c])
    return _cand("distinct", tree, [t.name], "distinct", {"Ts": noun(rng, t, many=True), "col": colname(col)})


def date_range(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows whose date falls in a year, or a period containing a given day."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.dates])
    if t is None:
        return None
    col = rng.choice(t.dates)
    days = [r[col] for r in ctx.bank.rows(t.name) if isinstance(r.get(col), dt.date)]
    if not days:
        return None
    day = rng.choice(days)
    q = Query(ctx.profile, t.name)
    c = q.col(q.root_alias, col)
    shown = [q.col(q.root_alias, x) for x in _show_cols(t, rng, 1) if x != col] + [c]
    if len(t.dates) >= 2 and rng.random() < 0.35:
        start, end = t.dates[0], t.dates[1]
        rows = [r for r in ctx.bank.rows(t.name) if isinstance(r.get(start), dt.date) and isinstance(r.get(end), dt.date)]
        if not rows:
            return None
        r = rng.choice(rows)
        span = (r[end] - r[start]).days
        inside = r[start] + dt.timedelta(days=rng.randrange(0, max(span, 1)))
        q.cond(exp.Between(this=exp.Cast(this=lit(inside), to=exp.DataType.build("date")),
                           low=q.col(q.root_alias, start), high=q.col(q.root_alias, end)))
        tree = q.select(*[q.col(q.root_alias, x) for x in _show_cols(t, rng, 1)])
        return _cand("date_range", tree, [t.name], "date_on", {"T": noun(rng, t), "day": show(inside)})
    year = day.year
    if rng.random() < 0.5:
        q.cond(exp.GTE(this=c, expression=lit(dt.date(year, 1, 1))))
        q.cond(exp.LT(this=c.copy(), expression=lit(dt.date(year + 1, 1, 1))))
        tree = q.select(*shown, order=[c.copy()])
        return _cand("date_range", tree, [t.name], "date_year", {"Ts": noun(rng, t, many=True), "col": colname(col),
                                                                "year": str(year)})
    op = rng.choice([">", "<"])
    cls = exp.GT if op == ">" else exp.LT
    q.cond(cls(this=c, expression=lit(day)))
    tree = q.select(*shown, order=[c.copy()])
    return _cand("date_range", tree, [t.name], "filter_cmp", {"Ts": noun(rng, t, many=True), "col": colname(col),
                                                              "op": rng.choice(_TIME_OPS[op]), "val": show(day)})


def subquery(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows above or below the table's average of a number."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.numbers and (t.labels or t.own)])
    if t is None:
        return None
    col = rng.choice(t.numbers)
    q = Query(ctx.profile, t.name)
    c = q.col(q.root_alias, col)
    above = rng.random() < 0.6
    inner = exp.select(exp.Avg(this=exp.column(col))).from_(t.name)
    cls = exp.GT if above else exp.LT
    q.cond(cls(this=c, expression=exp.Subquery(this=inner)))
    shown = [q.col(q.root_alias, x) for x in _show_cols(t, rng, 2) if x != col] + [c.copy()]
    tree = q.select(*shown, order=[desc(c.copy()) if above else c.copy()])
    return _cand("subquery", tree, [t.name], "above_avg" if above else "below_avg",
                 {"Ts": noun(rng, t, many=True), "col": colname(col)})


def in_list(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """A fact about two or three named rows: code IN ('A', 'B')."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.idents and not t.person and len(t.own) > 1])
    if t is None:
        return None
    col = t.idents[0]
    values = sorted({r[col] for r in ctx.bank.rows(t.name) if isinstance(r.get(col), str)})
    if len(values) < 3:
        return None
    picked = rng.sample(values, rng.choice([2, 3]))
    attrs = [c for c in t.own if c != col and c not in t.texts[1:]]
    if not attrs:
        return None
    attr = rng.choice(attrs)
    q = Query(ctx.profile, t.name)
    c = q.col(q.root_alias, col)
    q.cond(exp.In(this=c, expressions=[lit(v) for v in picked]))
    tree = q.select(c.copy(), q.col(q.root_alias, attr), order=[c.copy()])
    return _cand("in_list", tree, [t.name], "in_list", {"Ts": noun(rng, t, many=True), "col": colname(attr),
                                                        "ents": join_words(picked)})


# ---- along foreign keys ---------------------------------------------------------------------------

def fk_lookup(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """The row a named row points at: 'which department offers CS 2110'."""
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: bool(_tp(ctx, f.table).labels) and bool(_tp(ctx, f.ref_table).labels)
                                     and f.table != f.ref_table))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    row = rng.choice(ctx.bank.rows(child.name))
    ref = pick_ref(rng, ctx.profile, child, row)
    if ref is None or _parent_row(ctx, fk, row) is None:
        return None
    q = Query(ctx.profile, child.name)
    pa = q.join_parent(q.root_alias, fk)
    _apply(q, q.root_alias, ref)
    tree = q.select(*_labels(q, pa, parent))
    return _cand("fk_lookup", tree, [child.name, parent.name], "fk_lookup",
                 {"ent": ref.text, "P": fk.label if rng.random() < 0.7 else noun(rng, parent), "T": noun(rng, child),
                  "who": "who" if parent.person else "what"}, ref.relative)


def child_list(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """The child rows of one named row, ordered: 'topics of CE 4229 by week'."""
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: bool(_tp(ctx, f.ref_table).labels) and bool(_tp(ctx, f.table).own)))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    row = rng.choice(ctx.bank.rows(child.name))
    prow = _parent_row(ctx, fk, row)
    ref = pick_ref(rng, ctx.profile, parent, prow) if prow else None
    if ref is None:
        return None
    q = Query(ctx.profile, child.name)
    pa = q.join_parent(q.root_alias, fk)
    _apply(q, pa, ref)
    when, rel = ("", {})
    if parent.name != (ctx.profile.period.table if ctx.profile.period else None) and rng.random() < 0.6:
        when, rel = _when(ctx, rng, q, q.root_alias, child, row)
    cond, fixed = "", None
    numbers = [c for c in child.numbers if row.get(c) is not None]
    texts = [c for c in child.texts if isinstance(row.get(c), str)]
    narrow = rng.random()
    if numbers and narrow < 0.15:
        # 'topics of CE 4229 in week 1': one value of a number column narrows the list.
        col = fixed = rng.choice(numbers)
        q.eq(q.root_alias, col, row[col])
        cond = f" {'in' if _label_like(col) else 'with'} {colname(col)} {show(row[col])}"
    elif narrow < 0.3:
        # 'professors in the EE department' (a category), or 'topics of CE 4229 about kubernetes' (a word).
        cond = _category_cond(ctx, rng, q, child, 1.0, row)
        word = _word(rng, [row[c] for c in texts]) if not cond and texts else None
        if word:
            col = next(c for c in texts if word.lower() in row[c].lower())
            q.cond(exp.ILike(this=q.col(q.root_alias, col), expression=exp.Literal.string(f"%{word}%")))
            cond = rng.choice([f" about {word}", f" mentioning {word}", f" with {word} in the {colname(col)}"])
    cols = _show_cols(child, rng, rng.choice([2, 3, 4]))
    if numbers and not cond and rng.random() < 0.15:
        # The one child with the largest or smallest number: 'the heaviest assessment in CS 3200', 'the last topic'.
        col = rng.choice(numbers)
        big = rng.random() < 0.7
        cols = [c for c in (list(child.labels) or _show_cols(child, rng, 1)) if c != col] + [col]
        key = q.col(q.root_alias, col)
        tree = q.select(*[q.col(q.root_alias, c) for c in cols], order=[desc(key) if big else key.copy()], limit=1)
        return _cand("child_top", tree, list(q.aliases.values()), "child_top",
                     {"C": noun(rng, child, parent=parent.noun), "ent": ref.text, "when": when, "col": colname(col),
                      "most": rng.choice(_LATEST[big] if _label_like(col) else _MOST[big])},
                     {**ref.relative, **rel})
    # One ordering per table, whatever the phrasing: a coin flip here taught the model to guess (week vs topic). And
    # a column the list shows: sorted by a hidden one (courses by credits) it reads as unsorted.
    # A number the narrowing fixed ('with credits 3') is the same on every row: neither shown nor sorted by.
    cols = [c for c in cols if c != fixed] or cols
    order = [c for c in (child.numbers or child.times)[:1] if c != fixed] or _sort_cols(child, cols)
    if len(child.labels) >= 2:
        # Rows two columns name (a course's code and title, a person's names) are listed by them alone, in a column
        # numbering or weighing them where one does, else by name: pipeline.shaping answers that way.
        cols = list(child.labels)
        ordered = [c for c in child.numbers if sequence_column(c)] or [c for c in child.numbers if weight_column(c)]
        order = [c for c in ordered[:1] if c != fixed] or _sort_cols(child, cols)
    cols += [c for c in order if c not in cols]
    # A column weighing the children (an assessment's weight) reads heaviest first, as pipeline.shaping sorts them.
    keys = [desc(q.col(q.root_alias, c)) if weight_column(c) else q.col(q.root_alias, c) for c in order]
    tree = q.select(*[q.col(q.root_alias, c) for c in cols], order=keys)
    return _cand("child_list", tree, list(q.aliases.values()), "children",
                 {"Cs": noun(rng, child, many=True, parent=parent.noun), "ent": ref.text, "when": when, "cond": cond,
                  "order": join_words([colname(c) for c in order])}, {**ref.relative, **rel})


def _bridges(ctx: Ctx) -> list[TableProfile]:
    return [t for t in ctx.profile.tables.values() if len(t.fks) >= 2]


def bridge_join(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows of one table reached from a named row of another through a table that links them (2-3 joins)."""
    b = _pick(ctx, rng, _bridges(ctx))
    if b is None:
        return None
    per = ctx.profile.period.table if ctx.profile.period else None
    ends = [f for f in b.fks if f.ref_table != per and _tp(ctx, f.ref_table).labels]
    if len(ends) < 2:
        return None
    src, dst = rng.sample(ends, 2)
    row = rng.choice(ctx.bank.rows(b.name))
    srow = _parent_row(ctx, src, row)
    ref = pick_ref(rng, ctx.profile, _tp(ctx, src.ref_table), srow) if srow else None
    if ref is None or _parent_row(ctx, dst, row) is None:
        return None
    q = Query(ctx.profile, b.name)
    sa = q.join_parent(q.root_alias, src)
    da = q.join_parent(q.root_alias, dst)
    _apply(q, sa, ref)
    when, rel = _when(ctx, rng, q, q.root_alias, b, row) if rng.random() < 0.7 else ("", {})
    dst_t = _tp(ctx, dst.ref_table)
    labels = _labels(q, da, dst_t)
    tree = q.select(*labels, distinct=True, order=_label_order(labels, dst_t))
    # Two keys to one table (course_id, prerequisite_id): reading 'the course of X' forwards is confusing.
    reverse = rng.random() < 0.4 or (src.ref_table == dst.ref_table and dst.label == dst_t.noun)
    slots = {"ent": ref.text, "when": when, "target": dst.label, "targets": _plural_label(dst.label),
             "srcs": noun(rng, _tp(ctx, src.ref_table), many=True), "src": src.label, "via": noun(rng, b, many=True),
             "who": "who" if dst_t.person else f"which {_plural_label(dst.label)}"}
    if reverse:
        # The same SQL read the other way: 'which courses have X as prerequisite' keeps src as the filter.
        slots.update(targets=_plural_label(dst.label), ent_role=src.label)
    return _cand("bridge_join", tree, list(q.aliases.values()), "bridge_rev" if reverse else "bridge",
                 slots, {**ref.relative, **rel})


def _plural_label(label: str) -> str:
    from .profile import plural

    return plural(label)


def count_children(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """How many child rows one named row has, optionally one hop further and in a period."""
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: True))
    if fk is None:
        return None
    child = _tp(ctx, fk.table)
    row = rng.choice(ctx.bank.rows(child.name))
    q = Query(ctx.profile, child.name)
    hop_alias, hop_t, hop_row = q.root_alias, child, row
    parent_fk = fk
    if not _tp(ctx, fk.ref_table).labels:
        # One more hop: enrollments -> sections -> courses.
        mid = _tp(ctx, fk.ref_table)
        mid_row = _parent_row(ctx, fk, row)
        ups = [f for f in mid.fks if _tp(ctx, f.ref_table).labels and
               (not ctx.profile.period or f.ref_table != ctx.profile.period.table)]
        if mid_row is None or not ups:
            return None
        hop_alias = q.join_parent(q.root_alias, fk)
        hop_t, hop_row, parent_fk = mid, mid_row, rng.choice(ups)
    parent = _tp(ctx, parent_fk.ref_table)
    prow = _parent_row(ctx, parent_fk, hop_row)
    ref = pick_ref(rng, ctx.profile, parent, prow) if prow else None
    if ref is None:
        return None
    pa = q.join_parent(hop_alias, parent_fk)
    _apply(q, pa, ref)
    when, rel = _when(ctx, rng, q, hop_alias, hop_t, hop_row) if rng.random() < 0.6 and parent.name != (
        ctx.profile.period.table if ctx.profile.period else None) else ("", {})
    cond = ""
    if child.categories and rng.random() < 0.4:
        col = _or_attribute(ctx, child, rng.choice(child.categories))
        if row.get(col) is not None:
            q.eq(q.root_alias, col, row[col])
            cond = f" with {colname(col)} {show(row[col])}"
    tree = q.select(exp.Count(this=exp.Star()))
    ent = ref.text
    if hop_t is not child:
        # enrollments -> sections -> instructors: 'enrollments in Ivan Novak's sections'.
        ent = f"{ref.text}'s {noun(rng, hop_t, many=True, parent=parent.noun)}"
    return _cand("count_children", tree, list(q.aliases.values()), "count_children",
                 {"Cs": noun(rng, child, many=True, parent=parent.noun), "ent": ent, "when": when, "cond": cond},
                 {**ref.relative, **rel})


def group_count(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows per parent (or per category), most first."""
    if rng.random() < 0.35:
        t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.categories])
        if t is None:
            return None
        col = rng.choice(t.categories)
        q = Query(ctx.profile, t.name)
        c = q.col(q.root_alias, col)
        n = exp.alias_(exp.Count(this=exp.Star()), "n")
        tree = q.select(c, n, group=[c.copy()], order=[desc(exp.column("n"))])
        return _cand("group_count", tree, [t.name], "per_group", {"Ts": noun(rng, t, many=True), "G": colname(col)})
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: bool(_tp(ctx, f.ref_table).labels)))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    q = Query(ctx.profile, parent.name)
    ca = q.join_child(q.root_alias, fk)
    # Counting in one period ('sections per course this semester') is how people ask about term-based data.
    when, rel, _ = _maybe_when(ctx, rng, q, ca, child, 0.5, parent=parent)
    labels = _labels(q, q.root_alias, parent)
    alias = _count_alias(child)
    group, order = _per_parent_order(ctx, q, parent, labels, alias)
    tree = q.select(*labels, exp.alias_(exp.Count(this=exp.Star()), alias), group=group, order=order)
    return _cand("group_count", tree, list(q.aliases.values()), "per_group",
                 {"Ts": noun(rng, child, many=True, parent=parent.noun), "G": fk.label, "when": when}, rel)


def group_agg(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """AVG/SUM/MAX of a number per category or per parent."""
    def groups(t: TableProfile) -> list[tuple[str, object]]:
        # A key to a parent without a name gives nothing to show per group.
        return [("cat", c) for c in t.categories] + [("fk", f) for f in t.fks if _tp(ctx, f.ref_table).labels]
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.numbers and groups(t)])
    if t is None:
        return None
    col = rng.choice(t.numbers)
    fn = rng.choice(["max", "min"] if _label_like(col) else ["avg", "sum", "max", "min", "avg"])
    cls, words = _FNS[fn]
    q = Query(ctx.profile, t.name)
    kind, g = rng.choice(groups(t))
    start = None
    if kind == "cat":
        keys = [q.col(q.root_alias, g)]
        order = [k.copy() for k in keys]
        gname = colname(g)
    else:
        pa = q.join_parent(q.root_alias, g)
        keys = _labels(q, pa, _tp(ctx, g.ref_table))
        parent = _tp(ctx, g.ref_table)
        # Periods (terms) in calendar order, not by name, as pipeline.shaping.order_periods puts them.
        start = _period_start(ctx, q, pa, parent)
        order = [start] if start is not None else (
            _label_order(keys, parent) if parent.person else [k.copy() for k in keys])
        gname = g.label
    group = [k.copy() for k in keys] + ([start.copy()] if start is not None else [])
    tree = q.select(*keys, cls(this=q.col(q.root_alias, col)), group=group, order=order)
    return _cand("group_agg", tree, list(q.aliases.values()), "per_group_agg",
                 {"fn": rng.choice(words), "col": colname(col), "G": gname, "Ts": noun(rng, t, many=True)})


def _per_parent_order(ctx: Ctx, q: Query, parent: TableProfile, labels: list[exp.Column],
                      alias: str) -> tuple[list[exp.Expression], list[exp.Expression]]:
    """GROUP BY and ORDER BY of a count per parent row: most first, but periods (terms) in calendar order."""
    group = [c.copy() for c in labels]
    start = _period_start(ctx, q, q.root_alias, parent)
    if start is not None:
        return group + [start], [start.copy()]
    return group, [desc(exp.column(alias))]


def _period_start(ctx: Ctx, q: Query, alias: str, t: TableProfile) -> exp.Column | None:
    """The column a period table's rows (terms) start on, as `alias`'s, which sorts them in calendar order; None for
    any other table."""
    if ctx.profile.period and t.name == ctx.profile.period.table and t.dates:
        return q.col(alias, t.dates[0])
    return None


def having(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Parents with more (or fewer) than N children, N taken from the real counts."""
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: bool(_tp(ctx, f.ref_table).labels)))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    q = Query(ctx.profile, parent.name)
    ca = q.join_child(q.root_alias, fk)
    when, rel, keep = _maybe_when(ctx, rng, q, ca, child, 0.4, parent=parent)
    rows = ctx.bank.rows(child.name)
    if keep is not None:
        rows = [r for r in rows if keep(r)]  # N from the counts in that period
    counts = Counter(r[fk.column] for r in rows if r.get(fk.column) is not None)
    if len(counts) < 3:
        return None
    scale = max(1.0, ctx.bank.samples[child.name].total / max(len(ctx.bank.rows(child.name)), 1))
    values = sorted(round(v * scale) for v in counts.values())
    n = values[rng.randrange(len(values) // 4, max(len(values) * 3 // 4, len(values) // 4 + 1))]
    more = rng.random() < 0.7
    n = max(n - 1, 1) if more else n + 1
    labels = _labels(q, q.root_alias, parent)
    alias = _count_alias(child)
    cnt = exp.Count(this=exp.Star())
    cond = (exp.GT if more else exp.LT)(this=cnt, expression=exp.Literal.number(n))
    group, order = _per_parent_order(ctx, q, parent, labels, alias)
    tree = q.select(*labels, exp.alias_(cnt.copy(), alias), group=group, having=cond, order=order)
    return _cand("having", tree, list(q.aliases.values()), "having",
                 {"Ps": noun(rng, parent, many=True), "Cs": noun(rng, child, many=True, parent=parent.noun),
                  "op": rng.choice(_OPS[">" if more else "<"]), "n": str(n), "when": when}, rel)


def top_k(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """The k rows with the largest (or smallest) number, or the parents with the most children."""
    k = rng.choice([1, 1, 3, 5, 10])
    if rng.random() < 0.55:
        t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.numbers])
        if t is None:
            return None
        col = rng.choice(t.numbers)
        q = Query(ctx.profile, t.name)
        when, rel, _ = _maybe_when(ctx, rng, q, q.root_alias, t, 0.5)
        big = rng.random() < 0.7
        c = q.col(q.root_alias, col)
        shown = [q.col(q.root_alias, x) for x in _show_cols(t, rng, 2) if x != col] + [c]
        tree = q.select(*shown, order=[desc(c.copy()) if big else c.copy()], limit=k)
        intent = ("top_num" if big else "top_num_low") if k > 1 else "top_one"
        return _cand("top_k", tree, list(q.aliases.values()), intent,
                     {"Ts": noun(rng, t, many=True), "T": noun(rng, t), "col": colname(col), "k": str(k),
                      "most": rng.choice(_MOST[big]), "when": when}, rel)
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: bool(_tp(ctx, f.ref_table).labels)))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    q = Query(ctx.profile, parent.name)
    ca = q.join_child(q.root_alias, fk)
    when, rel, _ = _maybe_when(ctx, rng, q, ca, child, 0.5, parent=parent)
    labels = _labels(q, q.root_alias, parent)
    alias = _count_alias(child)
    tree = q.select(*labels, exp.alias_(exp.Count(this=exp.Star()), alias), group=[c.copy() for c in labels],
                    order=[desc(exp.column(alias))], limit=k)
    return _cand("top_k", tree, list(q.aliases.values()), "top_count" if k > 1 else "top_count_one",
                 {"Ps": noun(rng, parent, many=True), "P": noun(rng, parent),
                  "Cs": noun(rng, child, many=True, parent=parent.noun), "k": str(k), "when": when}, rel)


def anti_join(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows that nothing points at: NOT EXISTS."""
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: bool(_tp(ctx, f.ref_table).labels)))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    q = Query(ctx.profile, parent.name)
    ca = q.profile.tables[child.name].alias
    ca = ca if ca != q.root_alias else ca + "2"
    inner = (exp.select(exp.Literal.number(1)).from_(exp.alias_(exp.to_table(child.name), ca, table=True))
             .where(exp.EQ(this=exp.column(fk.column, table=ca), expression=q.col(q.root_alias, fk.ref_column))))
    q.cond(exp.Not(this=exp.Exists(this=inner)))
    labels = _labels(q, q.root_alias, parent)
    tree = q.select(*labels, order=_label_order(labels, parent))
    return _cand("anti_join", tree, [child.name, parent.name], "anti",
                 {"Ps": noun(rng, parent, many=True), "Cs": noun(rng, child, many=True, parent=parent.noun)},
                 empty_ok=True)


def join_filter(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Parents that have a child with some value: JOIN + DISTINCT, or IN (subquery)."""
    per = ctx.profile.period.table if ctx.profile.period else None
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: bool(_tp(ctx, f.ref_table).labels) and f.ref_table != per and (
        bool(_tp(ctx, f.table).categories or _tp(ctx, f.table).texts) or bool(per and _tp(ctx, f.table).fk_to(per)))))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    per = ctx.profile.period
    if per and parent.name != per.table and child.fk_to(per.table) and rng.random() < 0.4:
        return _has_child_in_period(ctx, rng, fk, child, parent)
    cols = list(child.categories) + list(child.texts)
    if not cols:
        return None
    col = rng.choice(cols)
    like = col not in child.categories
    col = col if like else _or_attribute(ctx, child, col)
    row = rng.choice([r for r in ctx.bank.rows(child.name) if r.get(col) is not None] or [{}])
    if not row:
        return None
    value = _word(rng, [row[col]]) if like else row[col]
    if value is None:
        return None
    test = (lambda c: exp.ILike(this=c, expression=exp.Literal.string(f"%{value}%"))) if like else \
        (lambda c: exp.EQ(this=c, expression=lit(value)))
    q = Query(ctx.profile, parent.name)
    labels = _labels(q, q.root_alias, parent)
    order = _label_order(labels, parent)
    slots = {"Ps": noun(rng, parent, many=True), "C": noun(rng, child, parent=parent.noun),
             "Cs": noun(rng, child, many=True, parent=parent.noun), "col": colname(col), "val": show(value)}
    if rng.random() < 0.5:
        inner = exp.select(exp.column(fk.column)).from_(child.name).where(test(exp.column(col)))
        q.cond(exp.In(this=q.col(q.root_alias, fk.ref_column), query=exp.Subquery(this=inner)))
        tree = q.select(*labels, order=order)
        shape = "in_subquery"
    else:
        ca = q.join_child(q.root_alias, fk)
        q.cond(test(q.col(ca, col)))
        tree = q.select(*labels, distinct=True, order=order)
        shape = "join_filter"
    return _cand(shape, tree, [child.name, parent.name], "has_child_like" if like else "has_child", slots)


def _has_child_in_period(ctx: Ctx, rng: random.Random, fk: FkEdge, child: TableProfile,
                         parent: TableProfile) -> Candidate | None:
    """Parents with a child row in a period: 'which courses have sections this term'."""
    row = rng.choice(ctx.bank.rows(child.name))
    q = Query(ctx.profile, parent.name)
    ca = q.join_child(q.root_alias, fk)
    when, rel = _when(ctx, rng, q, ca, child, row)
    if not when:
        return None
    cond = ""
    if parent.categories and rng.random() < 0.5:
        col = _or_attribute(ctx, parent, rng.choice(parent.categories))
        value = _some_value(ctx, rng, parent.name, col)
        if value is None:
            return None
        q.eq(q.root_alias, col, value)
        cond = f"{show(value)} "
    labels = _labels(q, q.root_alias, parent)
    tree = q.select(*labels, distinct=True, order=_label_order(labels, parent))
    return _cand("join_filter", tree, list(q.aliases.values()), "has_child_when",
                 {"Ps": noun(rng, parent, many=True), "C": noun(rng, child, parent=parent.noun),
                  "Cs": noun(rng, child, many=True, parent=parent.noun), "when": when, "cond": cond}, rel)


def period_list(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows of a table that points at the period table, in this or a past period: 'sections this term'."""
    per = ctx.profile.period
    if per is None:
        return None
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.fk_to(per.table)])
    if t is None:
        return None
    rows = [r for r in ctx.bank.rows(t.name)]
    row = rng.choice(rows)
    q = Query(ctx.profile, t.name)
    when, rel = _when(ctx, rng, q, q.root_alias, t, row)
    if not when:
        return None
    slots = {"Ts": noun(rng, t, many=True), "when": when, "cond": ""}
    cols = [q.col(q.root_alias, c) for c in _show_cols(t, rng, 2)]
    others = [f for f in t.fks if f.ref_table != per.table and _tp(ctx, f.ref_table).labels]
    order = cols[:1]
    if others and rng.random() < 0.8:
        f = rng.choice(others)
        pa = q.join_parent(q.root_alias, f)
        parent = _tp(ctx, f.ref_table)
        labels = _labels(q, pa, parent)
        cols, order = labels + cols[:1], _label_order(labels, parent)
    usable = [c for c in t.categories + t.numbers + t.times if row.get(c) is not None]
    if usable and rng.random() < 0.7:
        col = rng.choice(usable)
        if col in t.categories:
            q.eq(q.root_alias, col, row[col])
            slots["cond"] = rng.choice([f" with {colname(col)} {show(row[col])}", f" where {colname(col)} is {show(row[col])}"])
        else:
            op = rng.choice([">=", "<="])
            q.cond((exp.GTE if op == ">=" else exp.LTE)(this=q.col(q.root_alias, col), expression=lit(row[col])))
            words = _OPS if col in t.numbers else _TIME_OPS
            slots["cond"] = f" with {colname(col)} {rng.choice(words[op])} {show(row[col])}"
    tree = q.select(*cols, order=[c.copy() for c in order])
    return _cand("period_list", tree, list(q.aliases.values()), "period", slots, rel)


SHAPES = (lookup, fk_lookup, filter_category, filter_number, filter_compare, filter_like, child_list, bridge_join,
          count_rows, count_children, aggregate, group_count, group_agg, having, top_k, distinct,
          date_range, anti_join, join_filter, in_list, subquery, period_list)
