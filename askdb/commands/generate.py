"""askdb generate: execution-verified question/SQL pairs for fine-tuning, from any database."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import sys
from pathlib import Path

from pipeline.database import declared_today, open_pool
from pipeline.errors import ConfigError
from pipeline.executor import ExecLimits
from pipeline.relations import infer_foreign_keys, with_foreign_keys

from ..config import BACKENDS, active_profile
from ..runtime import clock, guard_policy, open_model, read_schema, resolve_database_url
from .common import add_common, config_from


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate verified question/SQL training pairs from the database")
    p.add_argument("--count", type=int, help="pairs the output should hold (default: generate.count)")
    p.add_argument("--out", metavar="PATH", help="JSONL output (default: the profile's samples.jsonl); re-runs resume it")
    p.add_argument("--seed", type=int, help="random seed (default: generate.seed)")
    p.add_argument("--sources", help="comma list of sampling, llm_questions, llm_free (default: generate.sources)")
    p.add_argument("--backend", choices=BACKENDS, help="model backend for the llm sources")
    p.add_argument("--db-name", help="the name written in each pair's db field (default: the profile's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common(p)
    p.set_defaults(func=lambda a: asyncio.run(run(a)))


def settings_from(cfg, args, today: dt.date, label: str):
    """GenerateSettings from config, overridden by the command line."""
    from finetune.generator.run import SOURCES, GenerateSettings

    g = cfg.generate
    sources = tuple(s.strip() for s in (args.sources.split(",") if args.sources else g.sources) if s.strip())
    for s in sources:
        if s not in SOURCES:
            raise ConfigError("--sources" if args.sources else "generate.sources",
                              f"unknown source {s!r} (known: {', '.join(SOURCES)})")
    count = args.count if args.count is not None else g.count
    if count <= 0:
        raise ConfigError("--count" if args.count is not None else "generate.count", f"must be positive, got {count}")
    return GenerateSettings(
        count=count, seed=args.seed if args.seed is not None else g.seed, sources=sources,
        llm_fraction=g.llm_fraction, free_fraction=g.free_fraction, followup_fraction=g.followup_fraction,
        year_periods=g.year_periods, attribute_filters=g.attribute_filters,
        phrasings_per_sql=g.phrasings_per_sql,
        require_rows=g.require_rows, max_shape_share=g.max_shape_share, exclude=tuple(g.exclude),
        concurrency=g.concurrency, batch_size=g.batch_size, db_label=label,
        denied_columns=frozenset(cfg.guard.denied_columns), today=today,
        limits=ExecLimits(cfg.database.statement_timeout_ms, 50, 20_000))


async def run(args: argparse.Namespace) -> int:
    from finetune.generator.run import generate

    cfg = config_from(args)
    url = resolve_database_url(cfg, args.database)
    label = args.db_name or cfg.profile
    settings = settings_from(cfg, args, clock(cfg)(), label)
    out = Path(args.out or active_profile(cfg).samples)
    model = None
    async with open_pool(url, max_size=max(2, settings.concurrency), timeout_s=cfg.database.connect_timeout_s) as pool:
        settings = dataclasses.replace(settings, today=clock(cfg, await declared_today(pool))())
        schema = await read_schema(cfg, pool)
        if not active_profile(cfg).joins:  # a profile not set up yet: infer the joins now (askdb setup records them)
            schema = with_foreign_keys(schema, await infer_foreign_keys(pool, schema))
        if not schema.tables:
            raise ConfigError("database.schema", f"no tables in schema '{cfg.database.schema}' of {label}")
        policy = guard_policy(cfg, schema)
        if {"llm_questions", "llm_free"} & set(settings.sources):
            # The base model phrases questions: a SQL-tuned adapter would answer with SQL.
            model = await open_model(patient_config(cfg), adapter="", backend=args.backend)
        try:
            with _progress(settings.count, enabled=not args.no_progress and sys.stderr.isatty()) as update:
                stats = await generate(pool, schema, policy, settings, out=out, model=model, on_progress=update)
        finally:
            if model is not None:
                await model.aclose()
    d = stats.as_dict()
    print(f"{out}: {d['kept']} pairs ({d['resumed_from_file']} already there), {d['elapsed_s']} s, "
          f"{d['pairs_per_minute']} pairs/min; rejected: {d['rejected']}")
    return _report_short(stats, settings.count)


def _report_short(stats, count: int) -> int:
    """The exit status: 0 for the full count, and for a smaller set that is still usable (a small schema holds fewer
    different questions; finetune.generator.run.usable), after saying which shapes found nothing to ask; 1 for (almost)
    nothing."""
    from finetune.generator.run import USABLE_PAIRS, usable

    if stats.kept >= count:
        return 0
    skipped = ", ".join(f"{name} ({why})" for name, why in sorted(stats.skipped_shapes.items())) or "none"
    print(f"short of {count}: this schema gave {stats.kept} different pairs; shapes left out: {skipped}",
          file=sys.stderr)
    if usable(stats.kept, count):
        return 0
    print(f"fewer than {min(count, USABLE_PAIRS)} pairs: too few to train on", file=sys.stderr)
    return 1


def patient_config(cfg):
    """Batch work, not a chat: a busy CPU may take minutes for a batch of rephrasings."""
    return cfg.replace(model=dataclasses.replace(cfg.model, timeout_s=max(cfg.model.timeout_s, 300)))


class _progress:
    """A rich progress bar of kept pairs with rejections and rate; a no-op when not a terminal."""

    def __init__(self, total: int, *, enabled: bool):
        self.total, self.enabled = total, enabled

    def __enter__(self):
        if not self.enabled:
            return lambda stats: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("generating"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("rejected {task.fields[rejected]}  {task.fields[rate]}/min"),
                            TimeElapsedColumn(), transient=False)
        self.bar.__enter__()
        task = self.bar.add_task("gen", total=self.total, rejected=0, rate="-")

        def update(stats) -> None:
            d = stats.as_dict()
            self.bar.update(task, completed=stats.kept, rejected=sum(stats.rejected.values()),
                            rate=d["pairs_per_minute"] or "-")
        return update

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
