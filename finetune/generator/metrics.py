"""Diversity figures of a generated set: what the bench prints and the tests assert."""
from __future__ import annotations

from typing import Sequence

import sqlglot
from sqlglot import exp

from .dedupe import normalise_sql


def diversity(rows: Sequence[dict]) -> dict:
    """Distinct SQL, joins, aggregates, shapes, tables and question length of a list of pairs."""
    n = max(len(rows), 1)
    trees = [sqlglot.parse_one(r["sql"], read="postgres") for r in rows]
    return {
        "pairs": len(rows),
        "distinct_sql": round(len({normalise_sql(r["sql"]) for r in rows}) / n, 3),
        "with_join": round(sum(1 for t in trees if t.find(exp.Join)) / n, 3),
        "with_aggregate": round(sum(1 for t in trees if t.find(exp.AggFunc)) / n, 3),
        "shapes": len({r["shape"] for r in rows}),
        "tables": sorted(set().union(*(r["tables"] for r in rows))) if rows else [],
        "avg_question_words": round(sum(len(r["question"].split()) for r in rows) / n, 2),
        "relative_time": round(sum(1 for r in rows if any(w in r["question"].lower() for w in
                                                          ("this ", "last ", "current ", "previous "))) / n, 3),
    }
