"""askdb's own records: every answer given, flags on wrong ones, and reviewers' corrections.

Writes go to a separate schema through the owner's pool; the read-only query role cannot see it.
A flag is durable before `flag()` returns: written to Postgres, or fsynced to a local spool that
is replayed (exactly once, by idempotency key) on startup and after the next successful write.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Protocol, TypeVar

import asyncpg

from .database import CONNECTION_ERRORS, quote_ident, redact_url
from .errors import AskdbError, ConfigError, DatabaseUnavailable
from .executor import ExecLimits, QueryResult, execute, to_plain
from .guard import CheckedSql, GuardPolicy, check_sql
from .migrations import migrate
from .pipeline import Answer
from .prompt import Example

__all__ = ["FeedbackStore", "FeedbackSettings", "FlagView", "FeedbackNotFound", "Verifier", "migrate", "hash_user"]

log = logging.getLogger("askdb.feedback")
T = TypeVar("T")
PREVIEW_ROWS = 5
STATUSES = ("open", "corrected", "rejected")


class FeedbackNotFound(AskdbError):
    """No flag or interaction with that id."""


class SqlRunner(Protocol):
    """Guard + read-only execution of SQL a person wrote (Pipeline and Verifier both qualify)."""

    async def run_sql(self, sql: str) -> tuple[CheckedSql, QueryResult]: ...


@dataclass(frozen=True)
class Verifier:
    """The guard and the read-only executor, for corrections when no Pipeline (and model) is open."""
    pool: asyncpg.Pool
    policy: GuardPolicy
    limits: ExecLimits = ExecLimits()

    async def run_sql(self, sql: str) -> tuple[CheckedSql, QueryResult]:
        checked = check_sql(sql, self.policy)
        return checked, await execute(self.pool, checked.sql, self.limits)


@dataclass(frozen=True)
class FeedbackSettings:
    spool_path: Path
    schema: str = "askdb"
    retention_days: int = 365
    adapter: str = ""  # the LoRA adapter answering, recorded with each interaction
    attempts: int = 3
    backoff_s: float = 0.2


@dataclass(frozen=True)
class FlagView:
    """A flag joined with the interaction it is about."""
    id: int
    interaction_id: int
    status: str
    created_at: dt.datetime
    question: str
    sql: str | None
    answer: str | None
    comment: str | None
    location: str | None
    platform: str
    corrected_sql: str | None
    reviewed_by: str | None
    reviewed_at: dt.datetime | None


def hash_user(user_id: object) -> str:
    """A stable pseudonym for a platform user id (sha256, truncated)."""
    return hashlib.sha256(str(user_id).encode()).hexdigest()[:16]


def temp_id(key: uuid.UUID) -> int:
    """The negative id handed out for a spooled record (52 bits: safe in JSON and button ids)."""
    return -((key.int >> 76) or 1)


class Spool:
    """An append-only JSONL file of writes waiting for Postgres; fsynced, locked against other processes."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        """Append one record and fsync it before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if created:  # the new directory entry must survive a crash too
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def pending(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def open_locked(self):
        """The spool opened and exclusively locked (the caller reads, replays, truncates, closes)."""
        f = open(self.path, "r+", encoding="utf-8")
        fcntl.flock(f, fcntl.LOCK_EX)
        return f

    @staticmethod
    def read(f) -> list[dict]:
        out = []
        for n, line in enumerate(f.read().splitlines(), 1):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a torn last line from a crash mid-append was never acknowledged
                log.warning("feedback spool line %d is unreadable; skipped", n)
        return out

    def set_aside(self, record: dict, reason: str) -> None:
        """Keep a record Postgres refused for good next to the spool, so it is never silently lost."""
        with open(self.path.with_suffix(".failed.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps({**record, "failed": reason}, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


class FeedbackStore:
    """Interactions, flags and corrections; `async with` opens the owner's pool and replays the spool."""

    def __init__(self, *, url: str, settings: FeedbackSettings, verifier: SqlRunner | None = None,
                 examples=None, variants: Callable[[str, str], Awaitable[list[tuple[str, str]]]] | None = None):
        self.url = url
        self.settings = settings
        self.verifier = verifier  # guards and runs corrections on the read-only pool
        self.examples = examples  # a live ExampleStore that learns accepted corrections at once
        # (question, sql) -> copies with other values (finetune.variants), exported and learnt with each correction
        self.variants = variants
        self.spool = Spool(settings.spool_path)
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._t = f"{quote_ident(settings.schema)}."

    async def __aenter__(self) -> "FeedbackStore":
        # min_size=0 connects lazily, so the store starts (and spools) even while Postgres is down.
        self._pool = await asyncpg.create_pool(self.url, min_size=0, max_size=2, timeout=5)
        await self.replay()
        return self

    async def __aexit__(self, *exc) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # -- writes that must not be lost -------------------------------------------------------------

    async def record_interaction(self, *, platform: str, channel: str | None, user_id: object, question: str,
                                 answer: Answer) -> int:
        """Record one question and its answer; returns its id (negative while spooled)."""
        preview = {"columns": list(answer.columns), "rows": [[to_plain(v) for v in r] for r in answer.rows[:PREVIEW_ROWS]]}
        record = {
            "kind": "interaction", "key": str(uuid.uuid4()), "created_at": _now(), "platform": platform,
            "channel": None if channel is None else str(channel), "user_hash": hash_user(user_id),
            "question": question, "sql": answer.sql or None, "row_count": len(answer.rows) if answer.ok else None,
            "rows_preview": json.dumps(preview, default=str, ensure_ascii=False) if answer.ok else None,
            "answer": answer.answer, "latency_ms": answer.timings_ms.get("total"),
            "outcome": "ok" if answer.ok else (answer.error_kind or "error"), "error": answer.error,
            "model": answer.model or None, "adapter": self.settings.adapter or None,
            "mends": json.dumps([{"rule": c.rule, "before": c.before, "after": c.after} for c in answer.mends],
                                ensure_ascii=False) if answer.mends else None,
        }
        return await self._durable(record, self._insert_interaction)

    async def flag(self, interaction_id: int, *, who: object, where: str | None, comment: str | None = None) -> int:
        """Flag an answer as wrong; durable before returning (negative id while spooled)."""
        record = {"kind": "flag", "key": str(uuid.uuid4()), "created_at": _now(), "interaction_id": int(interaction_id),
                  "who": hash_user(who), "where": where, "comment": (comment or "").strip() or None}
        return await self._durable(record, self._insert_flag)

    async def _durable(self, record: dict, insert) -> int:
        # Replay first: this record may refer to one still waiting in the spool.
        if self.spool.pending():
            await self.replay()
        try:
            return await self._write(lambda conn: insert(conn, record))
        except (DatabaseUnavailable, ConfigError) as exc:  # both can be fixed later; the record must wait
            async with self._lock:  # never append while a replay is about to truncate
                await asyncio.to_thread(self.spool.append, record)
            log.warning("feedback not written (%s); %s spooled to %s", exc, record["kind"], self.spool.path)
            return temp_id(uuid.UUID(record["key"]))

    async def replay(self) -> int:
        """Write spooled records to Postgres, oldest first, each exactly once; returns how many were pending."""
        async with self._lock:
            if not self.spool.pending():
                return 0
            f = await asyncio.to_thread(self.spool.open_locked)
            try:
                records = Spool.read(f)
                try:
                    await self._write(lambda conn: self._replay_all(conn, records))
                except (DatabaseUnavailable, ConfigError) as exc:
                    log.warning("feedback spool kept (%d records): %s", len(records), exc)
                    return len(records)
                f.truncate(0)  # everything is in Postgres now (or set aside)
                f.flush()
                os.fsync(f.fileno())
            finally:
                f.close()
            log.info("replayed %d spooled feedback records", len(records))
            return len(records)

    async def _replay_all(self, conn: asyncpg.Connection, records: list[dict]) -> None:
        inserts = {"interaction": self._insert_interaction, "flag": self._insert_flag}
        async with conn.transaction():
            for record in records:
                try:
                    async with conn.transaction():  # a savepoint: one bad record must not block the rest
                        await inserts[record["kind"]](conn, record)
                except (FeedbackNotFound, KeyError, asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
                    log.error("feedback spool record %s refused (%s); kept in %s", record.get("key"), exc,
                              self.spool.path.with_suffix(".failed.jsonl"))
                    await asyncio.to_thread(self.spool.set_aside, record, str(exc))

    async def _insert_interaction(self, conn: asyncpg.Connection, r: dict) -> int:
        key = uuid.UUID(r["key"])
        new_id = await conn.fetchval(
            f"INSERT INTO {self._t}interactions (client_key, temp_id, created_at, platform, channel, user_hash,"
            " question, sql, row_count, rows_preview, answer, latency_ms, outcome, error, model, adapter, mends)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15, $16, $17::jsonb)"
            " ON CONFLICT (client_key) DO NOTHING RETURNING id",
            key, temp_id(key), dt.datetime.fromisoformat(r["created_at"]), r["platform"], r["channel"],
            r["user_hash"], r["question"], r["sql"], r["row_count"], r["rows_preview"], r["answer"],
            r["latency_ms"], r["outcome"], r["error"], r["model"], r["adapter"], r.get("mends"))
        return new_id or await conn.fetchval(f"SELECT id FROM {self._t}interactions WHERE client_key = $1", key)

    async def _insert_flag(self, conn: asyncpg.Connection, r: dict) -> int:
        key = uuid.UUID(r["key"])
        interaction = r["interaction_id"]
        if interaction < 0:  # it was spooled itself; by now it has a real id
            interaction = await conn.fetchval(f"SELECT id FROM {self._t}interactions WHERE temp_id = $1", interaction)
        elif not await conn.fetchval(f"SELECT 1 FROM {self._t}interactions WHERE id = $1", interaction):
            interaction = None
        if interaction is None:
            raise FeedbackNotFound(f"There is no answer #{r['interaction_id']} to flag (it may have expired).")
        new_id = await conn.fetchval(
            f"INSERT INTO {self._t}flags (client_key, interaction_id, created_at, who, location, comment)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_key) DO NOTHING RETURNING id",
            key, interaction, dt.datetime.fromisoformat(r["created_at"]), r["who"], r["where"], r["comment"])
        return new_id or await conn.fetchval(f"SELECT id FROM {self._t}flags WHERE client_key = $1", key)

    async def _write(self, op: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `op` on an owner connection, retrying connection failures with backoff."""
        if self._pool is None:
            raise RuntimeError("FeedbackStore used outside `async with`")
        delay, last = self.settings.backoff_s, None
        for attempt in range(max(1, self.settings.attempts)):
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
            try:
                async with self._pool.acquire(timeout=10) as conn:
                    return await op(conn)
            except CONNECTION_ERRORS as exc:  # TimeoutError is an OSError
                last = exc
            except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError) as exc:
                raise DatabaseUnavailable(f"{redact_url(self.url)}: {exc}") from exc
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError) as exc:
                raise ConfigError("feedback.schema", f"askdb's tables are missing from schema "
                                  f"'{self.settings.schema}' ({exc}); run `askdb db migrate`") from exc
        raise DatabaseUnavailable(f"{redact_url(self.url)}: {last or 'unreachable'}")

    # -- review -----------------------------------------------------------------------------------

    async def correct(self, flag_id: int, *, sql: str, who: str) -> None:
        """Accept `sql` as the right answer to the flagged question, after the guard and a real run."""
        if self.verifier is None:
            raise RuntimeError("FeedbackStore.correct needs a verifier (guard + read-only pool)")
        view = await self.get_flag(flag_id)
        checked, _ = await self.verifier.run_sql(sql)  # UnsafeSql / QueryFailed: nothing is stored
        await self._write(lambda conn: conn.execute(
            f"UPDATE {self._t}flags SET status = 'corrected', corrected_sql = $2, reviewed_by = $3,"
            " reviewed_at = now() WHERE id = $1", flag_id, checked.sql, who))
        if self.examples is not None:
            more = await self._variants(view.question, checked.sql)
            await asyncio.to_thread(self.examples.add_many,
                                    [Example(view.question, checked.sql)] + [Example(q, s) for q, s in more])

    async def _variants(self, question: str, sql: str) -> list[tuple[str, str]]:
        # Siblings are a bonus: a lost connection must not fail a correction already stored, or a whole export.
        if self.variants is None:
            return []
        try:
            return await self.variants(question, sql)
        except (AskdbError, asyncpg.PostgresError, OSError) as exc:
            log.warning("no variants of the correction to %r: %s", question, exc)
            return []

    async def reject(self, flag_id: int, *, who: str) -> None:
        """Close a flag without a correction (the answer was right, or the question unanswerable)."""
        await self.get_flag(flag_id)
        await self._write(lambda conn: conn.execute(
            f"UPDATE {self._t}flags SET status = 'rejected', corrected_sql = NULL, reviewed_by = $2,"
            " reviewed_at = now() WHERE id = $1", flag_id, who))

    async def list_flags(self, status: str | None = None) -> list[FlagView]:
        """Flags (optionally of one status), oldest first."""
        if status is not None and status not in STATUSES:
            raise FeedbackNotFound(f"Unknown status {status!r}; use one of: {', '.join(STATUSES)}.")
        rows = await self._write(lambda conn: conn.fetch(
            self._flag_query() + " WHERE $1::text IS NULL OR f.status = $1 ORDER BY f.id", status))
        return [FlagView(**dict(r)) for r in rows]

    async def get_flag(self, flag_id: int) -> FlagView:
        """One flag with its question and answer; FeedbackNotFound when there is none."""
        if flag_id < 0:
            raise FeedbackNotFound(f"Flag #{flag_id} is still waiting to be saved (the database was unreachable); "
                                   "it can be reviewed once the database is back.")
        row = await self._write(lambda conn: conn.fetchrow(self._flag_query() + " WHERE f.id = $1", int(flag_id)))
        if row is None:
            raise FeedbackNotFound(f"There is no flag #{flag_id}.")
        return FlagView(**dict(row))

    def _flag_query(self) -> str:
        return (f"SELECT f.id, f.interaction_id, f.status, f.created_at, i.question, i.sql, i.answer, f.comment,"
                f" f.location, i.platform, f.corrected_sql, f.reviewed_by, f.reviewed_at"
                f" FROM {self._t}flags f JOIN {self._t}interactions i ON i.id = f.interaction_id")

    async def export_corrections(self, path: str | os.PathLike, db_label: str) -> tuple[int, int]:
        """Write every accepted correction as training/few-shot JSONL (replacing `path`); returns how many
        corrections and how many variants.

        With `variants`, each correction is followed by its copies with other values, marked
        `"source": "correction-variant"` (training counts them once, the correction itself several times)."""
        lines, n_variants = [], 0
        corrected = await self.list_flags("corrected")
        for v in corrected:
            lines.append(json.dumps({"question": v.question, "sql": v.corrected_sql, "source": "correction",
                                     "flag_id": v.id, "interaction_id": v.interaction_id, "corrected_by": v.reviewed_by,
                                     "corrected_at": v.reviewed_at.isoformat() if v.reviewed_at else None,
                                     "db": db_label}, ensure_ascii=False))
            for question, sql in await self._variants(v.question, v.corrected_sql):
                lines.append(json.dumps({"question": question, "sql": sql, "source": "correction-variant",
                                         "flag_id": v.id, "db": db_label}, ensure_ascii=False))
                n_variants += 1
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, path)  # readers (a serving bot) never see half a file
        return len(corrected), n_variants

    async def prune(self, *, now: dt.datetime | None = None) -> int:
        """Delete interactions past retention, keeping those behind open or corrected flags; returns the count."""
        cutoff = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=self.settings.retention_days)
        status = await self._write(lambda conn: conn.execute(
            f"DELETE FROM {self._t}interactions i WHERE i.created_at < $1 AND NOT EXISTS ("
            f"SELECT 1 FROM {self._t}flags f WHERE f.interaction_id = i.id AND f.status IN ('open', 'corrected'))",
            cutoff))
        return int(status.split()[-1])


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()
