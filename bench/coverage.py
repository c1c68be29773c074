"""How much of an evaluation set the training data shows at all: for each gold statement, whether some generated
statement has the same form once values are masked (`exact`), or the same form up to its presentation (`loose`:
ORDER BY, LIMIT, DISTINCT and column aliases ignored). With an `askdb eval --out` report, EX is split by coverage.

    .venv/bin/python bench/coverage.py --data profiles/course/samples.jsonl --questions finetune/eval/course_dev.jsonl \
        --report bench/results/eval-dev-20261206.json

With --execute the check is by answer rather than by text (`answerable`): some generated statement that reads the
same tables, given the gold statement's values in place of its own, returns the gold answer (EX). That is the share
of the set a model could answer by choosing the right generated statement and filling in the question's values.

A model that copies the forms it was shown cannot do better than the covered share; when it scores well below that
share on covered questions, the model is the limit, and on uncovered ones the data is.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
from pathlib import Path

import sqlglot
from sqlglot import exp

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askdb.config import load_config  # noqa: E402
from askdb.runtime import query_url, resolve_database_url  # noqa: E402
from bench.common import ReportError, read_eval_report, write_results  # noqa: E402
from finetune.evaluate import EVAL_LIMITS, EvalItem, read_items, same_answer  # noqa: E402
from finetune.generator.dedupe import sql_form  # noqa: E402
from pipeline.database import open_pool  # noqa: E402
from pipeline.errors import AskdbError, ConfigError  # noqa: E402
from pipeline.executor import ExecLimits, execute  # noqa: E402

# A wrong filling of a template can scan a big join: keep each try short.
TRY_LIMITS = ExecLimits(statement_timeout_ms=2_000, max_rows=10_000, max_result_bytes=20_000_000)


def coverage(data: list[EvalItem], questions: list[EvalItem], failed: set[str] | None = None) -> dict:
    """Covered counts (exact and loose) and, given the questions an eval got wrong, EX inside and outside."""
    exact = {sql_form(r.sql) for r in data}
    loose = {sql_form(r.sql, loose=True) for r in data}
    out: dict = {"n": len(questions), "pairs": len(data), "exact": 0, "loose": 0, "uncovered": []}
    split = {"covered": [0, 0], "uncovered": [0, 0]}  # [right, total] by exact coverage
    for q in questions:
        hit = sql_form(q.sql) in exact
        out["exact"] += hit
        out["loose"] += sql_form(q.sql, loose=True) in loose
        if not hit:
            out["uncovered"].append(q.question)
        if failed is not None:
            cell = split["covered" if hit else "uncovered"]
            cell[0] += q.question not in failed
            cell[1] += 1
    if failed is not None:
        out["ex_covered"] = {"right": split["covered"][0], "n": split["covered"][1]}
        out["ex_uncovered"] = {"right": split["uncovered"][0], "n": split["uncovered"][1]}
    return out


def _parts(sql: str) -> tuple[exp.Expression, tuple] | None:
    """The parsed statement and what a filling must match: its tables and how many text and number values."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return None
    lits = list(tree.find_all(exp.Literal))
    key = (frozenset(t.name for t in tree.find_all(exp.Table)), sum(v.is_string for v in lits),
           sum(not v.is_string for v in lits))
    return tree, key


def fillings(template: exp.Expression, gold: exp.Expression, limit: int = 24):
    """`template` with the gold statement's values put in place of its own, each way they can be assigned."""
    values = list(gold.find_all(exp.Literal))
    strings = [v for v in values if v.is_string]
    numbers = [v for v in values if not v.is_string]
    combos = itertools.product(itertools.permutations(strings), itertools.permutations(numbers))
    for s_order, n_order in itertools.islice(combos, limit):
        out = template.copy()
        s_iter, n_iter = iter(s_order), iter(n_order)
        for node in list(out.find_all(exp.Literal)):
            node.replace((next(s_iter) if node.is_string else next(n_iter)).copy())
        yield out.sql(dialect="postgres")


async def answerable(pool, data: list[EvalItem], questions: list[EvalItem], limits: ExecLimits = TRY_LIMITS, *,
                     subset: bool = False) -> list[bool]:
    """For each question: can some generated statement over the same tables, filled with its values, answer it
    (with `subset`, by sql-eval's rule: extra columns allowed, as make quality scores)?"""
    by_key: dict[tuple, dict[str, exp.Expression]] = {}
    for r in data:
        parts = _parts(r.sql)
        if parts:
            by_key.setdefault(parts[1], {}).setdefault(sql_form(r.sql), parts[0])  # one template per form
    return [await _answered(pool, q, by_key, limits, subset) for q in questions]


async def _answered(pool, q: EvalItem, by_key: dict[tuple, dict[str, exp.Expression]], limits: ExecLimits,
                    subset: bool) -> bool:
    """Whether one filling of one template with the same key returns the gold answer of `q`."""
    parts = _parts(q.sql)
    if parts is None:
        return False
    try:
        gold = await execute(pool, q.sql, EVAL_LIMITS)
    except AskdbError:
        return False
    for template in by_key.get(parts[1], {}).values():
        for sql in fillings(template, parts[0]):
            try:
                if same_answer(q.sql, gold, await execute(pool, sql, limits), subset=subset):
                    return True
            except AskdbError:
                continue
    return False


async def _answerable(url: str, data: list[EvalItem], questions: list[EvalItem], subset: bool) -> list[bool]:
    # As the read-only role, as askdb eval runs model-written SQL.
    async with open_pool(url) as pool:
        return await answerable(pool, data, questions, subset=subset)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="profiles/course/samples.jsonl", help="generated pairs (JSONL)")
    ap.add_argument("--questions", default="finetune/eval/course_dev.jsonl", help="evaluation set (JSONL)")
    ap.add_argument("--report", help="an askdb eval --out report on that set: split EX by coverage")
    ap.add_argument("--execute", action="store_true",
                    help="also check by answer: fill generated statements with each gold statement's values and run them")
    ap.add_argument("--subset", action="store_true", help="with --execute: extra columns allowed (sql-eval's rule)")
    ap.add_argument("--database", help="PostgreSQL URL for --execute (default: config, else the embedded server)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--save", action="store_true", help="also write bench/results/coverage-<time>.json")
    args = ap.parse_args(argv)
    try:
        failed = {f["question"] for f in read_eval_report(args.report)["failures"]} if args.report else None
        data, questions = read_items(args.data), read_items(args.questions)
        result = coverage(data, questions, failed)
        if args.execute:
            cfg = load_config(None)
            ok = asyncio.run(_answerable(query_url(cfg, resolve_database_url(cfg, args.database)), data, questions,
                                         args.subset))
            result["answerable"] = sum(ok)
            result["not_answerable"] = [q.question for q, a in zip(questions, ok) if not a]
            if failed is not None:
                result["ex_answerable"] = {"right": sum(a and q.question not in failed for q, a in zip(questions, ok)),
                                           "n": sum(ok)}
    except (ConfigError, ReportError, AskdbError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.save:
        write_results("coverage", {"data": args.data, "questions": args.questions, **result})
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    n = result["n"]
    print(f"{args.questions}: {n} questions; {args.data}: {result['pairs']} pairs")
    print(f"  same statement form in the data:        {result['exact']:3d} ({result['exact'] / max(n, 1):.0%})")
    print(f"  same form up to order/limit/distinct:   {result['loose']:3d} ({result['loose'] / max(n, 1):.0%})")
    if "answerable" in result:
        a = result["answerable"]
        print(f"  answerable by a generated statement:    {a:3d} ({a / max(n, 1):.0%})")
    for key, label in (("ex_covered", "covered"), ("ex_uncovered", "not covered"), ("ex_answerable", "answerable")):
        if key in result:
            c = result[key]
            print(f"  EX on {label:12s} {c['right']:3d}/{c['n']:<3d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
