"""Query shapes that analyse rather than look up: shares and ratios, rows two named rows have in common, the top row of
each group, counts per year or month, chains over a key to the same table, and parents ranked by a total.

Like shapes.py, each is a plain function (ctx, rng) -> Candidate | None built from the schema's properties (keys,
labels, categories, numbers, dates) and sampled values, never from a table's or a column's particular name.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import sqlglot
from sqlglot import exp

from .profile import FkEdge, TableProfile
from .refs import pick_ref
from .shapes import (_FNS, _MOST, _OPS, Candidate, Ctx, _apply, _cand, _edges, _label_like, _label_order, _labels,
                     _maybe_when, _or_attribute, _parent_row, _pick, _pick_edge, _show_cols, _time_column, _tp,
                     _years_of)
from .sqlbuild import Query, colname, desc, lit, noun, show


def _labelled(ctx: Ctx, f: FkEdge) -> bool:
    return bool(_tp(ctx, f.ref_table).labels)


def _scope(ctx: Ctx, rng: random.Random, q: Query, t: TableProfile, p: float) -> tuple[str, dict, TableProfile | None]:
    """With probability `p`, keep only the rows of `t` under one named parent row: ' for Speedy Express'."""
    parents = [f for f in t.fks if _labelled(ctx, f) and f.ref_table != t.name]
    if not parents or rng.random() >= p:
        return "", {}, None
    fk = rng.choice(parents)
    prow = _parent_row(ctx, fk, rng.choice(ctx.bank.rows(t.name)))
    parent = _tp(ctx, fk.ref_table)
    ref = pick_ref(rng, ctx.profile, parent, prow) if prow else None
    if ref is None:
        return "", {}, None
    _apply(q, q.join_parent(q.root_alias, fk), ref)
    return rng.choice([f" for {ref.text}", f" of {ref.text}", f" in {ref.text}"]), ref.relative, parent


# ---- shares and ratios ----------------------------------------------------------------------------

def share(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """The percentage of rows with a category value or a number past a real value (100.0 * COUNT(*) FILTER (WHERE
    ...) / COUNT(*)), or the ratio of two category values' counts."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.categories or t.numbers])
    if t is None:
        return None
    q = Query(ctx.profile, t.name)
    scope, rel, parent = _scope(ctx, rng, q, t, 0.3)
    slots = {"Ts": noun(rng, t, many=True, parent=parent.noun if parent else None), "scope": scope}
    rows = ctx.bank.rows(t.name)
    count = exp.Count(this=exp.Star())
    if t.categories and (not t.numbers or rng.random() < 0.7):
        col = _or_attribute(ctx, t, rng.choice(t.categories))
        values = sorted({r[col] for r in rows if r.get(col) is not None}, key=str)
        if len(values) < 2:
            return None
        if rng.random() < 0.3:
            a, b = rng.sample(values, 2)
            part = lambda v: exp.Filter(this=count.copy(), expression=exp.Where(  # noqa: E731
                this=exp.EQ(this=q.col(q.root_alias, col), expression=lit(v))))
            ratio = exp.Div(this=exp.Mul(this=exp.Literal.number("1.0"), expression=part(a)),
                            expression=exp.Nullif(this=part(b), expression=exp.Literal.number(0)), typed=True)
            tree = q.select(exp.alias_(ratio, "ratio"))
            slots.update(col=colname(col), a=show(a), b=show(b))
            return _cand("share", tree, list(q.aliases.values()), "ratio", slots, rel)
        value = rng.choice(values)
        cond = exp.EQ(this=q.col(q.root_alias, col), expression=lit(value))
        slots.update(col=colname(col), val=show(value))
        intent = "share"
    else:
        col = rng.choice(t.numbers)
        values = sorted({r[col] for r in rows if r.get(col) is not None})
        if len(values) < 3:
            return None
        value = values[rng.randrange(1, len(values) - 1)]
        op = rng.choice([">", "<"])
        cond = (exp.GT if op == ">" else exp.LT)(this=q.col(q.root_alias, col), expression=lit(value))
        slots.update(col=colname(col), op=rng.choice(_OPS[op]), val=show(value))
        intent = "share_cmp"
    pct = exp.Div(this=exp.Mul(this=exp.Literal.number("100.0"),
                               expression=exp.Filter(this=count.copy(), expression=exp.Where(this=cond))),
                  expression=count.copy(), typed=True)  # typed: Postgres' own division, no cast added
    tree = q.select(exp.alias_(pct, "percentage"))
    return _cand("share", tree, list(q.aliases.values()), intent, slots, rel)


# ---- rows related to both of two named rows -----------------------------------------------------------

def both_related(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows linked to BOTH of two named rows (through a linking table), or parents with children of both of two
    category values: GROUP BY ... HAVING COUNT(DISTINCT ...) = 2."""
    if rng.random() < 0.6:
        return _both_through_link(ctx, rng)
    return _both_categories(ctx, rng)


def _name_column(t: TableProfile) -> str | None:
    """The one column a question names `t`'s rows by in a list of two: the last name of a person, else its label."""
    return t.person[1] if t.person else (t.labels[0] if t.labels else None)


def _both_through_link(ctx: Ctx, rng: random.Random) -> Candidate | None:
    links = [t for t in ctx.profile.tables.values() if len([f for f in t.fks if _labelled(ctx, f)]) >= 2]
    b = _pick(ctx, rng, links)
    if b is None:
        return None
    src, dst = rng.sample([f for f in b.fks if _labelled(ctx, f)], 2)
    s_t, d_t = _tp(ctx, src.ref_table), _tp(ctx, dst.ref_table)
    name = _name_column(s_t)
    by_dst = defaultdict(set)
    for r in ctx.bank.rows(b.name):
        srow = _parent_row(ctx, src, r)
        if srow and isinstance(srow.get(name), str) and r.get(dst.column) is not None:
            by_dst[r[dst.column]].add(srow[name])
    shared = [sorted(names) for names in by_dst.values() if len(names) >= 2]
    if not shared:
        return None
    a, c = rng.sample(rng.choice(shared), 2)
    q = Query(ctx.profile, b.name)
    sa, da = q.join_parent(q.root_alias, src), q.join_parent(q.root_alias, dst)
    q.cond(exp.In(this=q.col(sa, name), expressions=[lit(a), lit(c)]))
    labels = _labels(q, da, d_t)
    having = exp.EQ(this=exp.Count(this=exp.Distinct(expressions=[q.col(sa, name)])), expression=exp.Literal.number(2))
    tree = q.select(*labels, group=[x.copy() for x in labels], having=having, order=_label_order(labels, d_t))
    slots = {"Ds": noun(rng, d_t, many=True), "ents": f"{a} and {c}", "src": src.label,
             "srcs": _plural(src.label)}
    return _cand("both_related", tree, list(q.aliases.values()), "both", slots, {"2": ("both",)})


def _both_categories(ctx: Ctx, rng: random.Random) -> Candidate | None:
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: _labelled(ctx, f) and bool(_tp(ctx, f.table).categories)
                                     and f.table != f.ref_table))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    col = rng.choice(child.categories)
    by_parent = defaultdict(set)
    for r in ctx.bank.rows(child.name):
        if r.get(fk.column) is not None and r.get(col) is not None:
            by_parent[r[fk.column]].add(r[col])
    shared = [sorted(v, key=str) for v in by_parent.values() if len(v) >= 2]
    if not shared:
        return None
    a, c = rng.sample(rng.choice(shared), 2)
    q = Query(ctx.profile, parent.name)
    ca = q.join_child(q.root_alias, fk)
    q.cond(exp.In(this=q.col(ca, col), expressions=[lit(a), lit(c)]))
    labels = _labels(q, q.root_alias, parent)
    having = exp.EQ(this=exp.Count(this=exp.Distinct(expressions=[q.col(ca, col)])), expression=exp.Literal.number(2))
    tree = q.select(*labels, group=[x.copy() for x in labels], having=having, order=_label_order(labels, parent))
    slots = {"Ps": noun(rng, parent, many=True), "Cs": noun(rng, child, many=True, parent=parent.noun),
             "col": colname(col), "ents": f"{show(a)} and {show(c)}"}
    return _cand("both_related", tree, list(q.aliases.values()), "both_values", slots, {"2": ("both",)})


def _plural(label: str) -> str:
    from .profile import plural

    return plural(label)


# ---- the extreme row of each group ------------------------------------------------------------------

def top_per_group(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """The row with the largest (or smallest) number in each parent or category: a correlated subquery, ties kept."""
    def groups(t: TableProfile) -> list[tuple[str, object]]:
        return [("cat", c) for c in t.categories] + [("fk", f) for f in t.fks if _labelled(ctx, f)
                                                      and f.ref_table != t.name]
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if t.numbers and groups(t)
                         and (t.labels or len(t.own) > 1)])
    if t is None:
        return None
    col = rng.choice(t.numbers)
    kind, g = rng.choice(groups(t))
    shown = [c for c in (list(t.labels) or _show_cols(t, rng, 2)) if c != col and c != g][:2]
    if not shown:
        return None
    big = rng.random() < 0.75
    q = Query(ctx.profile, t.name)
    inner_alias = q.alias_for(t.name)
    if kind == "cat":
        gcols, key, gname = [q.col(q.root_alias, g)], g, colname(g)
    else:
        pa = q.join_parent(q.root_alias, g)
        gcols, key, gname = _labels(q, pa, _tp(ctx, g.ref_table)), g.column, g.label
    inner = (exp.select((exp.Max if big else exp.Min)(this=exp.column(col, table=inner_alias)))
             .from_(exp.alias_(exp.to_table(t.name), inner_alias, table=True))
             .where(exp.EQ(this=exp.column(key, table=inner_alias), expression=q.col(q.root_alias, key))))
    q.cond(exp.EQ(this=q.col(q.root_alias, col), expression=exp.Subquery(this=inner)))
    cols = gcols + [q.col(q.root_alias, c) for c in shown] + [q.col(q.root_alias, col)]
    tree = q.select(*cols, order=[c.copy() for c in gcols] + [q.col(q.root_alias, shown[0])])
    most = rng.choice(((_MOST if not _label_like(col) else {True: ("latest", "highest"),
                                                                False: ("earliest", "lowest")})[big]))
    return _cand("top_per_group", tree, list(q.aliases.values()), "top_per_group",
                 {"T": noun(rng, t), "Ts": noun(rng, t, many=True), "col": colname(col), "most": most, "G": gname})


# ---- per year or month ------------------------------------------------------------------------------

def by_period(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Rows counted (or a number totalled) per year or per month of a date, or per value of a year column."""
    t = _pick(ctx, rng, [t for t in ctx.profile.tables.values() if _years_of(t)])
    if t is None:
        return None
    q = Query(ctx.profile, t.name)
    col = _time_column(ctx, rng, _years_of(t))
    c = q.col(q.root_alias, col)
    rows = ctx.bank.rows(t.name)
    slots = {"Ts": noun(rng, t, many=True), "col": colname(col), "when": ""}
    if col in t.dates:
        days = [r[col] for r in rows if isinstance(r.get(col), dt.date)]
        years = sorted({d.year for d in days})
        if not days:
            return None
        if len(years) >= 2 and rng.random() < 0.5:
            unit, name, intent = exp.Extract(this=exp.var("YEAR"), expression=c), "year", "per_year"
        elif len(years) >= 2 and rng.random() < 0.5:
            unit, name, intent = exp.TimestampTrunc(this=c, unit=exp.var("MONTH")), "month", "per_month"
            if len({(d.year, d.month) for d in days}) < 2:
                return None
        else:
            year = rng.choice(years)
            if len({d.month for d in days if d.year == year}) < 2:
                return None
            unit, name, intent = exp.Extract(this=exp.var("MONTH"), expression=c), "month", "per_month"
            q.cond(exp.GTE(this=c.copy(), expression=lit(dt.date(year, 1, 1))))
            q.cond(exp.LT(this=c.copy(), expression=lit(dt.date(year + 1, 1, 1))))
            slots["when"] = rng.choice([f" in {year}", f" during {year}", f" for {year}"])
    else:
        if len({r.get(col) for r in rows} - {None}) < 2:
            return None
        unit, name, intent = c, None, "per_year_col"
    measure = exp.Count(this=exp.Star())
    alias = t.noun.split()[-1] + "_count"
    amounts = [n for n in t.numbers if n != col and not _label_like(n)]
    if amounts and rng.random() < 0.35:
        num = rng.choice(amounts)
        fn = rng.choice(["sum", "avg", "sum"])
        cls, fn_words = _FNS[fn]
        measure, alias = cls(this=q.col(q.root_alias, num)), f"{'total' if fn == 'sum' else 'average'}_{num}"
        slots.update(fn=rng.choice(fn_words), num=colname(num))
        intent += "_agg"
    shown = exp.alias_(unit, name) if name else unit
    tree = q.select(shown, exp.alias_(measure, alias), group=[unit.copy()], order=[unit.copy()])
    return _cand("by_period", tree, [t.name], intent, slots)


# ---- chains over a key to the same table ------------------------------------------------------------

def _chains(ctx: Ctx) -> list[tuple[TableProfile, FkEdge, FkEdge | None]]:
    """(table, key, other key) for each way to walk a chain: a key to its own table (other None), or a linking table
    with two keys into one table, walked from the first key's rows to the second's."""
    out = []
    for t in ctx.profile.tables.values():
        for f in t.fks:
            if f.ref_table == t.name and t.labels:
                out.append((t, f, None))
        if t.own:
            continue  # rows of their own (a flight from one airport to another, a leg of a flight), not links
        same = [f for f in t.fks if f.ref_table != t.name and _labelled(ctx, f)]
        for i, f in enumerate(same):
            for g in same[i + 1:]:
                if (g.ref_table, g.ref_column) == (f.ref_table, f.ref_column):
                    out += [(t, f, g), (t, g, f)]
    return out


def chain(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """Every row reached from a named row by following one key again and again (a manager's manager, a
    prerequisite's prerequisite): WITH RECURSIVE, UNION so a cycle ends."""
    options = _chains(ctx)
    if not options:
        return None
    b, edge, other = rng.choice(options)
    p, key = _tp(ctx, edge.ref_table), edge.ref_column
    if other is None:
        up = rng.random() < 0.5  # from a row to the row its key names (a manager's manager), or down to the children
        frm, to = (key, edge.column) if up else (edge.column, key)
    else:
        frm, to = edge.column, other.column
    starts = [r for r in ctx.bank.rows(b.name) if r.get(frm) is not None and r.get(to) is not None]
    if not starts:
        return None
    row = rng.choice(starts)
    prow = row if b is p and frm == key else ctx.bank.by_key(p.name, key).get(row[frm])
    ref = pick_ref(rng, ctx.profile, p, prow, relative_ok=False) if prow else None
    if ref is None:
        return None
    i = lambda name: exp.to_identifier(name).sql(dialect="postgres")  # noqa: E731
    where = " AND ".join(f"p.{i(c)} = {lit(v).sql(dialect='postgres')}" for c, v in ref.conds)
    labels = ", ".join(f"p.{i(c)}" for c in p.labels)
    order = ", ".join(f"p.{i(c)}" for c in _sort_labels(p))
    sql = (f"WITH RECURSIVE chain AS (SELECT b.{i(to)} AS node FROM {i(b.name)} AS b JOIN {i(p.name)} AS p "
           f"ON p.{i(key)} = b.{i(frm)} WHERE {where} UNION SELECT b.{i(to)} FROM {i(b.name)} AS b JOIN chain AS c "
           f"ON b.{i(frm)} = c.node) SELECT {labels} FROM {i(p.name)} AS p JOIN chain AS c ON p.{i(key)} = c.node "
           f"ORDER BY {order}")
    tree = sqlglot.parse_one(sql, read="postgres")
    if other is None:
        intent, role = ("chain_up" if up else "chain_down"), edge.label
    elif other.label != p.noun:
        intent, role = "chain_link", other.label  # 'all prerequisites of X': the key walked to names the role
    else:
        intent, role = "chain_link_rev", edge.label  # 'courses that have X as a prerequisite'

    slots = {"ent": ref.text, "role": role, "roles": _plural(role), "T": noun(rng, p), "Ts": noun(rng, p, many=True)}
    return _cand("chain", tree, [b.name, p.name], intent, slots, ref.relative)


def _sort_labels(t: TableProfile) -> list[str]:
    if t.person:
        return [t.person[1], t.person[0]]
    return list(t.labels[:1])


# ---- parents ranked by a total of their children ------------------------------------------------------

def rank_by_total(ctx: Ctx, rng: random.Random) -> Candidate | None:
    """The k parents with the largest (or smallest) SUM or AVG of a number of their child rows."""
    def amounts(t: TableProfile) -> list[str]:
        return [c for c in t.numbers if not _label_like(c)]
    fk = _pick_edge(ctx, rng, _edges(ctx, lambda f: _labelled(ctx, f) and f.table != f.ref_table
                                     and bool(amounts(_tp(ctx, f.table)))))
    if fk is None:
        return None
    child, parent = _tp(ctx, fk.table), _tp(ctx, fk.ref_table)
    col = rng.choice(amounts(child))
    fn = rng.choice(["sum", "sum", "avg"])
    cls = _FNS[fn][0]
    k = rng.choice([1, 3, 3, 5, 10])
    big = rng.random() < 0.8
    q = Query(ctx.profile, parent.name)
    ca = q.join_child(q.root_alias, fk)
    when, rel, _ = _maybe_when(ctx, rng, q, ca, child, 0.3, parent=parent)
    labels = _labels(q, q.root_alias, parent)
    alias = f"{'total' if fn == 'sum' else 'average'}_{col}"
    order = desc(exp.column(alias)) if big else exp.column(alias)
    tree = q.select(*labels, exp.alias_(cls(this=q.col(ca, col)), alias), group=[x.copy() for x in labels],
                    order=[order], limit=k)
    fn_word = rng.choice(["total", "combined"] if fn == "sum" else ["average", "mean"])
    return _cand("rank_by_total", tree, list(q.aliases.values()), "rank_total" if k > 1 else "rank_total_one",
                 {"Ps": noun(rng, parent, many=True), "P": noun(rng, parent), "k": str(k), "fn": fn_word,
                  "col": colname(col), "Cs": noun(rng, child, many=True, parent=parent.noun), "when": when,
                  "most": rng.choice(("highest", "largest", "biggest") if big else ("lowest", "smallest"))}, rel)


ANALYSES = (share, both_related, top_per_group, by_period, chain, rank_by_total)
