"""Load: N questions from U concurrent simulated users through the Pipeline on a real Postgres.

    .venv/bin/python bench/bench_load.py                                  # 200 questions, 20 users, scripted SQL model
    .venv/bin/python bench/bench_load.py --model bundled --questions 40   # the real embedded model (slow on CPU)
    .venv/bin/python bench/bench_load.py --model bundled --questions 40 --model-timeout 900   # capacity, not timeouts

Loads the course data and a read-only role into a scratch database on --admin-url's server, builds the app
through askdb.runtime.open_app (the same composition as `askdb serve`), and drops both at the end.
The scripted model answers each dev-set question with its gold SQL after --delay-ms, so the figures measure the
pipeline, the pool and Postgres under concurrency; `bundled` measures the real thing.
Each user asks, waits for the answer, then asks the next (a closed loop).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from askdb.config import load_config, validate  # noqa: E402
from bench.scratch import course_database  # noqa: E402
from askdb.runtime import guard_policy, open_app, pipeline_settings  # noqa: E402
from bench.common import peak_rss_mb, percentile, summarize, write_results  # noqa: E402
from pipeline.models.base import Completion  # noqa: E402
from pipeline.pipeline import Answer, Pipeline  # noqa: E402
from pipeline.roles import QueryRole  # noqa: E402

DEV_SET = ROOT / "finetune" / "eval" / "course_dev.jsonl"
PASSWORD_ENV = "ASKDB_BENCH_QUERY_PASSWORD"


class GoldModel:
    """A SQL model that writes each dev-set question's gold SQL after a fixed delay (a stand-in for generation)."""

    def __init__(self, gold: dict[str, str], delay_s: float):
        self.name = f"scripted-gold({delay_s * 1000:g} ms)"
        self.gold = gold
        self.delay_s = delay_s

    async def complete(self, messages, *, max_tokens=160, stop=()) -> Completion:
        question = messages[-1].content.rsplit("Question:", 1)[-1].strip().splitlines()[0]
        await asyncio.sleep(self.delay_s)
        sql = self.gold.get(question, "")
        return Completion(sql, len(sql.split()), self.delay_s * 1000)

    async def complete_many(self, batch, *, max_tokens=160, stop=()):
        return list(await asyncio.gather(*(self.complete(m, max_tokens=max_tokens) for m in batch)))

    async def aclose(self) -> None:
        pass


def read_dev_set() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]


def pick_questions(dev: list[dict], n: int, seed: int) -> list[str]:
    """`n` dev-set questions: every one once per round, each round shuffled."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        batch = [d["question"] for d in dev]
        rng.shuffle(batch)
        out.extend(batch)
    return out[:n]


async def run_users(pipeline: Pipeline, questions: list[str], users: int) -> tuple[list[dict], float]:
    """Each user takes the next question, waits for its answer, repeats; returns one record per question."""
    pending = iter(enumerate(questions))
    records: list[dict] = []

    async def user(uid: int) -> None:
        for i, question in pending:
            started = time.perf_counter()
            try:
                ans: Answer = await pipeline.answer(question)
            except Exception as exc:  # noqa: BLE001 - an escaped exception is a lost question: count it, keep going
                records.append({"i": i, "user": uid, "lost": f"{type(exc).__name__}: {exc}",
                                "latency_ms": (time.perf_counter() - started) * 1000})
                continue
            records.append({"i": i, "user": uid, "ok": ans.ok, "error_kind": ans.error_kind, "error": ans.error,
                            "answered": bool(ans.answer.strip()), "attempts": ans.attempts, "rows": len(ans.rows),
                            "answer_source": ans.answer_source, "timings_ms": ans.timings_ms,
                            "latency_ms": (time.perf_counter() - started) * 1000})

    started = time.perf_counter()
    await asyncio.gather(*(user(u) for u in range(users)))
    return records, time.perf_counter() - started


def report(records: list[dict], questions: list[str], wall_s: float) -> dict:
    """The figures: nothing lost, outcomes by kind, latency percentiles, throughput."""
    latencies = [r["latency_ms"] for r in records]
    seen = {r["i"] for r in records}
    outcomes = Counter("ok" if r.get("ok") else (r.get("error_kind") or "lost") for r in records)
    stages = {}
    for stage in ("retrieve", "generate", "check", "execute", "render"):
        values = [r["timings_ms"][stage] for r in records if stage in r.get("timings_ms", {})]
        if values:
            stages[stage] = summarize(values)
    return {
        "questions": len(questions),
        "records": len(records),
        "lost": len(questions) - len(seen) + sum(1 for r in records if "lost" in r),
        "unanswered": sum(1 for r in records if not r.get("answered")),
        "outcomes": dict(outcomes),
        "latency_ms": {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1),
                       "max": round(max(latencies, default=0), 1), "mean": round(sum(latencies) / max(len(latencies), 1), 1)},
        "stage_ms": stages,
        "wall_s": round(wall_s, 2),
        "throughput_per_min": round(len(records) / wall_s * 60, 1) if wall_s else None,
        "peak_rss_mb": peak_rss_mb(),
        "lost_details": [r["lost"] for r in records if "lost" in r][:10],
        "error_examples": {r["error_kind"]: r["error"][:300] for r in records if r.get("error_kind")},
    }


def print_table(title: str, fig: dict) -> None:
    lat = fig["latency_ms"]
    rows = [
        ("questions / answered records", f"{fig['questions']} / {fig['records']}"),
        ("lost (no Answer) / empty answer", f"{fig['lost']} / {fig['unanswered']}"),
        ("outcomes", ", ".join(f"{k}={v}" for k, v in sorted(fig["outcomes"].items()))),
        ("latency p50 / p95 / max (ms)", f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['max']:.0f}"),
        ("throughput (questions/min)", f"{fig['throughput_per_min']}"),
        ("wall time (s)", f"{fig['wall_s']}"),
        ("peak RSS (MiB)", f"{fig['peak_rss_mb']}"),
    ]
    rows += [(f"  {stage} median / p95 (ms)", f"{s['median']} / {s['p95']}") for stage, s in fig["stage_ms"].items()]
    width = max(len(k) for k, _ in rows)
    print(title)
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")


async def main(args) -> int:
    cfg = validate(load_config(args.config))
    run_id = uuid.uuid4().hex[:8]
    name, role = f"askdb_bench_load_{run_id}", QueryRole(
        name=f"askdb_bench_q_{run_id}", password=uuid.uuid4().hex, denied_columns=tuple(cfg.guard.denied_columns),
        connection_limit=max(20, args.pool_size + 4), statement_timeout_ms=cfg.database.statement_timeout_ms)
    os.environ[PASSWORD_ENV] = role.password
    db = dataclasses.replace(cfg.database, query_role=role.name, query_password_env=PASSWORD_ENV,
                             pool_size=args.pool_size or cfg.database.pool_size)
    cfg = cfg.replace(database=db)
    if args.model_timeout:
        cfg = cfg.replace(model=dataclasses.replace(cfg.model, timeout_s=args.model_timeout))
    dev = read_dev_set()
    questions = pick_questions(dev, args.questions, args.seed)
    setup_started = time.perf_counter()
    async with course_database(args.admin_url, name, role=role) as (url, _):
        bundled = args.model == "bundled"
        async with open_app(cfg, database=url, with_model=bundled, adapter=args.adapter) as app:
            setup_s = time.perf_counter() - setup_started
            if bundled:
                pipeline = app.pipeline
                if not args.answer_model:
                    pipeline.settings = dataclasses.replace(pipeline.settings, answer_with_model=False)
            else:
                gold = {d["question"]: d["sql"] for d in dev}
                settings = dataclasses.replace(pipeline_settings(cfg), answer_with_model=False, few_shot_k=0)
                pipeline = Pipeline(sql_model=GoldModel(gold, args.delay_ms / 1000), pool=app.pool, schema=app.schema,
                                    policy=guard_policy(cfg, app.schema), settings=settings, clock=app.today)
            records, wall_s = await run_users(pipeline, questions, args.users)
            model_name = pipeline.sql_model.name
    fig = report(records, questions, wall_s)
    params = {"model": args.model, "model_name": model_name, "questions": args.questions, "users": args.users,
              "pool_size": cfg.database.pool_size, "delay_ms": args.delay_ms if not bundled else None,
              "answer_model": bool(bundled and args.answer_model), "setup_s": round(setup_s, 1),
              "statement_timeout_ms": cfg.database.statement_timeout_ms,
              "model_timeout_s": cfg.model.timeout_s if bundled else None}
    print_table(f"askdb load: {args.questions} questions, {args.users} users, model={model_name}, "
                f"pool={cfg.database.pool_size}", fig)
    path = write_results(f"load-{args.model}", {"params": params, "figures": fig})
    print(f"results: {path.relative_to(ROOT)}")
    return 0 if fig["lost"] == 0 and fig["unanswered"] == 0 else 1


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=("scripted", "bundled"), default="scripted")
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--delay-ms", type=float, default=50.0, help="scripted model: simulated generation time")
    p.add_argument("--answer-model", action="store_true", help="bundled: also phrase answers with the model")
    p.add_argument("--adapter", default=None, help="bundled: LoRA directory ('' = none; default: model.adapter)")
    p.add_argument("--model-timeout", type=float, default=0, help="bundled: model.timeout_s override (0: config)")
    p.add_argument("--pool-size", type=int, default=0, help="0: database.pool_size from the config")
    p.add_argument("--admin-url", default=os.environ.get("ASKDB_BENCH_ADMIN_URL",
                                                         "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--config", default=str(ROOT / "config.yaml"))
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    if args.questions < 1 or args.users < 1:
        p.error("--questions and --users must be positive")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
