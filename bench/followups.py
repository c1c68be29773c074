"""Follow-up questions: the follow-ups of two-turn conversations asked in their conversation, beside the same
follow-ups asked as standalone questions, scored by finetune.evaluate (execution accuracy).

    .venv/bin/askdb db init --database postgresql://postgres@127.0.0.1:5432/askdb_followups
    .venv/bin/python -m bench.followups --database postgresql://postgres@127.0.0.1:5432/askdb_followups

Five runs over finetune/eval/course_followups.jsonl, through the configured model and adapter as shipped:
first questions; follow-ups after their first question and its gold SQL (a chat whose first answer was right);
follow-ups after the first question and the SQL the pipeline wrote for it (the chat as it happens); the follow-ups
alone, without their conversation; and the standalone rewrites. The report, with the machine and the command, goes to
bench/results/followups-<UTC time>.json (one file per run: two runs on one day both stay).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askdb.commands.evaluate import scoring_config  # noqa: E402
from askdb.config import load_config, validate  # noqa: E402
from askdb.runtime import open_app  # noqa: E402
from bench.common import write_results  # noqa: E402
from finetune.evaluate import EvalItem, EvalReport, evaluate, read_items  # noqa: E402
from pipeline.prompt import Example  # noqa: E402

QUESTIONS = "finetune/eval/course_followups.jsonl"


def conversations(path: str) -> list[tuple[EvalItem, EvalItem, str]]:
    """(first question, follow-up with its first turn, standalone rewrite) of each line of `path`."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [(EvalItem(item.previous[0].question, item.previous[0].sql, item.shape), item, row["standalone"])
            for item, row in zip(read_items(path), rows)]


async def run(args) -> dict:
    cfg = scoring_config(validate(load_config(args.config)), first_attempt=args.first_attempt)
    convs = conversations(args.questions)
    follow = [f for _, f, _ in convs]
    reports: list[EvalReport] = []
    async with open_app(cfg, database=args.database, adapter=args.adapter) as app:
        async def score(label: str, items: list[EvalItem]) -> EvalReport:
            report = await evaluate(app.pipeline, app.pool, items, label=label, concurrency=args.concurrency,
                                    gold_cache=gold_cache)
            print(f"{label}: {report.execution_accuracy:.1%} ({sum(r.correct for r in report.scored)}/"
                  f"{len(report.scored)}), {report.wall_s:.0f} s", file=sys.stderr, flush=True)
            reports.append(report)
            return report

        gold_cache: dict = {}
        first = await score("first questions", [f for f, _, _ in convs])
        await score("follow-up after the gold first turn", follow)
        # As a chat thread has it: the first turn is the SQL the pipeline ran, right or wrong (none when it failed).
        await score("follow-up after the pipeline's first turn",
                    [dataclasses.replace(f, previous=(Example(f.previous[0].question, r.predicted_sql),)
                                         if r.reason in ("", "wrong result") else ())
                     for f, r in zip(follow, first.results)])
        await score("follow-up alone (no conversation)", [dataclasses.replace(f, previous=()) for f in follow])
        await score("standalone rewrite", [dataclasses.replace(f, question=s, previous=()) for _, f, s in convs])
    runs = [r.to_json() for r in reports]
    return {"date": dt.date.today().isoformat(), "questions": args.questions, "n": len(convs),
            "model": runs[0]["model"], "execution_accuracy": {r["label"]: r["execution_accuracy"] for r in runs},
            "correct": {r["label"]: r["correct"] for r in runs}, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--questions", default=QUESTIONS)
    p.add_argument("--database", help="the course database (default: the config's)")
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--adapter", help="LoRA adapter directory (default: model.adapter)")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--first-attempt", action="store_true", help="score the first statement only (quicker)")
    p.add_argument("--out", help="report path (default: bench/results/followups-<UTC time>.json)")
    args = p.parse_args(argv)
    out = asyncio.run(run(args))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n")
    else:
        write_results("followups", out)
    print(json.dumps({k: out[k] for k in ("n", "model", "correct", "execution_accuracy")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
