"""Follow-up pairs: a kept pair, one change to its filter, sort or limit, and the short question a person asks for
that change in a thread ('and for Spring 2026?', 'sort them by credits', 'top 5 instead'), the pair as its previous
turn. Verified by execution like every pair (`verify.verify_many`)."""
from __future__ import annotations

import random
from typing import Sequence

import sqlglot
from sqlglot import exp

from .values import ValueBank

FILTER = ("and for {v}?", "what about {v}?", "and {v}?", "same for {v}", "now for {v}")
SORT = ("sort them by {c}", "order them by {c}", "sorted by {c} please", "can you sort that by {c}?")
SORT_DESC = ("sort them by {c}, highest first", "order by {c}, largest first", "biggest {c} first")
REVERSE = ("reverse the order", "the other way round", "sort it the other way")
LIMIT = ("top {n} instead", "show {n} instead", "just {n} of them", "make it {n}")
FIRST = ("only the first {n}", "just the top {n}", "show me only {n}")
LIMITS = (3, 5, 10)


def followup_candidates(question: str, sql: str, bank: ValueBank, rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, follow-up question, its SQL) for one pair: another value of a text filter, a sort, a limit; [] for a
    statement none of them applies to."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return []
    if not isinstance(tree, exp.Select):
        return []
    out = []
    for kind, make in (("filter", _other_value), ("sort", _sort), ("limit", _limit)):
        made = make(tree.copy(), bank, rng)
        if made is not None:
            text, new = made
            out.append((kind, text, new.sql(dialect="postgres")))
    return out


def _other_value(tree: exp.Select, bank: ValueBank, rng: random.Random):
    where = tree.args.get("where")
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    conds = [eq for eq in (where.find_all(exp.EQ) if where else ())
             if isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Literal) and eq.expression.is_string]
    if not conds:
        return None
    eq = rng.choice(conds)
    table = aliases.get(eq.this.table) if eq.this.table else (next(iter(aliases.values())) if len(aliases) == 1 else None)
    if table is None:
        return None
    now = eq.expression.this
    others = sorted({r.get(eq.this.name) for r in bank.rows(table)} - {now, None})
    others = [v for v in others if isinstance(v, str) and 0 < len(v) <= 40]
    if not others:
        return None
    value = rng.choice(others)
    eq.set("expression", exp.Literal.string(value))
    return rng.choice(FILTER).format(v=value), tree


def _sort(tree: exp.Select, bank: ValueBank, rng: random.Random):
    order = tree.args.get("order")
    if order is not None:
        if len(order.expressions) != 1 or tree.args.get("limit") is not None:
            return None  # reversing a top-n changes which rows, not their order
        key = order.expressions[0]
        key.set("desc", not key.args.get("desc"))
        return rng.choice(REVERSE), tree
    if tree.args.get("group") is not None or any(isinstance(p.unalias(), exp.AggFunc) for p in tree.expressions):
        return None
    columns = [p.unalias() for p in tree.expressions if isinstance(p.unalias(), exp.Column)]
    if len(columns) < 2:
        return None
    column = rng.choice(columns)
    words = column.name.replace("_", " ")
    desc = rng.random() < 0.4
    tree = tree.order_by(exp.Ordered(this=column.copy(), desc=desc), copy=False)
    return rng.choice(SORT_DESC if desc else SORT).format(c=words), tree


def _limit(tree: exp.Select, bank: ValueBank, rng: random.Random):
    if tree.args.get("order") is None:
        return None  # the first n of an unordered result are any n
    limit = tree.args.get("limit")
    now = limit.expression.to_py() if limit is not None and isinstance(limit.expression, exp.Literal) else None
    n = rng.choice([m for m in LIMITS if m != now])
    tree = tree.limit(n, copy=False)
    return rng.choice(LIMIT if now is not None else FIRST).format(n=n), tree


def sampled(rows: Sequence[dict], want: int, rng: random.Random) -> list[dict]:
    """Up to `want` of the pairs, none a follow-up itself, in file order."""
    base = [r for r in rows if not r.get("previous")]
    keep = set(rng.sample(range(len(base)), min(want, len(base))))
    return [r for i, r in enumerate(base) if i in keep]
