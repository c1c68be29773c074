"""`make bench`: every performance figure, one command, one results file and one markdown table.

    .venv/bin/python -m bench.run_all            # under 30 minutes on 2 cores
    .venv/bin/python -m bench.run_all --quick    # a smoke run in a few minutes

Runs each benchmark in its own process (so peak memory is per benchmark), collects their JSON from
bench/results/, writes bench/results/<date>.json and bench/results/<date>.md, and adds a row per run to
bench/results/history.jsonl (not for --quick). Older result files then go with `git rm`: the history keeps them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from bench import history
from bench.common import RESULTS_DIR, machine_info

ROOT = Path(__file__).resolve().parents[1]


def steps(quick: bool) -> list[tuple[str, list[str], str]]:
    """(label, command, results-file prefix)."""
    py = [sys.executable, "-m"]
    return [
        # The embedded backends side by side (llama.cpp with and without the schema grammar, transformers).
        ("backends", py + ["bench.bench_backends", "--questions", "6" if quick else "16", "--askers",
                           "4" if quick else "16"], "backends-"),
        ("latency", py + ["bench.bench_latency", "--questions", "6" if quick else "8"] + (["--quick"] if quick else []),
         "latency-"),
        # Pairs per minute with the default sources (templates + model rephrasing); 200 pairs show the rate.
        ("generate", py + ["bench.bench_generate", "--count", "60" if quick else "200"], "generate-"),
        ("load", py + ["bench.bench_load", "--model", "scripted", "--questions", "60" if quick else "200"],
         "load-scripted-"),
        # Four model configurations on questions spread over every shape; `askdb eval` scores the whole set.
        # Each model's first statement only: the base model's retries (beam candidates, self-correction) would
        # triple its time for the same 0% (the full pipeline's EX is `askdb eval` on the whole set,
        # docs/evaluation.md).
        # What the generated data can answer at all: the ceiling for a model that picks the right statement.
        ("coverage", py + ["bench.coverage", "--execute", "--save"], "coverage-"),
        # What the model is shown: retrieved examples on the gold tables / in the gold form, with and without
        # schema linking (no model; a minute).
        ("retrieval", py + ["bench.bench_retrieval", "--save", "--weights", "0,1"], "retrieval-"),
        # The statement mends must leave right statements alone: every gold and generated pair, mended with its own
        # question and run against itself when changed (no model; seconds).
        ("mends", py + ["bench.mend_offline", "--save"], "mends-"),
        ("accuracy", py + ["bench.bench_accuracy", "--sample", "8" if quick else "16", "--first-attempt"],
         "accuracy-"),
    ]


def newest(prefix: str, since: float) -> Path | None:
    files = [p for p in RESULTS_DIR.glob(f"{prefix}*.json") if p.stat().st_mtime >= since]
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", help="comma-separated subset: backends,latency,generate,load,coverage,retrieval,mends,accuracy")
    args = p.parse_args(argv)
    collected: dict = {"machine": machine_info(), "quick": args.quick, "runs": {}}
    written: list[Path] = []
    for label, cmd, prefix in steps(args.quick):
        if args.only and label not in args.only.split(","):
            continue
        print(f"== {label}: {' '.join(cmd[1:])}", flush=True)
        started = time.time()
        proc = subprocess.run(cmd, cwd=ROOT)
        path = newest(prefix, started)
        written += [path] if path else []
        collected["runs"][label] = {"exit": proc.returncode, "wall_s": round(time.time() - started, 1),
                                    "result": json.loads(path.read_text()) if path else None}
    stamp = dt.date.today().isoformat()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{stamp}.json").write_text(json.dumps(collected, indent=2, default=str) + "\n")
    table = markdown(collected)
    (RESULTS_DIR / f"{stamp}.md").write_text(table + "\n")
    if not args.quick:
        history.add([*written, RESULTS_DIR / f"{stamp}.json"])
    print(table)
    return 0 if all(r["exit"] == 0 for r in collected["runs"].values()) else 1


def _get(d, *keys, default="—"):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def markdown(c: dict) -> str:
    """The markdown table: one row per figure, with the way it was measured."""
    m = c["machine"]
    rows = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, GPU: {m['gpu'] or 'none'}; "
            f"torch {m['versions']['torch']}, transformers {m['versions']['transformers']}.", "",
            "| figure | value |", "|---|---|"]
    backends = _get(c, "runs", "backends", "result")
    if isinstance(backends, dict):
        for r in backends.get("rows", []):
            rows.append(f"| {r['variant']}: SQL p50 / p95, answer p50; {r['askers']} askers answer p50, throughput; "
                        f"cold start; peak RSS | {r['sql_p50_ms']} / {r['sql_p95_ms']} ms, {r['answer_p50_ms']} ms; "
                        f"{r['crowd_answer_p50_ms']} ms, {r['crowd_throughput_qpm']} q/min; {r['cold_start_s']} s; "
                        f"{r['peak_rss_mb']} MiB |")
    lat = _get(c, "runs", "latency", "result")
    if isinstance(lat, dict):
        cs = lat["cold_start"]
        rows.append(f"| model load: first start (dequantize + cache) / cached | {cs['first_load_s']} s / "
                    f"{cs['cached_load_s']['median']} s (ratio {cs['cached_over_first']}) |")
        for label, r in lat.get("sql_generation", {}).items():
            rows.append(f"| SQL generation p50 / p95, {label} | {r['latency_ms']['median']:.0f} / {r['latency_ms']['p95']:.0f} ms "
                        f"({r['tokens_per_s']} tok/s, {r['floor_ratio'].get('median')}x the decode floor of "
                        f"{r['decode_ms_per_token']['median']} ms/token; self-corrected {r['self_corrected']}/{r['n']}) |")
            for path, p in r.get("by_path_ms", {}).items():
                rows.append(f"| SQL generation p50 / p95, {label}, {path.replace('_', '-')} path | {p['median']:.0f} / "
                            f"{p['p95']:.0f} ms (n={p['n']}) |")
        for label, r in lat.get("end_to_end", {}).items():
            shares = ", ".join(f"{k} {v:.0%}" for k, v in r["stage_share"].items() if v)
            rows.append(f"| end-to-end answer p50 / p95, {label} | {r['latency_ms']['median']:.0f} / "
                        f"{r['latency_ms']['p95']:.0f} ms ({shares}) |")
        for batching, levels in lat.get("throughput", {}).items():
            cells = "; ".join(f"{x['concurrency']}: {x['q_per_min']} q/min, p95 {x['p95_ms']:.0f} ms" for x in levels)
            rows.append(f"| throughput {batching}, one generation per question (concurrency: questions/min, p95) "
                        f"| {cells} |")
        if "batching_gain_at_max_concurrency" in lat:
            rows.append(f"| dynamic batching gain at the highest concurrency | {lat['batching_gain_at_max_concurrency']}x |")
        rows.append(f"| guard overhead per check (dev-set SQL) | {lat['guard']['us_per_check']['median']:.0f} µs |")
        rows.append(f"| peak RSS, latency run | {lat['peak_rss_mb']} MiB |")
    gen = _get(c, "runs", "generate", "result")
    if isinstance(gen, dict):
        rows.append(f"| data generation: {gen.get('count', '?')} verified pairs | {gen.get('total_s')} s "
                    f"({gen.get('pairs_per_minute')} pairs/min; distinct SQL {gen.get('distinct_sql')}, joins "
                    f"{gen.get('with_join')}, aggregates {gen.get('with_aggregate')}, shapes {gen.get('shapes')}) |")
    load = _get(c, "runs", "load", "result")
    if isinstance(load, dict):
        f = load["figures"]
        rows.append(f"| load: {f['questions']} questions, {load['params'].get('users', 20)} users (scripted model) | "
                    f"lost {f['lost']}, p50 {f['latency_ms']['p50']} ms, p95 {f['latency_ms']['p95']} ms, "
                    f"{f['throughput_per_min']} q/min, peak RSS {f['peak_rss_mb']} MiB |")
    cov = _get(c, "runs", "coverage", "result")
    if isinstance(cov, dict):
        rows.append(f"| dev questions the generated data covers: same statement form / answerable by a generated "
                    f"statement with the question's values (n={cov['n']}, {cov['pairs']} pairs) | "
                    f"{cov['exact']} / {cov.get('answerable', '—')} |")
    ret = _get(c, "runs", "retrieval", "result")
    if isinstance(ret, dict):
        cells = "; ".join(f"weight {w}: first example on the gold tables {r['first_same_tables']}/{ret['n']}, gold form "
                          f"{r['form_retrieved']}/{r['form_in_data']}, up to presentation {r['loose_form_retrieved']}/"
                          f"{r['loose_form_in_data']}" for w, r in ret["by_weight"].items())
        rows.append(f"| retrieved examples (k={ret['k']}) by similarity alone vs re-ranked by schema linking | {cells} |")
    mends = _get(c, "runs", "mends", "result")
    if isinstance(mends, dict):
        rows.append(f"| right statements (hand-written gold and generated pairs) the mends change / break | "
                    f"{mends['right_changed']} / {mends['right_broken']} of {mends['right_statements']} |")
    acc = _get(c, "runs", "accuracy", "result")
    if isinstance(acc, dict):
        ex = ", ".join(f"{k} {v:.0%}" for k, v in acc["execution_accuracy"].items())
        how = ", first statement, no retries" if acc.get("first_attempt") else ""
        rows.append(f"| execution accuracy on the dev set (n={acc['n']}{how}) | {ex} |")
        t = acc.get("training") or {}
        if t.get("time_s"):
            rows.append(f"| training the shipped adapter | {t['time_s'] / 60:.1f} min, {t.get('tokens_per_s')} tok/s, "
                        f"peak RSS {t.get('peak_rss_mb')} MiB |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
