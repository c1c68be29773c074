"""The adapter-independent bot: rate limits, a bounded queue, structured logs, feedback and graceful shutdown.

Adapters turn platform events into `Question`s and `Reply`s into platform messages; everything else lives here.
"""
from __future__ import annotations

import asyncio
import collections
import csv
import hashlib
import io
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Protocol

from pipeline.errors import AskdbError, QueryFailed, UnsafeSql
from pipeline.prompt import Example
from pipeline.render import format_table

if TYPE_CHECKING:
    from pipeline.pipeline import Answer

log = logging.getLogger("askdb.bot")

PREVIEW_ROWS = 10

BUSY_TEXT = "I'm answering as many questions as I can right now. Please try again in a minute."
SHUTDOWN_TEXT = "Sorry, I'm restarting and couldn't finish that question. Please ask again in a minute."


class FeedbackSink(Protocol):
    """Where interactions, flags and admin corrections go (pipeline/feedback_store.py implements it)."""

    async def record_interaction(self, *, platform: str, channel: str, user_id: str, question: str,
                                 answer: "Answer") -> int: ...

    async def flag(self, interaction_id: int, *, who: str, where: str, comment: str | None = None) -> int: ...

    async def correct(self, flag_id: int, *, sql: str, who: str) -> None: ...


@dataclass(frozen=True)
class Question:
    text: str
    user: str
    channel: str
    platform: str
    thread: str | None = None
    # The conversation a follow-up continues, as the adapter keys it (a thread, a reply chain, a DM's user): its
    # last turns go to the pipeline with the question. None: answered on its own.
    conversation: str | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    status: str = "ok"  # ok | error | rejected | busy | rate_limited | shutting_down | out_of_scope | clarify
    sql: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple, ...] = ()
    truncated: bool = False
    interaction_id: int | None = None
    error_kind: str | None = None
    question: str = ""  # as answered: a chart's title

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def preview(self) -> tuple[tuple, ...]:
        """The first rows, small enough for a chat message."""
        return self.rows[:PREVIEW_ROWS]

    def preview_table(self) -> str:
        """The preview rows as an aligned text table ('' when there is nothing tabular to show)."""
        if not self.columns or not self.rows:
            return ""
        table = format_table(self.columns, self.preview)
        if len(self.rows) > PREVIEW_ROWS:
            table += f"\n... {len(self.rows) - PREVIEW_ROWS} more rows"
        return table

    def csv_bytes(self) -> bytes:
        """Every returned row as CSV, for platforms that attach files."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buf.getvalue().encode()


@dataclass(frozen=True)
class FeedbackResult:
    ok: bool
    text: str
    flag_id: int | None = None


@dataclass(frozen=True)
class CoreLimits:
    per_user_per_minute: int = 6
    max_concurrent: int = 4
    max_queue: int = 32
    max_question_chars: int = 500


def user_hash(platform: str, user: str) -> str:
    """A stable pseudonym for logs: nobody can read a user id back out of it."""
    return hashlib.sha256(f"{platform}:{user}".encode()).hexdigest()[:12]


class RateLimiter:
    """At most `per_minute` events per key in any sliding 60 s window."""

    def __init__(self, *, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, collections.deque[float]] = {}

    def try_acquire(self, key: str) -> float | None:
        """None when allowed (and counted); else the seconds until the next slot frees."""
        if self.per_minute <= 0:
            return None
        now = self.clock()
        seen = self._seen.setdefault(key, collections.deque())
        while seen and now - seen[0] >= 60:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return 60 - (now - seen[0])
        seen.append(now)
        if len(self._seen) > 10_000:  # forget idle users so memory stays bounded
            self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < 60}
        return None


class Conversations:
    """The last few turns (question and the SQL that ran) of each conversation, forgotten after `ttl_s` without a new
    one. Keys come from the adapters, one per thread, reply chain or private chat, so no turn reaches another."""

    def __init__(self, *, turns: int = 3, ttl_s: float = 1800.0, max_conversations: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.turns = turns
        self.ttl_s = ttl_s
        self.max_conversations = max_conversations
        self.clock = clock
        self._held: dict[str, tuple[float, tuple[Example, ...]]] = {}  # least recently used first

    def recent(self, key: str | None) -> tuple[Example, ...]:
        """The conversation's turns, oldest first; () when it has none or they expired."""
        held = self._held.get(key) if key is not None else None
        if held is None:
            return ()
        if self.clock() - held[0] >= self.ttl_s:
            del self._held[key]
            return ()
        return held[1]

    def add(self, key: str | None, turn: Example) -> None:
        """Keep `turn` as the conversation's latest; the oldest conversations go when there are too many."""
        if key is None or self.turns <= 0:
            return
        turns = (*self.recent(key), turn)[-self.turns:]
        self._held.pop(key, None)
        self._held[key] = (self.clock(), turns)
        while len(self._held) > self.max_conversations:
            self._held.pop(next(iter(self._held)))


class _Slots:
    """`limit` concurrent holders plus a FIFO queue of at most `max_waiting`; closing releases waiters with False."""

    def __init__(self, *, limit: int, max_waiting: int):
        self.limit = limit
        self.max_waiting = max_waiting
        self.held = 0
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._closed = False

    @property
    def full(self) -> bool:
        return self.held >= self.limit and len(self._waiters) >= self.max_waiting

    async def acquire(self) -> bool:
        if self._closed:
            return False
        if self.held < self.limit and not self._waiters:
            self.held += 1
            return True
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.result():
                self.release()  # the slot was handed over just as we were cancelled
            elif fut in self._waiters:
                self._waiters.remove(fut)
            raise

    def release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(True)  # the slot passes straight to the next waiter
                return
        self.held -= 1

    def close(self) -> None:
        self._closed = True
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(False)


class BotCore:
    """Answers Questions with `answer` under per-user and global limits; logs one line per question."""

    def __init__(self, *, answer: Callable[..., Awaitable["Answer"]], feedback: FeedbackSink | None = None,
                 limits: CoreLimits = CoreLimits(), clock: Callable[[], float] = time.monotonic,
                 logger: logging.Logger = log, conversations: Conversations | None = None):
        self.answer = answer  # answer(text, previous=turns): pipeline.Pipeline.answer
        self.feedback = feedback
        self.limits = limits
        self.conversations = conversations if conversations is not None else Conversations(clock=clock)
        self.log = logger
        self._rate = RateLimiter(per_minute=limits.per_user_per_minute, clock=clock)
        self._slots = _Slots(limit=limits.max_concurrent, max_waiting=limits.max_queue)
        self._tasks: set[asyncio.Task] = set()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.closing = False

    @property
    def active(self) -> int:
        """Questions accepted and not yet delivered."""
        return self._active

    async def ask(self, q: Question) -> Reply:
        """Question -> Reply; limits, busy and shutdown become replies, never exceptions."""
        started = time.perf_counter()
        self._enter()
        reply, timings = None, {}
        try:
            reply = self._refuse_early(q)
            if reply is not None:
                return reply
            if not await self._slots.acquire():
                reply = Reply(SHUTDOWN_TEXT, status="shutting_down")
                return reply
            try:
                timings["queue"] = round((time.perf_counter() - started) * 1000, 2)
                reply, timings = await self._answer(q, timings)
            finally:
                self._slots.release()
            return reply
        finally:
            self._leave()
            self._log(q, reply, timings, started)

    async def handle(self, q: Question, deliver: Callable[[Reply], Awaitable[object]]) -> Reply:
        """ask() then deliver(reply), counted as in flight until delivered so shutdown waits for both."""
        self._enter()
        try:
            reply = await self.ask(q)
            await deliver(reply)
            return reply
        finally:
            self._leave()

    async def flag(self, interaction_id: int | None, *, who: str, where: str,
                   comment: str | None = None) -> FeedbackResult:
        """Flag an answer as wrong; the result text is fit to show the person who flagged."""
        if self.feedback is None or interaction_id is None:
            return FeedbackResult(False, "Feedback isn't enabled for this bot, sorry.")
        try:
            flag_id = await self.feedback.flag(interaction_id, who=who, where=where, comment=comment or None)
        except AskdbError as exc:
            self.log.warning(json.dumps({"event": "flag_failed", "error_kind": type(exc).__name__}))
            return FeedbackResult(False, "Sorry, I couldn't record that: " + exc.user_message())
        self.log.info(json.dumps({"event": "flag", "interaction": interaction_id, "flag": flag_id}))
        return FeedbackResult(True, f"Thanks! I've flagged that answer for review (flag #{flag_id}).", flag_id)

    async def correct(self, interaction_id: int | None, *, sql: str, who: str, where: str) -> FeedbackResult:
        """An admin's corrected SQL for an answer: flagged, then verified and stored by the feedback sink."""
        flagged = await self.flag(interaction_id, who=who, where=where, comment="admin correction")
        if not flagged.ok:
            return flagged
        try:
            await self.feedback.correct(flagged.flag_id, sql=sql, who=who)
        except UnsafeSql as exc:
            return FeedbackResult(False, f"That SQL was refused ({exc.reason}); nothing was saved.", flagged.flag_id)
        except QueryFailed as exc:
            return FeedbackResult(False, f"That SQL didn't run ({exc.pg_message}); nothing was saved.", flagged.flag_id)
        except AskdbError as exc:
            return FeedbackResult(False, "Sorry, I couldn't save the correction: " + exc.user_message(), flagged.flag_id)
        return FeedbackResult(True, f"Saved your corrected SQL (flag #{flagged.flag_id}); it will be used "
                                    "as an example from now on.", flagged.flag_id)

    async def shutdown(self, *, grace_s: float = 20.0, deliver_s: float = 5.0) -> None:
        """Refuse new questions, let in-flight ones finish for `grace_s`, then cancel them (they get an apology)."""
        self.closing = True
        self._slots.close()
        if await self._wait_idle(grace_s):
            return
        for task in list(self._tasks):
            task.cancel()
        if not await self._wait_idle(deliver_s):
            self.log.warning(json.dumps({"event": "shutdown", "undelivered": self._active}))

    def _refuse_early(self, q: Question) -> Reply | None:
        if self.closing:
            return Reply(SHUTDOWN_TEXT, status="shutting_down")
        if len(q.text) > self.limits.max_question_chars:
            return Reply(f"That question is too long ({len(q.text)} characters; the limit is "
                         f"{self.limits.max_question_chars}). Please shorten it.", status="rejected",
                         error_kind="QuestionRejected")
        if self._slots.full:
            return Reply(BUSY_TEXT, status="busy", error_kind="Busy")
        wait = self._rate.try_acquire(f"{q.platform}:{q.user}")
        if wait is not None:
            return Reply(f"You've asked {self.limits.per_user_per_minute} questions in the last minute; "
                         f"please wait {max(1, round(wait))} s and ask again.", status="rate_limited",
                         error_kind="Busy")
        return None

    async def _answer(self, q: Question, timings: dict) -> tuple[Reply, dict]:
        previous = self.conversations.recent(q.conversation)
        task = asyncio.ensure_future(self.answer(q.text, previous=previous))
        self._tasks.add(task)
        try:
            ans = await task
        except asyncio.CancelledError:
            # shutdown() cancelled the answer, not our caller: apologise instead of vanishing
            if task.cancelled() and self.closing and asyncio.current_task().cancelling() == 0:
                return Reply(SHUTDOWN_TEXT, status="shutting_down"), timings
            raise
        finally:
            self._tasks.discard(task)
        timings = {**timings, **ans.timings_ms}
        if ans.ok and ans.sql:
            self.conversations.add(q.conversation, Example(ans.question or q.text, ans.sql))
        interaction_id = await self._record(q, ans)
        status = "ok" if ans.ok else ("rejected" if ans.error_kind == "QuestionRejected" else "error")
        if ans.kind != "answer":
            status = ans.kind  # the database cannot answer it, or a question back: text only, nothing to flag
        return Reply(ans.answer, status=status, sql=ans.sql, columns=tuple(ans.columns), rows=tuple(ans.rows),
                     truncated=ans.truncated, interaction_id=interaction_id, error_kind=ans.error_kind,
                     question=ans.question or q.text), timings

    async def _record(self, q: Question, ans: "Answer") -> int | None:
        if self.feedback is None:
            return None
        try:
            return await self.feedback.record_interaction(platform=q.platform, channel=q.channel, user_id=q.user,
                                                          question=q.text, answer=ans)
        except AskdbError as exc:
            # the answer is still worth sending; it just can't be flagged later
            self.log.warning(json.dumps({"event": "record_failed", "error_kind": type(exc).__name__}))
            return None

    def _enter(self) -> None:
        self._active += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._active -= 1
        if self._active == 0:
            self._idle.set()

    async def _wait_idle(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False

    def _log(self, q: Question, reply: Reply | None, timings: dict, started: float) -> None:
        outcome = "failed" if reply is None else reply.status
        record = {"event": "question", "platform": q.platform, "user": user_hash(q.platform, q.user),
                  "channel": q.channel, "chars": len(q.text), "outcome": outcome,
                  "error_kind": reply.error_kind if reply else None, "rows": len(reply.rows) if reply else 0,
                  "interaction": reply.interaction_id if reply else None,
                  "latency_ms": {**timings, "wall": round((time.perf_counter() - started) * 1000, 2)}}
        self.log.info(json.dumps(record, default=str))
