"""Orchestration: sample values, build SQL by shape, write questions, verify, dedupe, balance, write.

    askdb generate --database postgresql://postgres@127.0.0.1:5432/askdb_gen --count 500 --sources sampling
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import asyncpg

from pipeline.executor import ExecLimits
from pipeline.guard import GuardPolicy
from pipeline.models.base import TextModel
from pipeline.schema import Schema

from .analyses import ANALYSES
from .dedupe import Seen, load_exclusions
from .followups import followup_candidates, sampled
from .profile import profile_schema
from .questions import write_questions
from .shapes import SHAPES as BASIC_SHAPES
from .shapes import Candidate, Ctx
from .values import sample_values
from .verify import entity_problem, verify_many
from .writer import SampleWriter, Stats, stats_path, write_stats

SOURCES = ("sampling", "llm_questions", "llm_free")
SHAPES = BASIC_SHAPES + ANALYSES
# A set short of the count is still worth training on when it holds this many pairs (or the whole count, if less):
# a small schema simply has fewer different questions in it. `askdb generate` fails only below that.
USABLE_PAIRS = 50
# A shape tried this often without building a single candidate has nothing to work with in this schema.
_BARREN_TRIES = 25
_SHAPE_ERRORS = 3  # a shape that raised this often on a schema is left out for the rest of the run
_DRY_ROUNDS = 8  # batches in a row that add nothing: the schema has given what it has

log = logging.getLogger("askdb.generate")


def usable(kept: int, count: int) -> bool:
    """Whether `kept` pairs make a usable set for a run asked for `count`."""
    return kept >= min(count, USABLE_PAIRS)


@dataclass(frozen=True)
class GenerateSettings:
    count: int = 500
    seed: int = 42
    sources: tuple[str, ...] = ("sampling",)
    llm_fraction: float = 0.1  # share of sampled pairs whose question the model rephrases
    free_fraction: float = 0.1  # share of the count written by the model from scratch (llm_free)
    followup_fraction: float = 0.1  # follow-ups of kept pairs, as a share of the count, made after them
    year_periods: bool = False  # where no table of terms applies, counts and totals within a year of a row's date
    attribute_filters: bool = False  # filters by repeated short text too ('suppliers in Japan')
    phrasings_per_sql: int = 1
    require_rows: bool = True
    max_shape_share: float = 0.1
    exclude: tuple[str, ...] = ("finetune/eval/*.jsonl",)
    concurrency: int = 8
    batch_size: int = 48
    sample_rows: int = 600
    db_label: str = ""
    denied_columns: frozenset[str] = frozenset()
    today: dt.date = field(default_factory=dt.date.today)
    limits: ExecLimits = ExecLimits(statement_timeout_ms=5000, max_rows=50, max_result_bytes=20_000)


@dataclass
class _ShapeBook:
    """How each shape fares on this schema: tries, candidates, errors; which are left out and why."""
    tries: Counter = field(default_factory=Counter)
    made: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)

    def alive(self, stats: Stats) -> list:
        return [s for s in SHAPES if s.__name__ not in stats.skipped_shapes]

    def build(self, shape, ctx: Ctx, rng: random.Random, stats: Stats) -> Candidate | None:
        """The shape's candidate; None when it had no material or raised (counted, and after enough of either the
        shape is left out of this run)."""
        name = shape.__name__
        self.tries[name] += 1
        try:
            cand = shape(ctx, rng)
        except Exception as exc:  # noqa: BLE001 - one shape's bug on one schema must never end the whole run
            self.errors[name] += 1
            stats.rejected[f"shape_error:{name}"] += 1
            log.warning("shape %s failed on this schema: %r", name, exc, exc_info=self.errors[name] == 1)
            if self.errors[name] >= _SHAPE_ERRORS:
                stats.skipped_shapes[name] = f"error: {type(exc).__name__}: {exc}"[:200]
            return None
        if cand is None:
            stats.rejected["no_value_for_shape"] += 1
            if not self.made[name] and self.tries[name] >= _BARREN_TRIES:
                stats.skipped_shapes[name] = "no material"
            return None
        self.made[name] += 1
        return cand


@dataclass
class _Pending:
    cand: Candidate
    question: str
    template: str
    style: str
    source: str = "sampling"
    fn: str = ""  # the shape function, for balancing


async def generate(pool: asyncpg.Pool, schema: Schema, policy: GuardPolicy, settings: GenerateSettings, *,
                   out: str | Path, model: TextModel | None = None,
                   on_progress: Callable[[Stats], None] | None = None) -> Stats:
    """Append verified pairs to `out` until it holds settings.count of them; the run's Stats (also written as JSON)."""
    started = time.perf_counter()
    rng = random.Random(settings.seed)
    visible = schema.without_columns(settings.denied_columns)
    bank = await sample_values(pool, visible, denied=settings.denied_columns, today=settings.today,
                               limit=settings.sample_rows, concurrency=settings.concurrency)
    profile = profile_schema(visible, bank, denied=settings.denied_columns)
    ctx = Ctx(profile, bank, years=settings.year_periods, side=random.Random(settings.seed + 1),
              attributes=settings.attribute_filters)
    known = _known_values(profile, bank)
    seen = Seen()
    load_exclusions(list(settings.exclude), seen)
    stats = Stats()
    shape_use: Counter = Counter()
    use_llm = model is not None and "llm_questions" in settings.sources and settings.llm_fraction > 0
    free_target = round(settings.count * settings.free_fraction) if model is not None and "llm_free" in settings.sources else 0
    sampling = "sampling" in settings.sources or "llm_questions" in settings.sources
    # Follow-ups of kept pairs ('top 5 instead') are made last, as a share of the count.
    followup_target = round(settings.count * settings.followup_fraction) if sampling else 0
    followups_done = 0
    with SampleWriter(out) as writer:
        for row in writer.existing():
            followups_done += bool(row.get("previous"))
            seen.add(row["question"], row["sql"])
            stats.count(row)
            shape_use[row.get("shape", "")] += 1
            for t in row.get("tables", ()):
                ctx.usage[t] += 1
        stats.resumed = stats.kept
        if free_target:
            from .free import free_pairs

            done = stats.sources.get("llm_free", 0)
            await free_pairs(model, pool, visible, policy, settings, seen=seen, stats=stats, writer=writer,
                             rng=rng, known=known, target=max(free_target - done, 0), on_progress=on_progress)
        attempts, budget = 0, max(400, settings.count * 40)
        book, dry = _ShapeBook(), 0
        while (sampling and stats.kept - followups_done < settings.count - followup_target and attempts < budget
               and book.alive(stats)
               and dry < _DRY_ROUNDS):
            batch, attempts = _candidates(ctx, rng, settings, seen, stats, shape_use, known, attempts, book)
            dry += 1
            if not batch:
                continue
            verdicts = await verify_many(pool, [p.cand.sql for p in batch], policy, settings.limits,
                                         require_rows=[settings.require_rows and not p.cand.empty_ok for p in batch],
                                         concurrency=settings.concurrency)
            if use_llm:
                from .paraphrase import rephrase

                await rephrase(model, batch, verdicts, visible, rng, settings.llm_fraction, stats, known)
            rows = _keep(batch, verdicts, settings, seen, stats, shape_use, ctx)
            dry = 0 if rows else dry
            writer.write_batch(rows)
            stats.elapsed_s = time.perf_counter() - started
            if on_progress:
                on_progress(stats)
        want = min(followup_target - followups_done, settings.count - stats.kept)
        if want > 0:
            await _followups(pool, policy, settings, writer, stats, bank, rng, want)
        if stats.kept < settings.count:
            stats.rejected["gave_up_short"] = settings.count - stats.kept
    stats.elapsed_s = time.perf_counter() - started
    write_stats(stats_path(out), stats, {"db": settings.db_label, "seed": settings.seed, "count": settings.count,
                                         "sources": list(settings.sources)})
    return stats


async def _followups(pool: asyncpg.Pool, policy: GuardPolicy, settings: GenerateSettings, writer: SampleWriter,
                     stats: Stats, bank, rng: random.Random, want: int) -> None:
    """Up to `want` follow-ups of the kept pairs, verified and appended."""
    pending = []
    for base in sampled(writer.existing(), want, rng):
        made = followup_candidates(base["question"], base["sql"], bank, rng)
        if made:
            pending.append((base, *rng.choice(made)))
    verdicts = await verify_many(pool, [sql for *_, sql in pending], policy, settings.limits,
                                 require_rows=settings.require_rows, concurrency=settings.concurrency)
    kept = []
    for (base, kind, question, sql), v in zip(pending, verdicts):
        if not v.ok:
            stats.rejected[f"followup_{v.reason}"] += 1
            continue
        row = {"question": question, "sql": sql, "previous": {"question": base["question"], "sql": base["sql"]},
               "shape": f"followup_{kind}", "tables": list(base.get("tables", ())), "source": "followup",
               "db": settings.db_label}
        stats.count(row)
        kept.append(row)
    writer.write_batch(kept)


def _pick_shape(rng: random.Random, shape_use: Counter, settings: GenerateSettings, alive: list):
    cap = max(1, int(settings.max_shape_share * settings.count))
    open_shapes = [s for s in alive if shape_use[s.__name__] < cap] or alive
    weights = [1.0 / (1 + shape_use[s.__name__]) for s in open_shapes]
    return rng.choices(open_shapes, weights)[0]


def _candidates(ctx: Ctx, rng: random.Random, settings: GenerateSettings, seen: Seen, stats: Stats,
                shape_use: Counter, known: frozenset[str], attempts: int,
                book: _ShapeBook) -> tuple[list[_Pending], int]:
    """Up to batch_size new candidates with their template questions; usage counted optimistically."""
    batch: list[_Pending] = []
    batch_sql: set[str] = set()
    tries = 0
    while len(batch) < settings.batch_size and tries < settings.batch_size * 4:
        alive = book.alive(stats)
        if not alive:
            break
        tries += 1
        shape = _pick_shape(rng, shape_use, settings, alive)
        cand = book.build(shape, ctx, rng, stats)
        if cand is None:
            continue  # cheap, and bounded by the dry rounds: not counted against the budget
        attempts += 1
        stats.candidates += 1
        problem = seen.sql_problem(cand.sql)
        if problem is None and cand.sql in batch_sql:
            problem = "duplicate_sql"
        if problem:
            stats.rejected[problem] += 1
            continue
        phrasings = write_questions(cand, rng, settings.phrasings_per_sql)
        good = []
        for ph in phrasings:
            bad = entity_problem(ph.text, cand.sql, relative=cand.relative, known_values=known)
            if bad:
                stats.rejected[f"template_{bad}"] += 1
            else:
                good.append(ph)
        if not good:
            continue
        batch_sql.add(cand.sql)
        shape_use[shape.__name__] += 1
        for t in cand.tables:
            ctx.usage[t] += 1
        batch += [_Pending(cand, ph.text, ph.template, ph.style, "sampling", shape.__name__) for ph in good]
    return batch, attempts


def _keep(batch: list[_Pending], verdicts, settings: GenerateSettings, seen: Seen, stats: Stats,
          shape_use: Counter, ctx: Ctx) -> list[dict]:
    """The verified, non-duplicate pairs of a batch in candidate order (so a fixed seed gives the same file)."""
    rows = []
    for p, v in zip(batch, verdicts):
        if not v.ok or stats.kept >= settings.count:
            if not v.ok:
                stats.rejected[v.reason] += 1
            _release(p, shape_use, ctx)
            continue
        problem = seen.question_problem(p.question)
        if problem:
            stats.rejected[problem] += 1
            _release(p, shape_use, ctx)
            continue
        row = {"question": p.question, "sql": p.cand.sql, "shape": p.cand.shape, "tables": list(p.cand.tables),
               "source": p.source, "db": settings.db_label}
        seen.add(p.question, p.cand.sql)
        stats.count(row, p.template, p.style)
        rows.append(row)
    return rows


def _release(p: _Pending, shape_use: Counter, ctx: Ctx) -> None:
    shape_use[p.fn] -= 1
    for t in p.cand.tables:
        ctx.usage[t] -= 1


def _known_values(profile, bank) -> frozenset[str]:
    """Names and codes from the data that a question could mention (multi-word or with digits)."""
    out = set()
    for t in profile.tables.values():
        for col in t.idents:
            for r in bank.rows(t.name):
                v = r.get(col)
                if isinstance(v, str) and 4 <= len(v) <= 40 and (" " in v.strip() or any(ch.isdigit() for ch in v)):
                    out.add(v.lower())
    return frozenset(out)
