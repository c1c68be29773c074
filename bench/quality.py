"""`make quality`: how well askdb answers on eight databases, each learned by `askdb setup`, in one table.

    .venv/bin/python -m bench.quality                 # all eight, about an hour on 2 cores
    .venv/bin/python -m bench.quality --db northwind  # one database
    .venv/bin/python -m bench.quality --limit 4       # a smoke run
    .venv/bin/python -m bench.quality --dev --limit 0 # the readable dev sets instead, with the same setups

For each database: load it into a scratch database (once) with the read-only role granted, run
`askdb setup --profile NAME --minutes M` (skipped while the profile's adapter was trained on its current pairs; the
course profile ships with askdb), then `askdb eval --subset` with the adapter and with the base model alone. Writes
bench/results/quality-NAME.json (and -base.json) per database, and bench/results/quality.json and quality.md: per
database strict EX, subset EX (sql-eval's rule), the base model's subset EX and the generation p50; the headline is
the mean over databases.

The default question files are held out (scored, never read). `--dev` asks each database's dev file instead
(course_dev, northwind_dev and the `<db>_dev.jsonl` written for the defog databases), whose failures may be read to
find kinds of error; its reports and tables are named quality-dev-*.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import asyncpg
import yaml

from bench.common import RESULTS_DIR

# Each database's own reports (their failures name held-out questions) stay out of git: the tables are the result.
REPORTS_DIR = RESULTS_DIR / "quality-runs"
from bench.scratch import DEFAULT_ADMIN_URL, with_database

ROOT = Path(__file__).resolve().parents[1]
DB_PREFIX = "askdb_quality_"
PROFILES = ROOT / "profiles"  # askdb's default paths.profiles

# The time box. `askdb eval` on 2 cores, 8 questions in flight, takes 4.4 to 7.6 s of wall time a question (course
# dev: 419 to 723 s for 95, README Benchmarks) after 15 to 50 s loading the model and the examples. With 12 questions
# per database, 8 databases and two models that is about 2 * (8 * 12 * 6 + 8 * 40) s = 30 min, which leaves 30 min for
# `askdb setup` on the seven databases that need it: a 4.3-minute box each (generation takes a fifth of it, training
# most of the rest). Every question (445) would take about 100 min of evaluation alone: `--limit 0`.
BUDGET_MINUTES = 60.0
DEFAULT_LIMIT = 12
EVAL_S_PER_QUESTION = 6.0
EVAL_START_S = 40.0
MIN_SETUP_MINUTES = 3.0  # below it setup's model loading and first pairs leave no time to train


@dataclass(frozen=True)
class Target:
    name: str  # the database's and the profile's name
    source: str | None  # a .sql file under the repository; None: the bundled course data
    questions: tuple[str, ...]  # held-out question files, relative to the repository
    dev: tuple[str, ...]  # question files whose failures may be read
    shipped: bool = False  # the profile ships with askdb: never set up here

    def read_questions(self, limit: int | None, *, dev: bool = False):
        """The question files' items together, `limit` of them spread evenly through all (None: all)."""
        from finetune.evaluate import read_items, spread_sample

        items = [i for path in (self.dev if dev else self.questions) for i in read_items(ROOT / path)]
        return spread_sample(items, limit) if limit else items


def _course_questions() -> tuple[str, ...]:
    holdouts = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "finetune/eval").glob("course_holdout*.jsonl"))
    return ("finetune/eval/course_dev.jsonl", *holdouts)


TARGETS = (
    Target("course", None, _course_questions(), ("finetune/eval/course_dev.jsonl",), shipped=True),
    Target("northwind", "databases/northwind/northwind.sql",
           ("finetune/eval/northwind_dev.jsonl", "finetune/eval/northwind_holdout.jsonl"),
           ("finetune/eval/northwind_dev.jsonl",)),
    *(Target(name, f"databases/defog/{name}.sql", (f"databases/defog/{name}.questions.jsonl",),
             (f"finetune/eval/{name}_dev.jsonl",))
      for name in ("academic", "atis", "geography", "restaurants", "scholar", "yelp")),
)


# --- the scratch databases ----------------------------------------------------------------------

async def ensure_database(admin_url: str, name: str, source: Path | None, role) -> tuple[str, bool]:
    """(owner URL, loaded now) of database `name` holding `source` (None: the course data), `role` granted on it.
    A database that exists with tables is kept; one whose load fails is dropped, so the next run loads it again."""
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(admin_url, name)
    conn = await asyncpg.connect(url)
    loaded = False
    try:
        if not await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"):
            loaded = True
            await _load(conn, source)
        from pipeline.roles import grant_query_role

        await grant_query_role(conn, role)
    except BaseException:
        await conn.close()
        if loaded:
            await drop_database(admin_url, name)
        raise
    await conn.close()
    return url, loaded


async def _load(conn: asyncpg.Connection, source: Path | None) -> None:
    if source is None:
        from askdb.coursedb.seed import load_course_database

        await load_course_database(conn)
        return
    # Plain dumps without COPY: one simple-protocol script, in one transaction so a failure leaves nothing behind.
    async with conn.transaction():
        await conn.execute(source.read_text())
    await conn.execute("ANALYZE")


async def drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- setup and evaluation through the askdb command ---------------------------------------------

def profile_is_current(profiles: Path, name: str) -> bool:
    """Whether profiles/NAME holds a trained adapter for its current pairs: the profile's recorded data_sha256
    (sha256 of samples.jsonl when it was trained, as finetune.dataset.data_sha256 computes it) matches, or, where it
    records none, the adapter exists."""
    root = profiles / name
    if not (root / "adapter" / "adapter_config.json").exists():
        return False
    try:
        recorded = (yaml.safe_load((root / "profile.yaml").read_text()) or {}).get("data_sha256")
    except (OSError, yaml.YAMLError, AttributeError):
        recorded = None
    if not recorded:
        return True
    samples = root / "samples.jsonl"
    return samples.exists() and hashlib.sha256(samples.read_bytes()).hexdigest() == recorded


# Settings that change what `askdb setup` makes: a run that changes one sets up a profile of its own.
RECIPE_SECTIONS = ("generate", "train")


def changes_recipe(settings: Sequence[str]) -> bool:
    """Whether any 'section.key=value' of `settings` changes how the pairs are made or the adapter trained."""
    return any(s.partition(".")[0] in RECIPE_SECTIONS for s in settings)


def variant_profile(target: Target, tag: str) -> str:
    """The profile a variant's setup writes: NAME-TAG, so that it neither reuses the default's adapter (trained on
    other pairs) nor overwrites it, and a rerun of the same variant finds its own setup done. The shipped course
    profile is never set up again."""
    return target.name if target.shipped else f"{target.name}-{tag}"


def askdb(*args: str, timeout_s: float | None = None) -> subprocess.CompletedProcess:
    """Run the askdb command (this interpreter's), its progress on our stderr, its stdout discarded."""
    return subprocess.run([sys.executable, "-m", "askdb.cli", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                          timeout=timeout_s, check=False)


def eval_args(url: str, name: str, questions: Path, out: Path, *, base: bool, config: str | None = None) -> list[str]:
    return ["eval", "--database", url, "--profile", name, "--questions", str(questions), "--subset", "--json",
            "--out", str(out), *(["--no-adapter", "--first-attempt"] if base else []),
            *(["--config", config] if config else [])]
# The base model fails most questions, and each failure costs beam candidates and a self-correction: scored on its
# first statement alone it takes a fraction of the time (the table says so).


def write_questions(items, path: Path) -> Path:
    """The sampled questions as one JSONL file for `askdb eval` (kept beside the reports: what was asked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for i in items:
            row = {"question": i.question, "sql": i.sql, "shape": i.shape, "difficulty": i.difficulty}
            if i.alternatives:
                row["alternatives"] = list(i.alternatives)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def default_minutes(n_questions: int, n_databases: int, n_setups: int, budget_minutes: float = BUDGET_MINUTES) -> float:
    """`askdb setup`'s box per database so that setups and both evaluations fit `budget_minutes`; never under
    MIN_SETUP_MINUTES (then the run takes longer than the budget)."""
    eval_s = 2 * (n_questions * EVAL_S_PER_QUESTION + n_databases * EVAL_START_S)
    left_s = budget_minutes * 60 - eval_s
    return max(MIN_SETUP_MINUTES, round(left_s / max(n_setups, 1) / 60, 1))


def results_tag(tag: str, dev: bool) -> str:
    """What a run's tables and tuned reports are named by: the tag, after 'dev' for the dev sets."""
    return "-".join(filter(None, ("dev" if dev else "", tag)))


def report_path(name: str, tag: str = "", *, base: bool = False, dev: bool = False) -> Path:
    """One database's `askdb eval` report: the tuned model's of run `tag`, or the base model's (one per question set)."""
    if base:
        return REPORTS_DIR / f"quality-{'dev-' if dev else ''}{name}-base.json"
    stem = results_tag(tag, dev)
    return REPORTS_DIR / f"quality-{stem + '-' if stem else ''}{name}.json"


def run_target(target: Target, *, admin_url: str, minutes: float, limit: int | None, role, config: str | None = None,
               tag: str = "", reuse_base: bool = False, own_profile: bool = False, dev: bool = False) -> dict:
    """Load, set up and evaluate one database; a row of the table (with `error` where a step failed). With `config`
    (another config.yaml: a method switched on) the tuned run's report is named quality-<tag>-<db>.json; with
    `own_profile`, it sets up and asks with a profile of its own (variant_profile); with `reuse_base`, the base
    model's report of an earlier run is read instead of scoring it again; with `dev`, the dev files are asked and the
    reports named as report_path says."""
    row: dict = {"database": target.name}
    started = time.monotonic()
    source = ROOT / target.source if target.source else None
    url, loaded = asyncio.run(ensure_database(admin_url, DB_PREFIX + target.name, source, role))
    row["loaded_now"] = loaded
    profile = variant_profile(target, tag) if own_profile else target.name
    if target.shipped or profile_is_current(PROFILES, profile):
        row["setup"] = "shipped" if target.shipped else "cached"
    else:
        t = time.monotonic()
        done = askdb("setup", "--database", url, "--profile", profile, "--minutes", f"{minutes:g}", "--yes",
                     *(["--config", config] if config else []))
        row.update(setup=f"{minutes:g} min", setup_s=round(time.monotonic() - t, 1))
        if done.returncode != 0:
            return {**row, "error": f"askdb setup exited {done.returncode}"}
    items = target.read_questions(limit, dev=dev)
    questions = write_questions(items, REPORTS_DIR / f"quality-{'dev-' if dev else ''}{target.name}.questions.jsonl")
    reports = {}
    for label, base in (("tuned", False), ("base", True)):
        out = report_path(target.name, tag, base=base, dev=dev)
        if base and reuse_base and out.exists():
            reports[label] = json.loads(out.read_text())
            continue
        out.unlink(missing_ok=True)
        t = time.monotonic()
        done = askdb(*eval_args(url, profile, questions, out, base=base, config=config))
        row[f"eval_{label}_s"] = round(time.monotonic() - t, 1)
        if done.returncode != 0 or not out.exists():
            return {**row, "error": f"askdb eval ({label}) exited {done.returncode}"}
        reports[label] = json.loads(out.read_text())
    row.update(table_row(target.name, reports["tuned"], reports["base"]))
    row["wall_s"] = round(time.monotonic() - started, 1)
    return row


# --- the table ----------------------------------------------------------------------------------

def table_row(name: str, tuned: dict, base: dict) -> dict:
    """One database's figures from its two `askdb eval --subset --json` reports."""
    return {"database": name, "n": tuned["n"], "strict_ex": tuned["execution_accuracy"],
            "subset_ex": tuned["subset_execution_accuracy"], "base_strict_ex": base["execution_accuracy"],
            "base_subset_ex": base["subset_execution_accuracy"], "generation_p50_ms": tuned["latency_ms_p50"],
            "unnamed_literal_rate": tuned.get("unnamed_literal_rate"),
            "gold_unnamed_literal_rate": tuned.get("gold_unnamed_literal_rate")}


MEASURES = ("strict_ex", "subset_ex", "base_subset_ex", "generation_p50_ms", "unnamed_literal_rate",
            "gold_unnamed_literal_rate")


def summarize(rows: Sequence[dict]) -> dict:
    """The mean of each measure over the databases that have it (each database counts once, whatever its size)."""
    out: dict = {}
    for m in MEASURES:
        values = [r[m] for r in rows if r.get(m) is not None]
        out[m] = round(statistics.fmean(values), 4) if values else None
    out["databases"] = sum(1 for r in rows if r.get("subset_ex") is not None)
    return out


def render_markdown(rows: Sequence[dict], mean: dict) -> str:
    """The table: a line per database, the mean over databases last."""
    pct = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    ms = lambda v: "-" if v is None else f"{v:,.0f}"  # noqa: E731
    lines = ["| database | questions | strict EX | subset EX | base model subset EX (first attempt) | generation p50 (ms) | "
             "unnamed literal (gold) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    unnamed = lambda r: f"{pct(r.get('unnamed_literal_rate'))} ({pct(r.get('gold_unnamed_literal_rate'))})"  # noqa: E731
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['database']} | - | {r['error']} | | | | |")
            continue
        lines.append(f"| {r['database']} | {r['n']} | {pct(r['strict_ex'])} | {pct(r['subset_ex'])} | "
                     f"{pct(r['base_subset_ex'])} | {ms(r['generation_p50_ms'])} | {unnamed(r)} |")
    lines.append(f"| **mean of {mean['databases']}** | | **{pct(mean['strict_ex'])}** | **{pct(mean['subset_ex'])}** | "
                 f"**{pct(mean['base_subset_ex'])}** | {ms(mean['generation_p50_ms'])} | {unnamed(mean)} |")
    return "\n".join(lines) + "\n"


def save(rows: Sequence[dict], settings: dict, results: Path | None = None, *, tag: str = "") -> tuple[Path, Path]:
    """bench/results/quality.json and quality.md (quality-<tag>.* for a run with a method switched on)."""
    results = results or RESULTS_DIR
    mean = summarize(rows)
    stem = f"quality-{tag}" if tag else "quality"
    results.mkdir(parents=True, exist_ok=True)
    doc = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "commit": _commit(),
           **settings, "mean": mean, "databases": list(rows)}
    (results / f"{stem}.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    md = (f"Quality over {mean['databases']} databases ({doc['date']}, commit {doc['commit']}, setup box "
          f"{settings['minutes']:g} min, {settings['limit'] or 'all'} questions per database)\n\n"
          + render_markdown(rows, mean))
    (results / f"{stem}.md").write_text(md)
    return results / f"{stem}.json", results / f"{stem}.md"


def _table_from_reports(names: Sequence[str], *, tag: str, minutes: float, limit: int | None,
                        dev: bool = False) -> int:
    """quality{-tag}.json/md from the per-database reports already in bench/results."""
    rows = []
    for name in names:
        tuned, base = report_path(name, tag, dev=dev), report_path(name, base=True, dev=dev)
        if tuned.exists() and base.exists():
            rows.append(table_row(name, json.loads(tuned.read_text()), json.loads(base.read_text())))
        else:
            rows.append({"database": name, "error": "no report"})
    if all(r.get("error") for r in rows):
        # The reports stay on the machine that ran them: a table rebuilt elsewhere would replace the results with
        # nothing.
        print(f"no reports of {', '.join(names)} for {tag or 'the default run'} in {REPORTS_DIR}: "
              f"quality{'-' + tag if tag else ''}.json left as it is", file=sys.stderr)
        return 1
    json_path, md_path = save(rows, {"minutes": minutes, "limit": limit, "only": None, "rebuilt": True},
                              tag=results_tag(tag, dev))
    print(md_path.read_text())
    return 0


def variant_config(settings: Sequence[str], out: Path, base: Path = ROOT / "config.yaml") -> Path:
    """`base` with each 'section.key=value' of `settings` changed (the value read as YAML), written to `out`."""
    data = yaml.safe_load(base.read_text()) or {}
    for setting in settings:
        path, sep, value = setting.partition("=")
        keys = path.split(".")
        if not sep or len(keys) < 2 or not all(keys):
            raise ValueError(f"--set {setting!r}: expected SECTION.KEY=VALUE, such as sql.grammar=false")
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    from askdb.config import load_config

    load_config(out)  # an unknown key or a wrong type is said now, not by eight failed setups
    return out


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    names = [t.name for t in TARGETS]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=names, action="append", help="only this database (repeatable; default: all)")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                   help=f"questions per database, spread through its files (default {DEFAULT_LIMIT}; 0: all)")
    p.add_argument("--minutes", type=float, help="askdb setup's time box per database (default: what fits "
                                                 f"{BUDGET_MINUTES:g} minutes for all eight)")
    p.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="superuser URL the scratch databases are made with")
    p.add_argument("--config", help="another config.yaml for setup and the tuned evaluation (a method switched on)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="a setting of config.yaml changed for setup and the tuned evaluation (repeatable; with --tag), "
                        "e.g. --set model.backend=transformers --set sql.grammar=false")
    p.add_argument("--tag", default="", help="name the results quality-TAG*.json (with --config or --set)")
    p.add_argument("--dev", action="store_true",
                   help="ask each database's dev file (readable failures) instead of its held-out questions; "
                        "reports and tables quality-dev-*")
    p.add_argument("--reuse-base", action="store_true", help="read the base model's reports of an earlier run")
    p.add_argument("--seeds", type=_seeds, metavar="S1,S2,...",
                   help="one run per generator seed (generate.seed; with --tag: each run is TAG-sS with a profile of "
                        "its own), then quality-TAG-seeds.md: per database the questions right in each run and "
                        "their mean. A generator change moves the whole set; one run cannot tell it from the draw")
    p.add_argument("--against", metavar="TAG",
                   help="with --seeds: also compare with the runs of --tag TAG at the same seeds "
                        "(quality-NAME-vs-TAG.md: per database the mean change, and whether the method lands)")
    p.add_argument("--table-only", action="store_true",
                   help="run nothing: rebuild the table from the reports in bench/results (of --tag, if given)")
    p.add_argument("--ablate-rules", action="store_true",
                   help="also score each statement mend's worth per database from the tuned reports "
                        "(bench/ablate_rules.py; no model runs) into quality-ablation.md")
    args = p.parse_args(argv)
    if args.limit < 0 or (args.minutes is not None and args.minutes <= 0):
        p.error("--limit must be 0 or more and --minutes positive")
    if (args.set or args.seeds) and (not args.tag or args.config):
        p.error("--set and --seeds need --tag (the results are named by it) and replace --config")
    if args.against and not args.seeds:
        p.error("--against compares runs over seeds: give --seeds too")
    if args.dev and (args.seeds or args.ablate_rules):
        p.error("--dev scores one run on the dev sets; --seeds and --ablate-rules read the held-out runs")
    if args.seeds and args.ablate_rules:
        p.error("--ablate-rules scores one run's reports; name one seed with --set generate.seed=S instead of --seeds")
    runs = [(f"{args.tag}-s{seed}", [*args.set, f"generate.seed={seed}"]) for seed in args.seeds] if args.seeds \
        else [(args.tag, args.set)]
    configs = {}
    for tag, settings in runs:
        try:
            configs[tag] = (str(variant_config(settings, REPORTS_DIR / f"config-{tag}.yaml")) if settings
                            else args.config)
        except ValueError as exc:
            p.error(str(exc))
    limit = args.limit or None
    # The box is the same whichever databases run, so a one-database run is comparable with a full one.
    n_questions = sum(len(t.read_questions(limit)) for t in TARGETS)
    minutes = args.minutes or default_minutes(n_questions, len(TARGETS), sum(not t.shipped for t in TARGETS))

    if args.table_only:
        code = 0
        for tag, _ in runs:
            code |= _table_from_reports(names if not args.db else args.db, tag=tag, minutes=minutes, limit=limit,
                                        dev=args.dev)
        if args.seeds:
            print(save_seeds(args.tag, args.seeds).read_text())
        if args.against:
            print(compare_seeds(args.tag, args.against, args.seeds).read_text())
        if args.ablate_rules:
            ablate(args, [t for t in TARGETS if not args.db or t.name in args.db], limit)
        return code
    from askdb.commands.db import query_role
    from askdb.config import load_config, validate

    role = query_role(validate(load_config(None)))
    targets = [t for t in TARGETS if not args.db or t.name in args.db]
    print(f"quality: {', '.join(t.name for t in targets)}; setup box {minutes:g} min, "
          f"{limit or 'all'} questions per database", file=sys.stderr)
    failed = False
    for tag, settings in runs:
        rows = []
        for target in targets:
            print(f"== {target.name}{f' ({tag})' if tag else ''}", file=sys.stderr, flush=True)
            rows.append(run_target(target, admin_url=args.admin_url, minutes=minutes, limit=limit, role=role,
                                   config=configs[tag], tag=tag, reuse_base=args.reuse_base,
                                   own_profile=changes_recipe(settings), dev=args.dev))
        json_path, md_path = save(rows, {"minutes": minutes, "limit": limit, "only": args.db, "config": configs[tag],
                                         "dev": args.dev}, tag=results_tag(tag, args.dev))
        print(md_path.read_text())
        print(f"wrote {json_path} and {md_path}", file=sys.stderr)
        failed = failed or any(r.get("error") for r in rows)
    if args.seeds:
        print(save_seeds(args.tag, args.seeds).read_text())
    if args.against:
        print(compare_seeds(args.tag, args.against, args.seeds).read_text())
    if args.ablate_rules:
        ablate(args, targets, limit)
    return 1 if failed else 0


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds such as 42,7,11, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"a seed is named twice in {text!r}")
    return seeds


def _seed_runs(tag: str, seeds: Sequence[int], results: Path) -> tuple[dict, list[str], dict]:
    """The runs' quality-TAG-sS.json that exist (seed -> report), their databases, and (seed, database) -> questions
    right (subset EX)."""
    runs = {seed: json.loads((results / f"quality-{tag}-s{seed}.json").read_text()) for seed in seeds
            if (results / f"quality-{tag}-s{seed}.json").exists()}
    names = list(dict.fromkeys(r["database"] for doc in runs.values() for r in doc["databases"]))
    right = {(seed, r["database"]): round(r["subset_ex"] * r["n"]) for seed, doc in runs.items()
             for r in doc["databases"] if r.get("subset_ex") is not None}
    return runs, names, right


def save_seeds(tag: str, seeds: Sequence[int], results: Path | None = None) -> Path:
    """quality-TAG-seeds.md from the runs' quality-TAG-sS.json: per database the questions right (subset EX) in each
    run and their mean, and the mean over databases of each run."""
    results = results or RESULTS_DIR
    runs, names, right = _seed_runs(tag, seeds, results)
    lines = [f"Questions right (subset EX) per generator seed, `--tag {tag} --seeds {','.join(map(str, seeds))}`\n",
             "| database | " + " | ".join(f"seed {s}" for s in runs) + " | mean |",
             "|---|" + "---:|" * (len(runs) + 1)]
    for name in names:
        got = [right.get((seed, name)) for seed in runs]
        have = [g for g in got if g is not None]
        mean = f"{statistics.fmean(have):.2f}" if have else "-"
        lines.append(f"| {name} | " + " | ".join("-" if g is None else str(g) for g in got) + f" | {mean} |")
    means = [doc["mean"]["subset_ex"] for doc in runs.values()]
    lines.append("| **mean subset EX** | " + " | ".join("-" if m is None else f"{m:.1%}" for m in means) + " | "
                 + (f"**{statistics.fmean([m for m in means if m is not None]):.1%}**" if any(
                     m is not None for m in means) else "-") + " |")
    out = results / f"quality-{tag}-seeds.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def compare_seeds(tag: str, baseline: str, seeds: Sequence[int], results: Path | None = None) -> Path:
    """quality-TAG-vs-BASELINE.md: per database the mean questions right over the seeds both have run, and the
    verdict by the project's rule: a method lands when the mean over those databases rises and no database loses
    more than one question (here: on average over the seeds)."""
    results = results or RESULTS_DIR
    _, names, right = _seed_runs(tag, seeds, results)
    _, base_names, base_right = _seed_runs(baseline, seeds, results)
    lines = [f"`--tag {tag}` against `--tag {baseline}`, questions right (subset EX) averaged over the seeds both ran\n",
             f"| database | seeds | {baseline} | {tag} | change |", "|---|---|---:|---:|---:|"]
    changes = []
    for name in [n for n in names if n in base_names]:
        both = [s for s in seeds if (s, name) in right and (s, name) in base_right]
        if not both:
            continue
        was, now = (statistics.fmean(got[(s, name)] for s in both) for got in (base_right, right))
        changes.append(now - was)
        lines.append(f"| {name} | {','.join(map(str, both))} | {was:.2f} | {now:.2f} | {now - was:+.2f} |")
    if changes:
        lands = statistics.fmean(changes) > 0 and min(changes) >= -1
        lines.append(f"\nMean change {statistics.fmean(changes):+.2f} questions a database, the largest loss "
                     f"{min(changes):+.2f}: {'lands' if lands else 'does not land'}.")
    else:
        lines.append("\nNo database has runs of both at the same seed.")
    out = results / f"quality-{tag}-vs-{baseline}.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def ablate(args, targets: Sequence[Target], limit: int | None) -> None:
    """quality-ablation{-tag}.md: each mend rule's +helped/-hurt per database, from the tuned reports on disk."""
    from bench.ablate_rules import ablate_report, alternatives_of, render_ablation, totals

    per_db = {}
    for target in targets:
        report = REPORTS_DIR / f"quality-{args.tag + '-' if args.tag else ''}{target.name}.json"
        if not report.exists():
            print(f"ablation: no report for {target.name} ({report})", file=sys.stderr)
            continue
        url = with_database(args.admin_url, DB_PREFIX + target.name)
        per_db[target.name] = asyncio.run(ablate_report(url, json.loads(report.read_text()),
                                                        alternatives_of(target.read_questions(limit))))
    stem = f"quality-ablation{'-' + args.tag if args.tag else ''}"
    md = (f"Mend rules, each left out in turn, over the statements it changed (subset EX; +made right/-made wrong; "
          f"{_commit()}, {limit or 'all'} questions per database)\n\n" + render_ablation(per_db)
          + "\nverdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(totals(per_db).items())) + "\n")
    (RESULTS_DIR / f"{stem}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
