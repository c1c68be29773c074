"""How near the wrong results of an `askdb eval --out` report came: right rows in another order, right rows with
columns added or left out, or other rows. Runs each gold and predicted statement again on the database.

    .venv/bin/python bench/failure_kinds.py bench/results/eval-dev-20261206.json

Tells whether a different scoring convention would move EX (few near misses) or whether the queries themselves are
wrong (most), which decides where accuracy work should go.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askdb.config import load_config  # noqa: E402
from bench.common import ReportError, read_eval_report  # noqa: E402
from askdb.runtime import query_url, resolve_database_url  # noqa: E402
from finetune.evaluate import EVAL_LIMITS, results_match  # noqa: E402
from pipeline.database import open_pool  # noqa: E402
from pipeline.errors import AskdbError  # noqa: E402
from pipeline.executor import execute  # noqa: E402


def _covers(wide_rows: list[tuple], narrow_rows: list[tuple], narrow_width: int) -> bool:
    """Some choice of `narrow_width` columns of `wide_rows` holds exactly `narrow_rows` (as multisets)."""
    width = len(wide_rows[0]) if wide_rows else 0
    names = range(narrow_width)
    # Combinations, not permutations: results_match already tries the column orders.
    for cols in itertools.combinations(range(width), narrow_width):
        cut = [tuple(r[k] for k in cols) for r in wide_rows]
        if results_match(names, narrow_rows, names, cut, ordered=False):
            return True
    return False


def failure_kind(gold: list[tuple], pred: list[tuple]) -> str:
    """'other order', 'extra columns', 'fewer columns' or 'other rows' for a wrong result."""
    if not gold or not pred or len(gold) != len(pred):
        return "other rows"
    gw, pw = len(gold[0]), len(pred[0])
    if gw == pw and results_match(range(gw), gold, range(pw), pred, ordered=False):
        return "other order"
    if pw > gw and _covers(pred, gold, gw):
        return "extra columns"
    if pw < gw and _covers(gold, pred, pw):
        return "fewer columns"
    return "other rows"


async def classify(report: dict, url: str) -> Counter:
    kinds: Counter = Counter()
    # Model-written SQL runs as the read-only role with the evaluation's limits, as in askdb eval.
    async with open_pool(url) as pool:
        for f in report["failures"]:
            if f["reason"] != "wrong result" or not f.get("predicted_sql"):
                kinds[f["reason"]] += 1
                continue
            try:
                gold = list((await execute(pool, f["gold_sql"], EVAL_LIMITS)).rows)
                pred = list((await execute(pool, f["predicted_sql"], EVAL_LIMITS)).rows)
            except AskdbError as exc:
                kinds["could not run again"] += 1
                print(f"{'not run':14} {f['question']}: {exc}")
                continue
            kind = failure_kind(gold, pred)
            kinds[kind] += 1
            if kind != "other rows":
                print(f"{kind:14} {f['question']}")
    return kinds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", help="an askdb eval --out JSON file")
    ap.add_argument("--database", help="PostgreSQL URL (default: config, else the embedded server)")
    args = ap.parse_args()
    try:
        report = read_eval_report(args.report)
    except ReportError as exc:
        sys.exit(str(exc))
    cfg = load_config(None)
    kinds = asyncio.run(classify(report, query_url(cfg, resolve_database_url(cfg, args.database))))
    print(json.dumps({"failures": sum(kinds.values()), **dict(kinds.most_common())}))


if __name__ == "__main__":
    main()
