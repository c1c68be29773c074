"""Execution-guided choice among candidate statements: the result most of them agree on.

A small model's greedy statement is often one of several it finds nearly as likely; where its next-best statements
return the same rows by other means, that agreement is evidence no single statement carries (self-consistency, as
execution-guided decoding uses it). Statements that fail do not vote, and empty results do not agree with each other:
many wrong filters return no rows, so no rows is no evidence."""
from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Sequence

from .executor import QueryResult
from .guard import CheckedSql


@dataclass(frozen=True)
class Ran:
    """A candidate statement that passed the guard and ran; `rank` is its place in the model's order (0: greedy)."""
    rank: int
    checked: CheckedSql
    result: QueryResult
    mends: tuple = ()


@dataclass(frozen=True)
class Vote:
    chosen: Ran
    agreeing: int  # how many statements returned its rows (itself included)
    ran: int  # how many ran at all
    proposed: int  # how many distinct statements were proposed

    def explain(self) -> str:
        """One line for `askdb ask --explain` and the answer's trace."""
        which = "the model's first" if self.chosen.rank == 0 else f"the model's choice no. {self.chosen.rank + 1}"
        return (f"{self.agreeing} of {self.ran} statements that ran (of {self.proposed} proposed) return these rows; "
                f"answered with {which}")


def fingerprint(result: QueryResult) -> tuple | None:
    """The rows as a hashable multiset that ignores column names, column order and row order (numbers to 2
    decimals); None for no rows, which agrees with nothing."""
    if not result.rows:
        return None
    return tuple(sorted(tuple(sorted((_canonical(v) for v in row), key=repr)) for row in result.rows))


def choose(ran: Sequence[Ran], *, proposed: int) -> Vote | None:
    """The statement whose rows most statements return, the model's earlier choice on a tie; where every result is
    empty, the earliest that ran. None when nothing ran."""
    if not ran:
        return None
    groups: dict[tuple | int, list[Ran]] = {}
    for r in sorted(ran, key=lambda r: r.rank):
        key = fingerprint(r.result)
        groups.setdefault(key if key is not None else r.rank, []).append(r)  # no rows: a group of its own
    # Larger groups first; non-empty rows before empty ones; then the model's own order.
    best = min(groups.values(), key=lambda g: (-len(g) if g[0].result.rows else 1, g[0].rank))
    return Vote(best[0], len(best), len(ran), proposed)


def _canonical(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return round(float(value), 2) + 0.0  # + 0.0: -0.0 and 0.0 agree
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return str(value)
