"""askdb setup: a database from nothing to answering in one command, time-boxed and resumable after Ctrl-C.

    askdb setup --database postgresql://me@host/shop --profile shop --minutes 20

Steps: connect as the owner, grant the read-only role, read the schema and infer the joins it does not declare,
generate verified question/SQL pairs, train a LoRA adapter in the time left, write the profile. Each finished step
is recorded in profiles/<name>/setup.json, so running the same command again goes on where it stopped.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from pipeline.database import quote_ident, redact_url
from pipeline.errors import AskdbError, ConfigError

from ..config import Config, cache_dir
from ..profile import Profile, load_profile, save_profile
from ..runtime import clock, database_name, guard_policy, resolve_database_url
from .common import add_common, config_from

# Template pairs verified per minute on 2 CPU cores (askdb setup measured 1,000 to 4,000 on the public databases).
GENERATE_PER_MINUTE = 1000


class SetupFailed(AskdbError):
    """A step of askdb setup could not be done; the message says what the user can do."""

    def __init__(self, step: str, reason: str):
        super().__init__(f"{step}: {reason}")
        self.step, self.reason = step, reason

    def user_message(self) -> str:
        return f"setup stopped at '{self.step}': {self.reason}"


def register(sub) -> None:
    p = sub.add_parser("setup", help="learn a database: role, schema, generated pairs, a trained adapter, a profile")
    p.add_argument("--minutes", type=float, default=20.0,
                   help="time box for the whole setup, training takes what generation leaves (default 20)")
    p.add_argument("--count", type=int, help="question/SQL pairs to generate (default: what fits the time box)")
    p.add_argument("--dry-run", action="store_true", help="say what it would do and how long, change nothing")
    p.add_argument("--restart", action="store_true", help="forget earlier progress of this profile and start over")
    p.add_argument("--yes", action="store_true", help="replace a profile that was set up from another database")
    add_common(p)
    p.set_defaults(func=lambda a: asyncio.run(run(a)))


@dataclass(frozen=True)
class Plan:
    profile: Profile
    url: str
    minutes: float
    count: int

    @property
    def generate_s(self) -> float:
        return 60.0 * self.count / GENERATE_PER_MINUTE

    @property
    def train_s(self) -> float:
        return max(60.0, self.minutes * 60 - self.generate_s - 30)


def plan_for(cfg: Config, args, url: str) -> Plan:
    """What setup will do: the profile (named by --profile, else after the database), the pair count, the box."""
    if args.minutes <= 0:
        raise ConfigError("--minutes", f"must be positive, got {args.minutes}")
    name = args.profile or database_name(url)
    profile = load_profile(cfg.paths.profiles, name)
    # About a fifth of the box generates: enough pairs for retrieval and for the steps training can take.
    count = args.count if args.count is not None else int(min(3000, max(200, args.minutes * 60 * 0.2 / 60
                                                                        * GENERATE_PER_MINUTE)))
    if count <= 0:
        raise ConfigError("--count", f"must be positive, got {count}")
    return Plan(profile, url, args.minutes, count)


async def run(args: argparse.Namespace) -> int:
    cfg = config_from(args)
    url = resolve_database_url(cfg, args.database)
    plan = plan_for(cfg, args, url)
    cfg = cfg.replace(profile=plan.profile.name)
    say = _Say()
    if args.dry_run:
        return await dry_run(cfg, plan)
    state = _State.load(plan.profile.root / "setup.json", restart=args.restart)
    recorded = plan.profile.database
    if recorded and recorded != redact_url(url) and not args.yes and not args.restart:
        raise ConfigError("--profile", f"profile '{plan.profile.name}' was set up from {recorded}, not "
                                       f"{redact_url(url)}; pass --yes to replace it or choose another --profile")
    started = time.monotonic()
    deadline = started + plan.minutes * 60
    say.step(1, "connect", f"{redact_url(url)}")
    size = await _check_database(cfg, url)
    say.done(f"{size.tables} tables, {size.rows:,} rows, {size.declared_joins} declared foreign keys")
    say.step(2, "role", f"read-only role '{cfg.database.query_role}'")
    await _grant(cfg, url)
    say.done("SELECT only, on schema " + cfg.database.schema)
    say.step(3, "schema", "declared and inferred joins")
    profile = await _learn_schema(cfg, plan, url, keep=state.has("schema"))
    state.mark("schema")
    say.done(f"{len(profile.joins)} inferred join{'s' if len(profile.joins) != 1 else ''}"
             + (": " + ", ".join(str(j) for j in profile.joins[:6]) + (" ..." if len(profile.joins) > 6 else "")
                if profile.joins else ""))
    say.step(4, "generate", f"{plan.count} verified question/SQL pairs (about {plan.generate_s / 60:.0f} min)")
    generating = time.monotonic()
    kept = await _generate(cfg, plan, url, say)
    generate_s = time.monotonic() - generating
    state.mark("generate")
    say.done(f"{kept} pairs in {profile.samples}")
    train_s = max(60.0, deadline - time.monotonic() - 15)
    say.step(5, "train", f"LoRA adapter, {train_s / 60:.1f} min box")
    report = await _train(cfg, profile, url, train_s, resume=state.has("train_started"), state=state)
    state.mark("train")
    say.done(f"{report['steps']} steps on {report['n_train']} pairs, best validation loss {report['best_val_loss']}, "
             f"{report['dropped_too_long']} dropped for length, {report['time_s'] / 60:.1f} min")
    say.step(6, "profile", str(profile.file))
    from finetune.dataset import data_sha256

    profile = dataclasses.replace(profile, data_sha256=data_sha256(_training_files(profile)))
    shapes = {json.loads(line).get("shape", "") for line in profile.samples.open() if line.strip()}
    save_profile(profile, setup={
        "minutes": plan.minutes, "tables": size.tables, "rows": size.rows, "declared_joins": size.declared_joins,
        "inferred_joins": len(profile.joins), "pairs": kept, "shapes": len(shapes - {""}),
        "generate_s": round(generate_s, 1), "train_pairs": report["n_train"], "train_steps": report["steps"],
        "dropped_for_length": report["dropped_too_long"], "train_s": report["time_s"],
        "peak_rss_mb": report["peak_rss_mb"], "elapsed_s": round(time.monotonic() - started, 1)})
    state.mark("profile")
    say.done(f"ready after {(time.monotonic() - started) / 60:.1f} min")
    database = f" --database '{redact_url(url)}'" if args.database else ""
    print(f"\nAsk it:          askdb ask --profile {profile.name}{database} \"how many rows are in ...?\"\n"
          f"Start the bot:   askdb serve discord --profile {profile.name}{database}   (or: serve slack)")
    return 0


async def dry_run(cfg: Config, plan: Plan) -> int:
    """Connect, read the schema and the joins it would infer, and print the plan; nothing is written."""
    size = await _check_database(cfg, plan.url)
    joins = await _infer(cfg, plan.url)
    done = plan.profile.samples.exists() and sum(1 for _ in plan.profile.samples.open()) or 0
    print(f"askdb setup would, for profile '{plan.profile.name}' in {plan.profile.root}:")
    print(f"  1. connect to {redact_url(plan.url)}: {size.tables} tables, {size.rows:,} rows, "
          f"{size.declared_joins} declared foreign keys")
    print(f"  2. create or update the read-only role '{cfg.database.query_role}' (SELECT on schema {cfg.database.schema})")
    print(f"  3. record {len(joins)} inferred join(s)" + (": " + ", ".join(map(str, joins)) if joins else ""))
    print(f"  4. generate {plan.count} question/SQL pairs ({done} already there), about "
          f"{max(plan.count - done, 0) / GENERATE_PER_MINUTE:.1f} min")
    print(f"  5. train a LoRA adapter for about {plan.train_s / 60:.1f} min")
    print(f"  6. write {plan.profile.file}")
    print(f"Total: about {plan.minutes:.0f} min on this machine's CPU.")
    return 0


@dataclass(frozen=True)
class DatabaseSize:
    tables: int
    rows: int
    declared_joins: int


async def _check_database(cfg: Config, url: str) -> DatabaseSize:
    """How big the configured schema is, or a SetupFailed that says why it cannot be learned."""
    from .db import connect_owner

    conn = await connect_owner(url)
    try:
        counts = await conn.fetch(
            "SELECT c.relname, greatest(c.reltuples, 0)::bigint AS est FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
            cfg.database.schema)
        if not counts:
            raise SetupFailed("connect", f"schema '{cfg.database.schema}' of {database_name(url)} has no tables; "
                                         "load your data first (or set database.schema in config.yaml)")
        rows = 0
        for r in counts:  # estimates are 0 before the first ANALYZE: count small databases exactly
            rows += r["est"] or await conn.fetchval(
                f"SELECT count(*) FROM {quote_ident(cfg.database.schema)}.{quote_ident(r['relname'])}")
        declared = await conn.fetchval(
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = $1 AND c.contype = 'f'", cfg.database.schema)
        return DatabaseSize(len(counts), rows, declared)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise SetupFailed("connect", f"this user may not read the tables ({exc}); connect as their owner") from exc
    finally:
        await conn.close()


async def _grant(cfg: Config, url: str) -> None:
    from .db import grant_read_only

    try:
        await grant_read_only(cfg, url)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise SetupFailed("role", f"this user cannot create the read-only role ({exc}); connect as a role with "
                                  "CREATEROLE that owns the tables, or ask an administrator to run "
                                  "`askdb db grant` once") from exc


async def _infer(cfg: Config, url: str) -> tuple:
    """The joins the data supports and the schema does not declare (pipeline.relations)."""
    from pipeline.relations import infer_foreign_keys
    from pipeline.schema import introspect_schema

    from .db import connect_owner

    conn = await connect_owner(url)
    try:
        schema = await introspect_schema(conn, schema=cfg.database.schema, samples_per_column=0,
                                         exclude_tables=frozenset(cfg.guard.denied_tables))
        return await infer_foreign_keys(conn, schema)
    finally:
        await conn.close()


async def _learn_schema(cfg: Config, plan: Plan, url: str, *, keep: bool) -> Profile:
    """The profile with its inferred joins; joins recorded by an earlier run (perhaps edited) are kept."""
    profile = load_profile(cfg.paths.profiles, plan.profile.name)
    if not (keep and profile.file.exists()):
        profile = dataclasses.replace(profile, joins=await _infer(cfg, url), database=redact_url(url),
                                      created=profile.created or dt.date.today().isoformat())
        save_profile(profile)
    return profile


async def _generate(cfg: Config, plan: Plan, url: str, say) -> int:
    """Append verified pairs to the profile's samples.jsonl until it holds plan.count (a rerun resumes it)."""
    from finetune.generator.run import USABLE_PAIRS, generate, usable
    from pipeline.database import declared_today, open_pool

    from ..runtime import read_schema
    from .generate import settings_from

    args = argparse.Namespace(sources="sampling", count=plan.count, seed=None)
    async with open_pool(url, max_size=4, timeout_s=cfg.database.connect_timeout_s) as pool:
        today = clock(cfg, await declared_today(pool))()
        settings = settings_from(cfg, args, today, plan.profile.name)
        schema = await read_schema(cfg, pool)
        stats = await generate(pool, schema, guard_policy(cfg, schema), settings, out=plan.profile.samples,
                               on_progress=say.progress(plan.count))
    say.end_progress()
    if not usable(stats.kept, plan.count):
        raise SetupFailed("generate", f"only {stats.kept} pairs could be made from this schema "
                                      f"(at least {min(plan.count, USABLE_PAIRS)} are needed; rejected: "
                                      f"{dict(stats.rejected)}); see docs/generator.md")
    return stats.kept


async def _train(cfg: Config, profile: Profile, url: str, seconds: float, *, resume: bool, state) -> dict:
    """Train the profile's adapter within `seconds` (finetune.train); resumes a checkpoint a Ctrl-C left. Training
    is synchronous CPU work: nothing else runs on the loop meanwhile."""
    from rich.console import Console

    from finetune.dataset import data_sha256
    from finetune.train import train

    from .train import _training_schema, starting_adapter, train_settings, training_pairs

    report_file = profile.adapter / "train_report.json"
    files = _training_files(profile)
    sha = data_sha256(files)
    if report_file.exists() and json.loads(report_file.read_text()).get("data_sha256") == sha and state.has("train"):
        return json.loads(report_file.read_text())
    settings = train_settings(cfg, time_limit_s=seconds)
    pairs = training_pairs(files, repeat=settings.correction_repeat)
    schema, _, linker, today = await _training_schema(cfg, url, link=settings.link_weight > 0)
    checkpoint = profile.adapter / "checkpoints" / "last.pt"
    state.mark("train_started")
    return train(pairs, schema, out_dir=profile.adapter, settings=settings, base_source=cfg.model.source,
                 cache_root=cache_dir(cfg), today=today, budget_tokens=cfg.sql.prompt_token_budget, data_sha=sha,
                 resume=resume and checkpoint.exists(), init_adapter=starting_adapter(cfg, settings),
                 console=Console(stderr=True), linker=linker)


def _training_files(profile: Profile) -> list[Path]:
    """What the adapter learns from: the generated pairs, and the reviewers' corrections once there are some."""
    return [profile.samples] + ([profile.corrections] if profile.corrections.exists() else [])


class _State:
    """Which steps a profile's setup has finished (profiles/<name>/setup.json)."""

    def __init__(self, path: Path, done: list[str]):
        self.path, self.done = path, done

    @classmethod
    def load(cls, path: Path, *, restart: bool) -> "_State":
        done: list[str] = []
        if path.exists() and not restart:
            try:
                done = list(json.loads(path.read_text()).get("done", []))
            except (OSError, ValueError):
                done = []
        return cls(path, done)

    def has(self, step: str) -> bool:
        return step in self.done

    def mark(self, step: str) -> None:
        if step not in self.done:
            self.done.append(step)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"done": self.done}) + "\n")


class _Say:
    """Progress lines: one per step, and for generation a line every few seconds with an ETA."""

    def __init__(self):
        self.started, self._last = time.monotonic(), 0.0

    @property
    def out(self):
        return sys.stderr  # looked up at each line: a test (or a redirect) may have replaced it

    def step(self, n: int, name: str, what: str) -> None:
        self._t = time.monotonic()
        print(f"[{n}/6] {name}: {what}", file=self.out, flush=True)

    def done(self, what: str) -> None:
        print(f"      {what} ({time.monotonic() - self._t:.0f} s)", file=self.out, flush=True)

    def progress(self, total: int):
        t0 = time.monotonic()

        def update(stats) -> None:
            now = time.monotonic()
            if now - self._last < 5 and stats.kept < total:
                return
            self._last = now
            made = stats.kept - stats.resumed
            rate = made / max(now - t0, 1e-6)
            eta = (total - stats.kept) / rate if rate > 0 else float("nan")
            print(f"      {stats.kept}/{total} pairs, {rate * 60:.0f}/min, about {eta / 60:.1f} min left",
                  file=self.out, flush=True)
        return update

    def end_progress(self) -> None:
        self._last = 0.0
