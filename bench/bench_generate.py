"""Benchmark of `askdb generate`: 500 verified pairs on the course database, time and diversity.

    .venv/bin/python bench/bench_generate.py                       # sampling + LLM rephrasing (embedded model)
    .venv/bin/python bench/bench_generate.py --sources sampling    # template questions only

Loads the course data into a scratch database (askdb_bench) on the server of --admin-url, generates into a
temporary file, prints time, pairs/minute and the diversity figures, and drops the database.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402

from askdb.config import load_config  # noqa: E402
from askdb.commands.generate import patient_config  # noqa: E402
from askdb.runtime import clock, guard_policy, open_model  # noqa: E402
from bench.common import write_results  # noqa: E402
from bench.scratch import course_database  # noqa: E402
from finetune.generator.metrics import diversity  # noqa: E402
from finetune.generator.run import GenerateSettings, generate  # noqa: E402
from pipeline.database import declared_today  # noqa: E402
from pipeline.schema import introspect_schema  # noqa: E402


async def main(args) -> int:
    cfg = load_config(args.config)
    sources = tuple(args.sources.split(","))
    g = cfg.generate
    settings = GenerateSettings(count=args.count, seed=args.seed, sources=sources, llm_fraction=g.llm_fraction,
                                free_fraction=g.free_fraction, max_shape_share=g.max_shape_share,
                                exclude=tuple(g.exclude), db_label="course",
                                denied_columns=frozenset(cfg.guard.denied_columns), today=clock(cfg)())
    out = Path(tempfile.mkdtemp()) / "samples.jsonl"
    model, load_s = None, 0.0
    async with course_database(args.admin_url, args.db) as (url, _):
        try:
            started = time.perf_counter()
            if {"llm_questions", "llm_free"} & set(sources):
                model = await open_model(patient_config(cfg), adapter="", backend="transformers")
                load_s = time.perf_counter() - started
            async with asyncpg.create_pool(url, min_size=1, max_size=8) as pool:
                schema = await introspect_schema(pool)
                settings = dataclasses.replace(settings, today=clock(cfg, await declared_today(pool))())
                stats = await generate(pool, schema, guard_policy(cfg, schema), settings, out=out, model=model)
            total = time.perf_counter() - started
        finally:
            if model is not None:
                await model.aclose()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    s = stats.as_dict()
    report = {"cores": os.cpu_count(), "sources": list(sources), "model_load_s": round(load_s, 1),
              "total_s": round(total, 1), "pairs_per_minute": round(len(rows) / (total / 60), 1),
              **diversity(rows), "max_template_share": s["max_template_share"], "llm": s["llm"],
              "rejected": s["rejected"]}
    print(json.dumps(report, indent=2))
    report["count"] = len(rows)
    write_results("generate", report)
    ok = (len(rows) >= args.count and total <= 600 and report["distinct_sql"] >= 0.95 and report["with_join"] >= 0.4
          and report["with_aggregate"] >= 0.3 and report["shapes"] >= 12 and report["avg_question_words"] >= 6
          and (report["max_template_share"] or 0) <= 0.05 and len(report["tables"]) == len(schema.tables))
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--db", default="askdb_bench")
    p.add_argument("--config", default="config.yaml" if Path("config.yaml").exists() else None)
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sources", default="sampling,llm_questions")
    sys.exit(asyncio.run(main(p.parse_args())))
