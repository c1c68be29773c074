"""Diagnostic: how far the model gets when its data covers the evaluation set's own statement forms.

For each question of an evaluation set whose statement compares a column with a value the question names
("Who teaches CE 4229 this semester?" -> c.code = 'CE 4229'), write variants with other values of that column in both
the question and the statement ("Who teaches CS 1010 this semester?"; finetune/variants.py, as `askdb feedback
export` does for corrections), keep those that return rows, and never the question itself. Trained on as
corrections (`askdb train --corrections`), they stand for staff having corrected one question of every form: EX on
the set then measures the model with the data limit lifted for those questions.
This uses the evaluation set's forms, so its figure is a diagnostic, never the shipped adapter's.

    .venv/bin/python bench/dev_variants.py --questions finetune/eval/course_dev.jsonl --per-question 3 \
        --out /tmp/dev-variants.jsonl
    .venv/bin/python bench/dev_variants.py --out /tmp/dev-variants.jsonl --report <askdb eval --out report>

`--per-question 3` wrote the 166 variants of 60 questions of the diagnostic in docs/evaluation.md (the file,
bench/results/dev-variants-v2-20261201.jsonl, is in git at 9dcc398).

With --report (and the variants already written to --out) it prints EX on the questions with variants and the rest.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askdb.config import load_config  # noqa: E402
from askdb.runtime import query_url, resolve_database_url  # noqa: E402
from bench.common import ReportError, read_eval_report  # noqa: E402
from finetune.evaluate import EVAL_LIMITS, EvalItem, read_items  # noqa: E402
from finetune.variants import VariantMaker  # noqa: E402
from pipeline.database import open_pool  # noqa: E402
from pipeline.errors import AskdbError, ConfigError  # noqa: E402


async def make_variants(url: str, items: list[EvalItem], per_question: int, seed: int) -> list[dict]:
    """Variants of every item, seeded; none repeats a question of the set or another variant."""
    taken = {i.question.lower() for i in items}
    async with open_pool(url) as pool:
        maker = VariantMaker(pool, seed=seed, limits=EVAL_LIMITS)
        out = []
        for item in items:
            out += [{"question": q, "sql": sql, "of": item.question}
                    for q, sql in await maker.variants(item.question, item.sql, per_question, taken=taken)]
        return out


def split_ex(report: dict, variants: list[dict], questions: list[EvalItem]) -> dict:
    """EX of an eval report on the questions that have variants and on those that have none."""
    failed = {f["question"] for f in report["failures"]}
    varied = {r["of"] for r in variants}
    out = {}
    for label, group in (("with_variants", [q for q in questions if q.question in varied]),
                         ("without_variants", [q for q in questions if q.question not in varied])):
        out[label] = {"right": sum(q.question not in failed for q in group), "n": len(group)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", default="finetune/eval/course_dev.jsonl")
    ap.add_argument("--out", required=True, help="JSONL of variants (question, sql, of)")
    ap.add_argument("--per-question", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--database", help="PostgreSQL URL (default: config, else the embedded server)")
    ap.add_argument("--report", help="an askdb eval --out report on --questions: split its EX by --out's variants")
    args = ap.parse_args(argv)
    if args.report:
        try:
            report = read_eval_report(args.report)
            try:
                variants = [json.loads(line) for line in Path(args.out).read_text().splitlines() if line.strip()]
            except (OSError, ValueError) as exc:
                raise ReportError(f"cannot read the variants {args.out} (write them first, without --report): {exc}")
            split = split_ex(report, variants, read_items(args.questions))
        except (ReportError, ConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for label, cell in split.items():
            print(f"{label.replace('_', ' '):18s} {cell['right']:3d}/{cell['n']}")
        return 0
    try:
        cfg = load_config(None)
        items = read_items(args.questions)
        rows = asyncio.run(make_variants(query_url(cfg, resolve_database_url(cfg, args.database)), items,
                                args.per_question, args.seed))
    except (ConfigError, AskdbError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    covered = len({r["of"] for r in rows})
    print(f"{len(rows)} variants of {covered} of {len(items)} questions -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
