"""askdb feedback list / review / export / prune: turn flagged answers into verified training pairs."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import AsyncIterator

from pipeline.errors import AskdbError, ConfigError, UnsafeSql
from pipeline.feedback_store import FeedbackSettings, FeedbackStore, FlagView, Verifier
from pipeline.render import format_table

from ..config import Config, active_profile, home_dir
from ..runtime import guard_policy, open_app, pipeline_settings, resolve_database_url
from .common import add_common, config_from

COMMANDS = "end the SQL with ';' or an empty line; '?' asks the model, 'r' rejects the flag, 's' skips, 'q' quits"


def register(sub) -> None:
    p = sub.add_parser("feedback", help="review flagged answers and export corrections")
    fsub = p.add_subparsers(dest="feedback_command", required=True)
    q = fsub.add_parser("list", help="list flags")
    q.add_argument("--status", choices=("open", "corrected", "rejected", "all"), default="open")
    add_common(q)
    q.set_defaults(func=lambda a: asyncio.run(list_command(a)))
    q = fsub.add_parser("review", help="review open flags (or one) interactively on stdin")
    q.add_argument("id", nargs="?", type=int, help="review only this flag")
    q.add_argument("--reviewer", default=None, help="name recorded with the decision (default: your login)")
    add_common(q)
    q.set_defaults(func=lambda a: asyncio.run(review_command(a)))
    q = fsub.add_parser("export", help="write accepted corrections as JSONL")
    q.add_argument("--out", help="output file (default: the profile's corrections.jsonl)")
    add_common(q)
    q.set_defaults(func=lambda a: asyncio.run(export_command(a)))
    q = fsub.add_parser("prune", help="delete interactions older than feedback.retention_days")
    add_common(q)
    q.set_defaults(func=lambda a: asyncio.run(prune_command(a)))


def feedback_settings(cfg: Config, *, adapter: str = "") -> FeedbackSettings:
    """The feedback store's settings from config."""
    spool = Path(cfg.feedback.spool_file).expanduser() if cfg.feedback.spool_file else home_dir(cfg) / "feedback-spool.jsonl"
    return FeedbackSettings(spool_path=spool, schema=cfg.feedback.schema, retention_days=cfg.feedback.retention_days,
                            adapter=adapter)


def correction_variants(cfg: Config, pool, *, taken: set[str] | None = None):
    """`(question, sql) -> variants with other values`, run on `pool` (the read-only role); None when turned off."""
    from finetune.variants import VariantMaker

    per = cfg.feedback.variants_per_correction
    if per < 0:
        raise ConfigError("feedback.variants_per_correction", f"must be 0 or more, got {per}")
    if per == 0:
        return None
    maker, taken = VariantMaker(pool), set() if taken is None else taken
    return lambda question, sql: maker.variants(question, sql, per, taken=taken)


@contextlib.asynccontextmanager
async def open_feedback(cfg: Config, owner_url: str, *, verifier=None, examples=None, variants=None,
                        adapter: str = "") -> AsyncIterator[FeedbackStore]:
    """The feedback store on the owner's connection, replaying any spooled writes on entry."""
    async with FeedbackStore(url=owner_url, settings=feedback_settings(cfg, adapter=adapter),
                             verifier=verifier, examples=examples, variants=variants) as store:
        yield store


async def list_command(args) -> int:
    cfg = config_from(args)
    async with open_feedback(cfg, resolve_database_url(cfg, args.database)) as store:
        flags = await store.list_flags(None if args.status == "all" else args.status)
    if not flags:
        print(f"No {'' if args.status == 'all' else args.status + ' '}flags.")
        return 0
    rows = [(f.id, f.status, f.created_at.strftime("%Y-%m-%d %H:%M"), f.platform, _clip(f.question, 60),
             _clip(f.comment or "", 40)) for f in flags]
    print(format_table(("id", "status", "flagged", "platform", "question", "comment"), rows))
    return 0


async def export_command(args) -> int:
    cfg = config_from(args)
    async with open_app(cfg, database=args.database, with_model=False) as app:
        label = cfg.profile
        out = Path(args.out or active_profile(cfg).corrections)
        taken: set[str] = set()
        # Variants run as the read-only role, as every other statement askdb runs on the data.
        variants = correction_variants(cfg, app.pool, taken=taken)
        async with open_feedback(cfg, app.owner_url, variants=variants) as store:
            taken |= {f.question.lower() for f in await store.list_flags("corrected")}  # no variant repeats one
            n, n_variants = await store.export_corrections(out, label)
    also = f" and {n_variants} variant{'s' if n_variants != 1 else ''} with other values" if variants else ""
    print(f"Exported {n} correction{'s' if n != 1 else ''}{also} to {out}")
    return 0


async def prune_command(args) -> int:
    cfg = config_from(args)
    async with open_feedback(cfg, resolve_database_url(cfg, args.database)) as store:
        n = await store.prune()
    print(f"Deleted {n} interaction{'s' if n != 1 else ''} older than {cfg.feedback.retention_days} days.")
    return 0


async def review_command(args, *, stdin=None, stdout=None) -> int:
    cfg = config_from(args)
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    async with open_app(cfg, database=args.database, with_model=False) as app:
        verifier = Verifier(app.pool, guard_policy(cfg, app.schema), pipeline_settings(cfg).limits)
        suggester = ModelSuggester(cfg, app.schema.without_columns(frozenset(cfg.guard.denied_columns)),
                                   cfg.profile, app.today)
        try:
            async with open_feedback(cfg, app.owner_url, verifier=verifier) as store:
                flags = [await store.get_flag(args.id)] if args.id is not None else await store.list_flags("open")
                tally = await review_flags(store, verifier, flags, reviewer=args.reviewer or getpass.getuser(),
                                           stdin=stdin, stdout=stdout, suggest=suggester)
        finally:
            await suggester.aclose()
    print("Reviewed: " + ", ".join(f"{n} {k}" for k, n in tally.items()), file=stdout)
    return 0


class ModelSuggester:
    """Candidate SQL from the configured model, loaded only when a reviewer first asks."""

    def __init__(self, cfg: Config, schema, db_label: str, today=dt.date.today):
        self.cfg, self.schema, self.db_label, self.today = cfg, schema, db_label, today
        self._model = None

    async def __call__(self, flag: FlagView) -> list[str]:
        from pipeline.generate import generate_sql
        from pipeline.retrieval import ExampleStore

        from ..runtime import example_paths, open_model

        if self._model is None:
            self._model = await open_model(self.cfg)
        # Word-overlap retrieval: good enough here and avoids loading the embedder for one review.
        store = ExampleStore(ExampleStore.read_jsonl(example_paths(self.cfg)))
        examples = store.nearest(flag.question, self.cfg.sql.few_shot_k, exclude_question=flag.question)
        hint = ((flag.sql or "")[:300], "a user flagged this answer as wrong" + (f": {flag.comment}" if flag.comment else ""))
        out = []
        for error in (None, hint if flag.sql else None):
            gen = await generate_sql(self._model, flag.question, self.schema, today=self.today(), examples=examples,
                                     budget_tokens=self.cfg.sql.prompt_token_budget,
                                     max_tokens=self.cfg.sql.max_new_tokens, error=error)
            if gen.sql and gen.sql not in out:
                out.append(gen.sql)
        return out

    async def aclose(self) -> None:
        if self._model is not None:
            await self._model.aclose()


async def review_flags(store: FeedbackStore, verifier, flags: list[FlagView], *, reviewer: str,
                       stdin, stdout, suggest=None) -> dict[str, int]:
    """Walk the reviewer through each flag; returns how many were corrected, rejected and skipped."""
    tally = {"corrected": 0, "rejected": 0, "skipped": 0}
    if not flags:
        print("No open flags.", file=stdout)
        return tally
    for flag in flags:
        outcome = await _review_one(store, verifier, flag, reviewer, stdin, stdout, suggest)
        if outcome == "quit":
            break
        tally[outcome] += 1
    return tally


async def _review_one(store, verifier, flag: FlagView, reviewer, stdin, stdout, suggest) -> str:
    say = lambda *a: print(*a, file=stdout, flush=True)  # noqa: E731
    say(f"\nFlag #{flag.id} ({flag.status}), {flag.platform}{' ' + flag.location if flag.location else ''},"
        f" {flag.created_at:%Y-%m-%d %H:%M}")
    say(f"Question: {flag.question}")
    if flag.comment:
        say(f"Comment:  {flag.comment}")
    say(f"Answer:   {flag.answer or '(none)'}")
    say(f"SQL:      {flag.sql or '(none)'}")
    if flag.sql:
        await _show_run(verifier, flag.sql, say)
    candidates: list[str] = []
    while True:
        say(f"Correct SQL ({COMMANDS}):")
        text = await _read_sql(stdin, stdout)
        if text is None:
            return "quit"
        cmd = text.strip().lower()
        if cmd in ("q", "quit"):
            return "quit"
        if cmd in ("s", "skip"):
            return "skipped"
        if cmd in ("r", "reject"):
            await store.reject(flag.id, who=reviewer)
            say(f"Flag #{flag.id} rejected.")
            return "rejected"
        if cmd == "?":
            candidates = await _suggest(suggest, flag, verifier, say)
            continue
        if cmd.isdigit():
            if not 1 <= int(cmd) <= len(candidates):
                say(f"There is no candidate {cmd}; type '?' to ask the model, or write the SQL.")
                continue
            text = candidates[int(cmd) - 1]
        if not cmd:
            continue
        checked = await _show_run(verifier, text, say)
        if checked is None:
            continue
        choice = await _choose(stdin, stdout, say)
        if choice == "a":
            await store.correct(flag.id, sql=checked, who=reviewer)
            say(f"Flag #{flag.id} corrected.")
            return "corrected"
        if choice == "r":
            await store.reject(flag.id, who=reviewer)
            say(f"Flag #{flag.id} rejected.")
            return "rejected"
        if choice in ("s", "q"):
            return "skipped" if choice == "s" else "quit"


async def _choose(stdin, stdout, say) -> str:
    """a, e, r, s or q; anything else asks again, so stray SQL is never read as a decision."""
    words = {"a": "a", "accept": "a", "e": "e", "edit": "e", "r": "r", "reject": "r", "s": "s", "skip": "s",
             "q": "q", "quit": "q"}
    while True:
        say("[a]ccept this SQL, [e]dit, [r]eject the flag, [s]kip, [q]uit?")
        line = await _readline(stdin, stdout, "? ")
        if line is None:
            return "q"
        if line.strip().lower() in words:
            return words[line.strip().lower()]


async def _show_run(verifier, sql: str, say) -> str | None:
    """Run SQL through the guard and the read-only executor and show the outcome; the checked SQL or None."""
    try:
        checked, result = await verifier.run_sql(sql)
    except UnsafeSql as exc:
        say(f"Refused by the guard: {exc.reason}")
        return None
    except AskdbError as exc:
        say(exc.user_message())
        return None
    say(format_table(result.columns, result.rows[:10]))
    more = f", showing 10" if len(result.rows) > 10 else ""
    say(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''}{more}{', cut at the row cap' if result.truncated else ''})")
    return checked.sql


async def _suggest(suggest, flag: FlagView, verifier, say) -> list[str]:
    if suggest is None:
        say("No model is configured for suggestions.")
        return []
    say("Asking the model...")
    try:
        candidates = await suggest(flag)
    except AskdbError as exc:
        say(exc.user_message())
        return []
    if not candidates:
        say("The model wrote no SQL.")
    for n, sql in enumerate(candidates, 1):
        say(f"[{n}] {sql}")
        await _show_run(verifier, sql, say)
    if candidates:
        say("Type a number to use that candidate, or write your own.")
    return candidates


async def _readline(stdin, stdout, prompt: str) -> str | None:
    print(prompt, end="", file=stdout, flush=True)
    line = await asyncio.to_thread(stdin.readline)
    return line if line else None


async def _read_sql(stdin, stdout) -> str | None:
    """Lines up to one ending in ';' or an empty one; a one-word command returns at once; None at EOF."""
    lines: list[str] = []
    while True:
        line = await _readline(stdin, stdout, "sql> " if not lines else "...> ")
        if line is None:
            return "\n".join(lines) if lines else None
        line = line.rstrip()
        if not lines and line.strip().lower() in ("?", "s", "r", "q", "skip", "reject", "quit") or (
                not lines and line.strip().isdigit()):
            return line.strip()
        if not line.strip():
            if lines:
                return "\n".join(lines)
            continue
        lines.append(line)
        if line.endswith(";"):
            return "\n".join(lines).rstrip(";").rstrip()


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
