"""The benchmark history: one row per run in bench/results/history.jsonl, and that file as one markdown table.

    .venv/bin/python -m bench.history add bench/results/eval-dev-20261206.json   # after `askdb eval --out`
    .venv/bin/python -m bench.history table > docs/benchmark-history.md

A row holds when the run was, the benchmark, the run's name (its file's stem), the commit that recorded it, the
machine and the headline figures. `make bench` adds its runs itself; bench/results/ keeps only the latest file of
each benchmark, so older runs live on as rows here and as files in git.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

from bench.common import RESULTS_DIR

ROOT = Path(__file__).resolve().parents[1]
HISTORY = RESULTS_DIR / "history.jsonl"
UNRECORDED = "not recorded in the file"


def add(paths: list[Path], history: Path = HISTORY) -> int:
    """Append a row for each result file not already in the history; returns how many were added."""
    known = {row["file"] for row in read(history)}
    rows = [r for r in (summarize(p) for p in paths) if r and r["file"] not in known]
    rows.sort(key=lambda r: r["when"])
    with history.open("a") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def read(history: Path = HISTORY) -> list[dict]:
    """Every row, oldest first."""
    if not history.exists():
        return []
    return [json.loads(line) for line in history.read_text().splitlines() if line.strip()]


def summarize(path: Path) -> dict | None:
    """The history row of one result file; None for a file that is no run (data, logs)."""
    path = Path(path)
    if path.suffix != ".json":
        return None
    data = json.loads(path.read_text())
    kind, figures = _figures(path, data)
    if kind is None:
        return None
    rel = str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)
    return {"when": _when(path, data), "benchmark": kind, "run": path.stem, "commit": _commit(path, rel),
            "machine": _machine(data), "figures": figures, "file": rel}


def _figures(path: Path, d: dict) -> tuple[str | None, dict]:
    """(benchmark, headline figures) by what the file holds."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", path.stem) and "runs" in d:
        return "make-bench", {k: r.get("wall_s") for k, r in d["runs"].items()}
    if isinstance(d.get("correct"), dict):  # bench.followups: one figure per way of asking
        return "followups", {"n": d.get("n"), **d["correct"]}
    if "databases" in d and "mean" in d:  # bench.quality
        return "quality", {"subset_ex": d["mean"].get("subset_ex"), "strict_ex": d["mean"].get("strict_ex"),
                           "base_subset_ex": d["mean"].get("base_subset_ex"),
                           "by_database": {r["database"]: r.get("subset_ex") for r in d["databases"]}}
    if "correct" in d and "execution_accuracy" in d:
        m = re.match(r"eval-(dev|check|holdout\d*|northwind[^-]*)", path.stem)
        figs = {"set": m.group(1) if m else None, "correct": d["correct"], "n": d["n"],
                "ex": d["execution_accuracy"], "p50_s": _s(d.get("latency_ms_p50")),
                "p95_s": _s(d.get("latency_ms_p95")), "wall_s": d.get("wall_s")}
        if "subset_accuracy" in d:
            figs["subset_ex"] = d["subset_accuracy"]
        return "eval", figs
    if "time_s" in d and "tokens_per_s" in d:
        return "train", {k: d.get(k) for k in ("n_train", "steps", "time_s", "tokens_per_s", "peak_rss_mb",
                                                "best_val_loss")}
    kind = d.get("benchmark")
    if kind == "latency":
        gen = {label: [_s(r["latency_ms"]["median"]), _s(r["latency_ms"]["p95"])]
               for label, r in d.get("sql_generation", {}).items()}
        e2e = {label: [_s(r["latency_ms"]["median"]), _s(r["latency_ms"]["p95"])]
               for label, r in d.get("end_to_end", {}).items()}
        return kind, {"sql_p50_p95_s": gen, "answer_p50_p95_s": e2e,
                      "first_load_s": d.get("cold_start", {}).get("first_load_s"),
                      "batching_gain": d.get("batching_gain_at_max_concurrency"), "peak_rss_mb": d.get("peak_rss_mb")}
    if kind and kind.startswith("load"):
        f = d.get("figures", {})
        lat = f.get("latency_ms", {})
        return kind, {"questions": f.get("questions"), "lost": f.get("lost"), "p50_ms": lat.get("p50"),
                      "p95_ms": lat.get("p95"), "per_min": f.get("throughput_per_min"),
                      "peak_rss_mb": f.get("peak_rss_mb")}
    if kind == "generate":
        return kind, {k: d.get(k) for k in ("pairs", "total_s", "pairs_per_minute", "distinct_sql", "shapes")}
    if kind == "accuracy":
        return kind, {"n": d.get("n"), "ex": d.get("execution_accuracy")}
    if kind == "coverage":
        return kind, {k: d.get(k) for k in ("n", "pairs", "exact", "loose", "answerable")}
    if kind == "retrieval":
        return kind, {w: {k: r.get(k) for k in ("first_same_tables", "form_retrieved", "form_in_data")}
                      for w, r in d.get("by_weight", {}).items()}
    if kind == "mends":
        return kind, {k: v for k, v in d.items() if isinstance(v, int) and not isinstance(v, bool)}
    if kind == "backends":
        return kind, {r["variant"]: [_s(r.get("sql_p50_ms")), _s(r.get("answer_p50_ms")), r.get("crowd_throughput_qpm")]
                      for r in d.get("rows", [])}
    if kind:
        return kind, {}
    return None, {}


def _s(ms) -> float | None:
    return None if ms is None else round(ms / 1000, 1)


def _when(path: Path, d: dict) -> str:
    """The run's UTC time where the file records it, else the date in its name, else today."""
    m = re.search(r"(\d{8})T(\d{6})Z", str(d.get("when", "")) + " " + path.stem)
    if m:
        return dt.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")
    m = re.search(r"(?<![0-9A-Za-z])(20\d\d)-?(\d\d)-?(\d\d)(?!\d)", path.stem)
    return "-".join(m.groups()) if m else dt.date.today().isoformat()


def _commit(path: Path, rel: str) -> str | None:
    """The commit its name gives (`...-c4360e8-...`), else the one that added the file, else HEAD (a new run)."""
    for word in re.findall(r"(?<=-)[0-9a-f]{7}(?=-|$)", path.stem):
        if _git("rev-parse", "--verify", "--quiet", f"{word}^{{commit}}"):
            return word
    added = _git("log", "--diff-filter=A", "--format=%h", "--", rel).splitlines()
    return added[-1] if added else (_git("rev-parse", "--short", "HEAD") or None)


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _machine(d: dict) -> str:
    m = d.get("machine")
    if not isinstance(m, dict):
        return UNRECORDED
    return f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('ram_gb')} GB RAM, GPU: {m.get('gpu') or 'none'}"


def table(rows: list[dict]) -> str:
    """The history as one markdown table, oldest first."""
    lines = ["| when | benchmark | run | commit | figures |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['when'][:10]} | {r['benchmark']} | {r['run']} | {r['commit'] or ''} | "
                     f"{_cell(r['benchmark'], r['figures'])} |")
    return "\n".join(lines)


def _cell(kind: str, f: dict) -> str:
    """A run's headline figures in words."""
    if kind == "eval":
        cell = f"{f.get('set')}: {f['correct']}/{f['n']} ({f['ex']:.1%})"
        return cell + (f", generation p50 {f['p50_s']} s" if f.get("p50_s") is not None else "")
    if kind == "train":
        return (f"{f.get('n_train')} pairs, {f.get('time_s')} s, {f.get('tokens_per_s')} tok/s, "
                f"peak {f.get('peak_rss_mb')} MiB, val loss {f.get('best_val_loss')}")
    if kind == "latency":
        sql = "; ".join(f"{k} {v[0]}/{v[1]} s" for k, v in f.get("sql_p50_p95_s", {}).items())
        ans = "; ".join(f"{k} {v[0]}/{v[1]} s" for k, v in f.get("answer_p50_p95_s", {}).items())
        return f"SQL p50/p95: {sql}. Answer p50/p95: {ans}. First load {f.get('first_load_s')} s"
    if kind.startswith("load"):
        return (f"{f.get('questions')} questions, {f.get('lost')} lost, "
                f"p50/p95 {f.get('p50_ms')}/{f.get('p95_ms')} ms, {f.get('per_min')}/min")
    if kind == "generate":
        return (f"{f.get('pairs')} pairs in {f.get('total_s')} s ({f.get('pairs_per_minute')}/min), "
                f"{f.get('shapes')} shapes")
    if kind == "accuracy":
        ex = ", ".join(f"{k} {v:.0%}" for k, v in (f.get("ex") or {}).items())
        return f"n={f.get('n')}, first statement: {ex}"
    if kind == "coverage":
        return f"of {f.get('n')}: same form {f.get('exact')}, answerable {f.get('answerable')} ({f.get('pairs')} pairs)"
    if kind == "retrieval":
        return "; ".join(f"weight {w}: gold tables first {r.get('first_same_tables')}, gold form shown "
                         f"{r.get('form_retrieved')}/{r.get('form_in_data')}" for w, r in f.items())
    if kind == "mends":
        return (f"right statements {f.get('right_statements')}: changed {f.get('right_changed')}, "
                f"other answer {f.get('right_broken')}")
    if kind == "make-bench":
        return "wall s: " + ", ".join(f"{k} {v}" for k, v in f.items())
    if kind == "followups":
        return f"of {f.get('n')}: " + ", ".join(f"{k} {v}" for k, v in f.items() if k != "n")
    if kind == "quality":
        by = ", ".join(f"{k} {v:.0%}" for k, v in (f.get("by_database") or {}).items())
        return f"mean subset EX {f['subset_ex']:.1%} (strict {f['strict_ex']:.1%}, base {f['base_subset_ex']:.1%}): {by}"
    if kind == "backends":
        return "SQL p50, answer p50, per min with 16 askers: " + "; ".join(
            f"{k} {v[0]} s, {v[1]} s, {v[2]}" for k, v in f.items())
    return json.dumps(f, ensure_ascii=False).replace("|", "/")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add", help="append a row for each result file")
    a.add_argument("files", nargs="+", type=Path)
    sub.add_parser("table", help="print the history as one markdown table")
    args = p.parse_args(argv)
    if args.cmd == "add":
        print(f"{add(args.files)} rows added to {HISTORY.relative_to(ROOT)}")
    else:
        print(table(read()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
