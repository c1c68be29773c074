"""What the model is shown: how often the examples retrieved for an evaluation question use the gold statement's
tables (the first example, or either of the k), or its very form (values masked, where the data has that form; or
up to ORDER BY, LIMIT, DISTINCT and aliases),
by similarity alone and re-ranked by schema linking (`sql.link_weight`), in the same run. No model is loaded.

    .venv/bin/python bench/bench_retrieval.py --save

With an `askdb eval --out` report taken with the same retrieval, EX is split by what was shown: questions whose gold
form was among the examples, whose form the data holds but was not shown, and whose form it lacks.

    .venv/bin/python bench/bench_retrieval.py --weights 1 --report bench/results/eval-dev-20261206.json

The retrieval is the runtime's: config.yaml's example files, `sql.retrieve_by`, `sql.adapt_examples`, the bundled
MiniLM and a linker read from the database as the read-only role (`askdb db init` first). Also the time per retrieval
(median) either way.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askdb.config import cache_dir, load_config  # noqa: E402
from askdb.runtime import example_paths, query_url, resolve_database_url, visible_schema  # noqa: E402
from bench.common import ReportError, read_eval_report, summarize, write_results  # noqa: E402
from finetune.evaluate import read_items  # noqa: E402
from finetune.generator.dedupe import sql_form  # noqa: E402
from pipeline.database import open_pool  # noqa: E402
from pipeline.errors import AskdbError  # noqa: E402
from pipeline.linking import SchemaLinker, load_linker, sql_links  # noqa: E402
from pipeline.retrieval import ExampleStore, MiniLMEmbedder  # noqa: E402
from pipeline.schema import introspect_schema  # noqa: E402


def tables_of(sql: str) -> frozenset[str]:
    return frozenset(item.removeprefix("tab:") for item in sql_links(sql) if item.startswith("tab:"))


def measure(store: ExampleStore, questions, k: int, failed: set[str] | None = None) -> dict:
    """Counts over `questions` of retrieved examples that share the gold statement's tables or form; with the
    questions an evaluation `failed`, how many were answered in each group (form shown / in the data / absent)."""
    forms = {sql_form(e.sql) for e in store.examples}
    loose = {sql_form(e.sql, loose=True) for e in store.examples}
    out = {"first_same_tables": 0, "any_same_tables": 0, "form_in_data": 0, "form_retrieved": 0,
           "loose_form_in_data": 0, "loose_form_retrieved": 0}
    seconds = []
    split = {"form_shown": [0, 0], "form_not_shown": [0, 0], "form_not_in_data": [0, 0]}  # [answered, n]
    for q in questions:
        t0 = time.perf_counter()
        near = store.nearest(q.question, k)
        seconds.append(time.perf_counter() - t0)
        gold_tables, form = tables_of(q.sql), sql_form(q.sql)
        out["first_same_tables"] += bool(near) and tables_of(near[0].sql) == gold_tables
        out["any_same_tables"] += any(tables_of(e.sql) == gold_tables for e in near)
        shown = any(sql_form(e.sql) == form for e in near)
        if form in forms:
            out["form_in_data"] += 1
            out["form_retrieved"] += shown
        group = split["form_shown" if shown else "form_not_shown" if form in forms else "form_not_in_data"]
        group[0] += failed is not None and q.question not in failed
        group[1] += 1
        form = sql_form(q.sql, loose=True)
        if form in loose:
            out["loose_form_in_data"] += 1
            out["loose_form_retrieved"] += any(sql_form(e.sql, loose=True) == form for e in near)
    out["ms_per_retrieval"] = summarize([s * 1000 for s in seconds])
    if failed is not None:
        out["ex_by_retrieval"] = {name: {"right": right, "n": n} for name, (right, n) in split.items()}
    return out


async def _linker(url: str, cfg) -> SchemaLinker:
    async with open_pool(url) as pool:
        schema = await introspect_schema(pool, schema=cfg.database.schema, samples_per_column=0,
                                         exclude_tables=frozenset(cfg.guard.denied_tables))
        return await load_linker(pool, visible_schema(cfg, schema))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", default="finetune/eval/course_dev.jsonl", help="evaluation set (JSONL)")
    ap.add_argument("--k", type=int, default=2, help="examples per question (the shipped adapter's 2)")
    ap.add_argument("--weights", default="0,0.5,1,2", help="link weights to compare (0: similarity alone)")
    ap.add_argument("--config", help="config file (default: ./config.yaml)")
    ap.add_argument("--database", help="PostgreSQL URL (default: config, else the embedded server)")
    ap.add_argument("--report", help="an askdb eval --out report taken with this retrieval: split EX by what was shown")
    ap.add_argument("--save", action="store_true", help="also write bench/results/retrieval-<time>.json")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(Path(args.config) if args.config else None)
        owner = resolve_database_url(cfg, args.database)
        t0 = time.perf_counter()
        linker = asyncio.run(_linker(query_url(cfg, owner), cfg))
        link_s = time.perf_counter() - t0
        questions = read_items(args.questions)
        failed = {f["question"] for f in read_eval_report(args.report)["failures"]} if args.report else None
    except (AskdbError, OSError, ReportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    examples = ExampleStore.read_jsonl(example_paths(cfg))
    embedder = MiniLMEmbedder.bundled()
    match = cfg.sql.retrieve_by or "both"
    result = {"questions": args.questions, "n": len(questions), "examples": len(examples), "k": args.k,
              "match": match, "linker_load_s": round(link_s, 2), "by_weight": {}}
    for w in (float(x) for x in args.weights.split(",")):
        store = ExampleStore(examples, embedder=embedder, cache_dir=cache_dir(cfg), match=match,
                             linker=linker if w > 0 else None, link_weight=w, adapt=cfg.sql.adapt_examples)
        r = measure(store, questions, args.k, failed)
        result["by_weight"][str(w)] = r
        print(f"link weight {w:<4}: first example on the gold tables {r['first_same_tables']}/{len(questions)}, "
              f"any of {args.k} {r['any_same_tables']}/{len(questions)}, gold form retrieved "
              f"{r['form_retrieved']}/{r['form_in_data']} (of those whose form is in the data), up to its presentation "
              f"{r['loose_form_retrieved']}/{r['loose_form_in_data']}; "
              f"{r['ms_per_retrieval']['median']} ms per retrieval")
        for group, c in r.get("ex_by_retrieval", {}).items():
            print(f"  EX, {group.replace('_', ' ')}: {c['right']}/{c['n']}")
    print(f"linker read from the database in {link_s:.2f} s")
    if args.save:
        print(write_results("retrieval", result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
