"""The embedded backends side by side on the course dev questions: SQL generation and whole answers, one asker and
many at once, cold start, peak memory. Each backend runs in its own process (peak RSS is its own); the ratios are
from the same run.

    .venv/bin/python -m bench.bench_backends --questions 16 --askers 16     # about 10 minutes on 2 cores

Uses the course profile's adapter, on a scratch course database (askdb_bench_backends, dropped afterwards).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import peak_rss_mb, percentile, write_results  # noqa: E402
from bench.scratch import DEFAULT_ADMIN_URL, with_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "finetune" / "eval" / "course_dev.jsonl"
VARIANTS = {  # label: (backend, schema grammar, llama.cpp threads; 0: the default, one per core but one)
    "llamacpp": ("llamacpp", False, 0),  # the default
    "llamacpp+grammar": ("llamacpp", True, 0),
    "llamacpp, 2 threads": ("llamacpp", False, 2),
    "transformers": ("transformers", False, 0),
}
DB_NAME = "askdb_bench_backends"


def questions(n: int) -> list[str]:
    from finetune.evaluate import spread_sample

    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    return [r["question"] for r in spread_sample(rows, n)]


async def measure(variant: str, url: str, n: int, askers: int) -> dict:
    """One variant, in this process: cold start, one asker, then `askers` at once."""
    import dataclasses

    from askdb.config import load_config
    from askdb.runtime import open_app

    backend, grammar, threads = VARIANTS[variant]
    cfg = load_config(ROOT / "config.yaml")
    cfg = dataclasses.replace(cfg, sql=dataclasses.replace(cfg.sql, grammar=grammar, today="2026-11-24"),
                              model=dataclasses.replace(cfg.model, threads=threads))
    started = time.perf_counter()
    async with open_app(cfg, database=url, backend=backend) as app:
        ready_s = time.perf_counter() - started
        asked = questions(n)
        await app.pipeline.answer(asked[0])  # warm: first-call allocations are not the steady state
        one = []
        for q in asked:
            a = await app.pipeline.answer(q)
            one.append({"generate_ms": a.timings_ms.get("generate", 0.0), "total_ms": a.timings_ms.get("total", 0.0),
                        "ok": a.ok, "sql": a.sql})
        crowd_started = time.perf_counter()

        async def timed(q: str) -> float:
            t = time.perf_counter()
            await app.pipeline.answer(q)
            return (time.perf_counter() - t) * 1000

        crowd = await asyncio.gather(*(timed(asked[i % len(asked)]) for i in range(askers)))
        crowd_s = time.perf_counter() - crowd_started
    gen = [r["generate_ms"] for r in one]
    total = [r["total_ms"] for r in one]
    return {
        "variant": variant, "ready_s": round(ready_s, 2), "questions": len(one),
        "answered": sum(r["ok"] for r in one),
        "sql_p50_ms": round(percentile(gen, 50)), "sql_p95_ms": round(percentile(gen, 95)),
        "answer_p50_ms": round(percentile(total, 50)), "answer_p95_ms": round(percentile(total, 95)),
        "askers": askers, "crowd_answer_p50_ms": round(percentile(crowd, 50)),
        "crowd_answer_p95_ms": round(percentile(crowd, 95)),
        "crowd_throughput_qpm": round(askers / crowd_s * 60, 1),
        "peak_rss_mb": round(peak_rss_mb()), "sql": [r["sql"] for r in one],
    }


def cold_start(backend: str, repeats: int = 3) -> float:
    """Seconds from a fresh process to a loaded model (caches warm: the second and later starts), median."""
    code = ("import asyncio,time;from askdb.config import load_config;from askdb.runtime import open_model;"
            "t=time.perf_counter();"
            f"m=asyncio.run(open_model(load_config('config.yaml'),backend={backend!r}));"
            "print(time.perf_counter()-t)")
    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, default=16)
    p.add_argument("--askers", type=int, default=16)
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one variant in this process
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(measure(args.one, args.url, args.questions, args.askers))))
        return
    url = with_database(DEFAULT_ADMIN_URL, DB_NAME)
    for sql in (f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)', f'CREATE DATABASE "{DB_NAME}"'):
        subprocess.run(["psql", DEFAULT_ADMIN_URL, "-qc", sql], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "askdb.cli", "db", "init", "--database", url], cwd=ROOT, check=True,
                   capture_output=True)
    rows = []
    try:
        for variant in args.variants:
            out = subprocess.run([sys.executable, "-m", "bench.bench_backends", "--one", variant, "--url", url,
                                  "--questions", str(args.questions), "--askers", str(args.askers)],
                                 cwd=ROOT, check=True, capture_output=True, text=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["cold_start_s"] = round(cold_start(VARIANTS[variant][0]), 2)
            rows.append(row)
            print({k: v for k, v in row.items() if k != "sql"}, flush=True)
    finally:
        subprocess.run(["psql", DEFAULT_ADMIN_URL, "-qc", f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'],
                       capture_output=True)
    base = next((r for r in rows if r["variant"] == "transformers"), None)
    if base:
        for r in rows:
            r["sql_speedup"] = round(base["sql_p50_ms"] / max(r["sql_p50_ms"], 1), 1)
            r["answer_speedup"] = round(base["answer_p50_ms"] / max(r["answer_p50_ms"], 1), 1)
    path = write_results("backends", {"questions": args.questions, "askers": args.askers, "rows": rows})
    print(f"wrote {path}")
    for r in rows:
        print(f"| {r['variant']} | {r['sql_p50_ms']} / {r['sql_p95_ms']} | {r['answer_p50_ms']} | "
              f"{r['crowd_answer_p50_ms']} | {r['crowd_throughput_qpm']} | {r['cold_start_s']} | {r['peak_rss_mb']} |"
              f" {r.get('sql_speedup', '')} |")


if __name__ == "__main__":
    main()
