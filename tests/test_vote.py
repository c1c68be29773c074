"""The execution-guided vote: which rows agree, and which statement is answered."""
from __future__ import annotations

import decimal

from pipeline.executor import QueryResult
from pipeline.guard import CheckedSql
from pipeline.vote import Ran, choose, fingerprint


def _result(columns, rows):
    return QueryResult(tuple(columns), tuple(tuple(r) for r in rows), False, 1.0)


def _ran(rank, rows, columns=("a", "b")):
    return Ran(rank, CheckedSql(f"SELECT {rank}", (), False), _result(columns, rows))


def test_rows_agree_whatever_the_column_names_and_orders():
    one = _result(("name", "n"), [("Oslo", 3), ("Rome", decimal.Decimal("2.004"))])
    other = _result(("total", "city"), [(2.0, "Rome"), (3, "Oslo")])
    assert fingerprint(one) == fingerprint(other)
    assert fingerprint(_result(("n",), [(2.1,)])) != fingerprint(_result(("n",), [(2.0,)]))
    assert fingerprint(_result(("n",), [(0,)])) == fingerprint(_result(("n",), [(-0.0,)]))


def test_no_rows_agree_with_nothing():
    assert fingerprint(_result(("a",), [])) is None


def test_the_largest_group_wins_and_ties_go_to_the_model_order():
    vote = choose([_ran(0, [(1, 2)]), _ran(1, [(3, 4)]), _ran(3, [(4, 3)])], proposed=4)
    assert vote.chosen.rank == 1 and (vote.agreeing, vote.ran, vote.proposed) == (2, 3, 4)
    tie = choose([_ran(2, [(3, 4)]), _ran(0, [(1, 2)])], proposed=3)
    assert tie.chosen.rank == 0 and tie.agreeing == 1
    assert "the model's first" in tie.explain()


def test_empty_results_lose_to_any_rows_and_never_outvote_them():
    vote = choose([_ran(0, []), _ran(1, []), _ran(2, []), _ran(3, [(1, 1)])], proposed=4)
    assert vote.chosen.rank == 3 and vote.agreeing == 1
    only_empty = choose([_ran(1, []), _ran(2, [])], proposed=3)
    assert only_empty.chosen.rank == 1


def test_nothing_ran_nothing_chosen():
    assert choose([], proposed=4) is None
