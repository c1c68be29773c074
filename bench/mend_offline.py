"""What the statement mends (`pipeline.mend.mend`) would do, without a model: on right statements (an eval set's
gold SQL, the generated pairs) how many they change and how many of those then return another answer (or the same
rows in another order: "reordered"; the gold's rows less some columns: "fewer columns"); on the wrong
statements of `askdb eval --out` reports how many they change and how many of those then return the gold answer.

    .venv/bin/python -m bench.mend_offline --pairs finetune/eval/course_dev.jsonl finetune/eval/course_check.jsonl \
        profiles/course/samples.jsonl --report bench/results/eval-dev-20261206.json

Run before measuring a new mend through the pipeline: a mend that changes right statements breaks answers. Without
arguments it checks the hand-written sets and the shipped generated pairs (a step of `make bench`).
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
from askdb.runtime import open_app, visible_schema  # noqa: E402
from bench.common import ReportError, read_eval_report, write_results  # noqa: E402
from finetune.evaluate import EVAL_LIMITS, read_items, results_match, same_answer  # noqa: E402
from pipeline.errors import AskdbError  # noqa: E402
from pipeline.executor import execute  # noqa: E402
from pipeline.mend import mend  # noqa: E402
from pipeline.linking import load_linker  # noqa: E402


async def _answers_alike(pool, gold_sql: str, sql: str) -> bool | str | None:
    """Whether `sql` returns the answer of `gold_sql` as askdb eval scores it; "reordered" where it returns the same
    rows in another order, "fewer columns" where the gold's rows without some of its columns; None when the gold
    does not run."""
    try:
        gold = await execute(pool, gold_sql, EVAL_LIMITS)
    except AskdbError:
        return None
    try:
        pred = await execute(pool, sql, EVAL_LIMITS)
    except AskdbError:
        return False
    if same_answer(gold_sql, gold, pred):
        return True
    if results_match(gold.columns, gold.rows, pred.columns, pred.rows, ordered=False):
        return "reordered"
    # The gold's rows with some of its columns left out: a convention (a department's code beside its name), not
    # another answer.
    width = len(pred.columns)
    for keep in itertools.combinations(range(len(gold.columns)), width) if width < len(gold.columns) else ():
        rows = [tuple(r[j] for j in keep) for r in gold.rows]
        if results_match([gold.columns[j] for j in keep], rows, pred.columns, pred.rows, ordered=False):
            return "fewer columns"
    return False


async def run(pairs: list[str], reports: list[dict], database: str | None, show: bool) -> dict:
    cfg = load_config(None)
    out: dict = {}
    async with open_app(cfg, database=database, with_model=False) as app:
        linker = await load_linker(app.pool, visible_schema(cfg, app.schema))
        today = app.today()
        for path in pairs:
            counts: Counter = Counter()
            # A generated follow-up ('just the top 3') is mended, as askdb mends it, with the question it continues.
            rows = [json.loads(line) for line in Path(path).open() if line.strip()]
            for item, row in zip(read_items(path), rows, strict=True):
                counts["pairs"] += 1
                earlier = row["previous"]["question"] if isinstance(row.get("previous"), dict) else ""
                mended = mend(item.question, item.sql, linker, today, earlier=earlier)
                if mended == item.sql:
                    continue
                counts["changed"] += 1
                alike = await _answers_alike(app.pool, item.sql, mended)
                kind = {False: "broken", True: "same answer", None: "gold does not run"}.get(alike, alike)
                counts[kind] += 1
                if show or kind in ("broken", "reordered", "fewer columns"):
                    print(f"{kind.upper()} {path}: {item.question}\n  {item.sql}\n  -> {mended}")
            out[path] = dict(counts)
        for report in reports:
            counts = Counter()
            for f in report["failures"]:
                counts["failures"] += 1
                sql = f.get("predicted_sql") or ""
                mended = mend(f["question"], sql, linker, today) if sql else sql
                if mended == sql:
                    continue
                counts["changed"] += 1
                alike = await _answers_alike(app.pool, f["gold_sql"], mended)
                counts["fixed" if alike is True else "still wrong"] += 1
                print(f"{'FIXED' if alike is True else 'changed'} {report.get('label', '')}: {f['question']}\n  {sql}\n  "
                      f"-> {mended}")
            out[report.get("_path", "report")] = dict(counts)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="*", default=[], help="JSONL files of right question/SQL pairs")
    ap.add_argument("--report", nargs="*", default=[], help="askdb eval --out JSON reports")
    ap.add_argument("--database", help="PostgreSQL URL (default: config, else the embedded server)")
    ap.add_argument("--show", action="store_true", help="print every changed right statement, not only broken ones")
    ap.add_argument("--save", action="store_true", help="also write bench/results/mends-<time>.json")
    args = ap.parse_args()
    if not args.pairs and not args.report:
        # (not the scope sets, whose out-of-scope questions have no SQL)
        args.pairs = sorted(str(p) for p in Path("finetune/eval").glob("course_*.jsonl") if "scope" not in p.name) + [
            "profiles/course/samples.jsonl"]
    reports = []
    for path in args.report:
        try:
            reports.append({**read_eval_report(path), "_path": path})
        except ReportError as exc:
            sys.exit(str(exc))
    try:
        out = asyncio.run(run(args.pairs, reports, args.database, args.show))
    except AskdbError as exc:
        sys.exit(str(exc))
    print(json.dumps(out, indent=1))
    if args.save:
        right = [v for k, v in out.items() if k in args.pairs]
        write_results("mends", {"files": out, "right_statements": sum(v.get("pairs", 0) for v in right),
                                "right_changed": sum(v.get("changed", 0) for v in right),
                                "right_broken": sum(v.get("broken", 0) for v in right),
                                "right_reordered": sum(v.get("reordered", 0) for v in right),
                                "right_fewer_columns": sum(v.get("fewer columns", 0) for v in right)})


if __name__ == "__main__":
    main()
