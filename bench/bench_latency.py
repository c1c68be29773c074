"""Latency of the embedded model on this machine: cold start, SQL generation vs the decode floor,
end-to-end stage shares, throughput under concurrency (with and without dynamic batching), guard overhead.

    .venv/bin/python -m bench.bench_latency --questions 8   # about 12 minutes on 2 cores (make bench)
    .venv/bin/python -m bench.bench_latency --questions 8 --quick

Runs on a scratch copy of the course database (dropped afterwards) as the read-only role.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.common import peak_rss_mb, percentile, summarize, write_results  # noqa: E402
from askdb.config import load_config  # noqa: E402
from askdb.runtime import adapter_few_shot_k, retrieval_match  # noqa: E402
from bench.scratch import DEFAULT_ADMIN_URL, course_database  # noqa: E402
from finetune.evaluate import spread_sample  # noqa: E402
from pipeline.database import open_pool  # noqa: E402
from pipeline.guard import GuardPolicy, check_sql  # noqa: E402
from pipeline.models.transformers_backend import TransformersModel  # noqa: E402
from pipeline.pipeline import Pipeline, PipelineSettings  # noqa: E402
from pipeline.prompt import build_sql_prompt  # noqa: E402
from pipeline.retrieval import ExampleStore, MiniLMEmbedder  # noqa: E402
from pipeline.schema import introspect_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "finetune" / "eval" / "course_dev.jsonl"
SAMPLES = ROOT / "profiles" / "course" / "samples.jsonl"
ADAPTER = ROOT / "profiles" / "course" / "adapter"
DENIED = frozenset({"students.email", "enrollments.grade"})
TODAY = dt.date(2026, 11, 24)


def read_dev(n: int) -> list[dict]:
    """`n` dev questions spread over the file, so every shape (and answer length) is represented."""
    return spread_sample([json.loads(line) for line in DEV.read_text().splitlines() if line.strip()], n)


def cold_start(cache_root: Path, repeats: int) -> dict:
    """Load time in a fresh process: first (dequantize + write cache) vs later (from the cache)."""
    code = ("import time,json;from pathlib import Path;from pipeline.models.bundled import load_weights;"
            f"t=time.perf_counter();m=load_weights('bundled',cache_root=Path({str(cache_root)!r}));"
            "print(json.dumps({'load_s':m.load_s,'from_cache':m.from_cache}))")

    def run() -> dict:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        data["process_s"] = time.perf_counter() - started
        return data

    first = run()
    later = [run() for _ in range(repeats)]
    assert not first["from_cache"] and all(r["from_cache"] for r in later)
    cached = summarize([r["load_s"] for r in later], 3)
    return {"first_load_s": round(first["load_s"], 2), "first_process_s": round(first["process_s"], 2),
            "cached_load_s": cached, "cached_process_s": summarize([r["process_s"] for r in later], 2),
            "cached_over_first": round(cached["median"] / first["load_s"], 3)}


def decode_rate(model: TransformersModel, repeats: int = 3) -> dict:
    """Milliseconds per generated token at batch 1 (64 forced tokens minus 1), the physical floor."""
    import torch

    tok, m = model.loaded.tokenizer, model.loaded.model
    enc = tok(["SELECT title FROM courses WHERE"], return_tensors="pt").to(m.device)

    def gen(n: int) -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            m.generate(**enc, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
        return time.perf_counter() - started

    gen(4)
    per_token = [(gen(65) - gen(1)) / 64 * 1000 for _ in range(repeats)]
    return summarize(per_token, 2)


async def sql_latency(pipeline: Pipeline, questions: list[dict], ms_per_token: float) -> dict:
    """Warm per-question SQL generation (+guard+execute, answer off): latency, tokens/s, ratio to the floor,
    and the same split by path: right first time (greedy) vs through candidates/error feedback."""
    lat, tokens, ratios, paths = [], [], [], {"greedy": [], "self_correction": []}
    for q in questions:
        started = time.perf_counter()
        before = pipeline.sql_model.tokens_total
        ans = await pipeline.answer(q["question"])
        lat.append((time.perf_counter() - started) * 1000)
        gen_ms = ans.timings_ms.get("generate", 0.0)  # all attempts, so count the tokens of all attempts too
        n = pipeline.sql_model.tokens_total - before
        tokens.append(n)
        paths["greedy" if ans.attempts <= 1 else "self_correction"].append(lat[-1])
        if n:
            ratios.append(gen_ms / (n * ms_per_token))
    total_tokens, total_s = sum(tokens), sum(lat) / 1000
    return {"latency_ms": summarize(lat, 1), "tokens_per_question": summarize(tokens, 1),
            "tokens_per_s": round(total_tokens / total_s, 1) if total_s else None,
            "floor_ratio": summarize(ratios, 2), "self_corrected": len(paths["self_correction"]), "n": len(questions),
            "by_path_ms": {k: summarize(v, 1) for k, v in paths.items() if v}}


async def end_to_end(pipeline: Pipeline, questions: list[dict]) -> dict:
    """Question -> rendered answer, p50/p95 and each stage's share of the summed time (per-question medians of
    shares would not add up: a question that fails has no render stage)."""
    lat, spent = [], {}
    for q in questions:
        ans = await pipeline.answer(q["question"])
        lat.append(ans.timings_ms.get("total", 0.0))
        for stage in ("retrieve", "generate", "check", "execute", "render"):
            spent[stage] = spent.get(stage, 0.0) + ans.timings_ms.get(stage, 0.0)
    total = sum(lat)
    return {"latency_ms": summarize(lat, 1),
            "stage_share": {k: round(v / total, 3) if total else 0.0 for k, v in spent.items()}}


async def throughput(pipeline: Pipeline, questions: list[dict], level: int, total: int) -> dict:
    """`level` concurrent askers working through `total` questions: questions/minute and p95."""
    queue = [questions[i % len(questions)]["question"] for i in range(total)]
    lat: list[float] = []

    async def asker():
        while queue:
            q = queue.pop()
            started = time.perf_counter()
            await pipeline.answer(q)
            lat.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(asker() for _ in range(level)))
    wall = time.perf_counter() - started
    return {"concurrency": level, "questions": total, "q_per_min": round(total / wall * 60, 1),
            "p50_ms": round(percentile(lat, 50), 1), "p95_ms": round(percentile(lat, 95), 1),
            "batches": pipeline.sql_model.batches_run}


def guard_overhead(policy: GuardPolicy, sqls: list[str], repeats: int = 5) -> dict:
    """Microseconds per check_sql call over the dev set's SQL."""
    per_check = []
    for _ in range(repeats):
        started = time.perf_counter()
        for sql in sqls:
            check_sql(sql, policy)
        per_check.append((time.perf_counter() - started) / len(sqls) * 1e6)
    return {"us_per_check": summarize(per_check, 1), "statements": len(sqls)}


class _CountingModel:
    """Wraps a TransformersModel to count the tokens it generates."""

    def __init__(self, inner: TransformersModel):
        self.inner, self.name, self.tokens_total = inner, inner.name, 0

    @property
    def batches_run(self) -> int:
        return self.inner.batches_run

    async def complete(self, messages, **kw):
        c = await self.inner.complete(messages, **kw)
        self.tokens_total += c.tokens
        return c

    async def complete_many(self, batch, **kw):
        return [await self.complete(m, **kw) for m in batch]

    async def complete_candidates(self, messages, **kw):
        out = await self.inner.complete_candidates(messages, **kw)
        # The beams decode side by side: the sequential steps are those of the longest one.
        self.tokens_total += max((c.tokens for c in out), default=0)
        return out

    async def aclose(self):
        await self.inner.aclose()


async def main(args) -> int:
    questions = read_dev(args.questions)
    cache_root = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="askdb-bench-cache-"))
    report: dict = {"questions": len(questions)}
    print("cold start ...", flush=True)
    report["cold_start"] = cold_start(cache_root / "cold", 2 if args.quick else 3)
    cache_root = cache_root / "cold"  # already holds the dequantized weights
    print(json.dumps(report["cold_start"]), flush=True)
    async with course_database(args.admin_url, "askdb_bench_latency") as (_, query_url):
        async with open_pool(query_url, max_size=8) as pool:
            schema = await introspect_schema(pool)
            policy = GuardPolicy.from_schema(schema, denied_columns=DENIED)
            report["guard"] = guard_overhead(policy, [json.loads(l)["sql"] for l in DEV.read_text().splitlines() if l.strip()])
            print(json.dumps(report["guard"]), flush=True)
            # Retrieved as `askdb ask` retrieves for the shipped adapter (config.yaml, else its train_report.json).
            match = retrieval_match(load_config(ROOT / "config.yaml", env={}), str(ADAPTER))
            store = ExampleStore(ExampleStore.read_jsonl([SAMPLES]), embedder=MiniLMEmbedder.bundled(),
                                 cache_dir=cache_root, match=match)
            variants = [("base+few-shot", None, 3)]
            if (ADAPTER / "adapter_config.json").exists():
                # The adapter is shown as many retrieved examples as it was trained with, as `askdb ask` does.
                variants.append(("fine-tuned", str(ADAPTER), adapter_few_shot_k(str(ADAPTER), 2)))
            base_for_answers = await TransformersModel.load("bundled", cache_root=cache_root)
            report["sql_generation"], report["end_to_end"] = {}, {}
            for label, adapter, k in variants:
                inner = await TransformersModel.load("bundled", cache_root=cache_root, adapter=adapter, max_batch=8)
                try:
                    model = _CountingModel(inner)
                    floor = decode_rate(inner)
                    settings = PipelineSettings(few_shot_k=k, answer_with_model=False)
                    p = Pipeline(sql_model=model, pool=pool, schema=schema, policy=policy, store=store,
                                 settings=settings, clock=lambda: TODAY)
                    # Warm-up: one short generation (threads, allocator); a whole question costs the base model ~45 s.
                    await model.complete(build_sql_prompt(questions[0]["question"], schema, today=TODAY), max_tokens=8)
                    # The base model retries nearly every question (three generations each): fewer of them keep
                    # `make bench` under 30 minutes, and its median is no less clear.
                    asked = questions if adapter else questions[: args.base_questions]
                    r = await sql_latency(p, asked, floor["median"])
                    r["decode_ms_per_token"] = floor
                    report["sql_generation"][label] = r
                    print(label, json.dumps(r), flush=True)
                    if label != variants[-1][0]:
                        continue
                    # End to end for the configuration `askdb ask` serves; the base model's SQL time above already
                    # dominates its total (generation is >99% of it).
                    p_e2e = Pipeline(sql_model=model, answer_model=base_for_answers, pool=pool, schema=schema,
                                     policy=policy, store=store, settings=PipelineSettings(few_shot_k=k),
                                     clock=lambda: TODAY)
                    report["end_to_end"][label] = await end_to_end(p_e2e, questions[: max(3, len(questions) // 2)])
                    print(label, "e2e", json.dumps(report["end_to_end"][label]), flush=True)
                    # One generation per question (no retries): the throughput of the model server itself, which
                    # is what batching changes; retries would only multiply every level's work alike.
                    p = Pipeline(sql_model=model, pool=pool, schema=schema, policy=policy, store=store,
                                 settings=PipelineSettings(few_shot_k=k, answer_with_model=False,
                                                           self_correction_attempts=0, candidates_on_error=0),
                                 clock=lambda: TODAY)
                    report["throughput"] = {}
                    for batching, max_batch in (("batched", 8), ("unbatched", 1)):
                        inner.max_batch = max_batch
                        rows = []
                        for level in ((1, 4) if args.quick else (1, 4, 16)):
                            total = max(level, 3 if level == 1 else 4)
                            rows.append(await throughput(p, questions, level, total))
                            print(batching, json.dumps(rows[-1]), flush=True)
                        report["throughput"][batching] = rows
                    tp = report["throughput"]
                    report["batching_gain_at_max_concurrency"] = round(
                        tp["batched"][-1]["q_per_min"] / tp["unbatched"][-1]["q_per_min"], 2)
                finally:
                    await inner.aclose()
            await base_for_answers.aclose()
    report["peak_rss_mb"] = peak_rss_mb()
    path = write_results("latency", report)
    print(json.dumps(report, indent=2))
    print(f"written to {path}")
    return 0


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, default=16)
    p.add_argument("--admin-url", default=os.environ.get("ASKDB_BENCH_ADMIN_URL", DEFAULT_ADMIN_URL))
    p.add_argument("--cache", help="model cache dir (default: a fresh temp dir)")
    p.add_argument("--base-questions", type=int, default=6, help="questions for the base model's SQL latency")
    p.add_argument("--quick", action="store_true", help="fewer repeats and concurrency levels")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
