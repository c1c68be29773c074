"""The adapter-independent bot core: limits, queue, feedback, logs and shutdown, with real Answer objects."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import logging

from bot.core import BotCore, CoreLimits, Question, RateLimiter, user_hash
from pipeline.errors import DatabaseUnavailable, UnsafeSql

from .fakes.answers import FakeAnswers, RecordingFeedback


def q(text="How many courses?", user="U1", platform="slack"):
    return Question(text=text, user=user, channel="C1", platform=platform)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


async def _until(predicate):
    while not predicate():
        await asyncio.sleep(0)


def test_rate_limiter_slides():
    clock = FakeClock()
    rl = RateLimiter(per_minute=2, clock=clock)
    assert rl.try_acquire("a") is None and rl.try_acquire("a") is None
    assert rl.try_acquire("a") == 60
    assert rl.try_acquire("b") is None  # per user
    clock.now += 30
    assert rl.try_acquire("a") == 30
    clock.now += 30
    assert rl.try_acquire("a") is None


async def test_answer_becomes_reply_with_interaction_id():
    fb = RecordingFeedback()
    core = BotCore(answer=FakeAnswers(rows=[(i, f"t{i}") for i in range(25)]), feedback=fb)
    reply = await core.ask(q())
    assert reply.ok and reply.interaction_id == 1 and reply.sql.startswith("SELECT")
    assert len(reply.preview) == 10 and "15 more rows" in reply.preview_table()
    rows = list(csv.reader(io.StringIO(reply.csv_bytes().decode())))
    assert rows[0] == ["week", "topic"] and len(rows) == 26
    assert fb.interactions[0]["user_id"] == "U1" and fb.interactions[0]["answer"].rows == reply.rows


async def test_rate_limited_user_is_told_how_long_to_wait():
    clock = FakeClock()
    core = BotCore(answer=FakeAnswers(), limits=CoreLimits(per_user_per_minute=2), clock=clock)
    assert (await core.ask(q())).ok and (await core.ask(q())).ok
    third = await core.ask(q())
    assert third.status == "rate_limited" and "wait 60 s" in third.text
    assert (await core.ask(q(user="U2"))).ok
    clock.now += 61
    assert (await core.ask(q())).ok


async def test_concurrency_limit_queues_then_busy():
    gate = asyncio.Event()
    answers = FakeAnswers(gate=gate)
    core = BotCore(answer=answers, limits=CoreLimits(per_user_per_minute=0, max_concurrent=2, max_queue=1))
    running = [asyncio.create_task(core.ask(q(f"q{i}"))) for i in range(3)]
    await _until(lambda: len(answers.started) == 2 and core.active == 3)
    busy = await core.ask(q("one too many"))
    assert busy.status == "busy" and "try again" in busy.text
    assert answers.started == ["q0", "q1"]  # the third waits in the queue
    gate.set()
    replies = await asyncio.gather(*running)
    assert all(r.ok for r in replies) and answers.started == ["q0", "q1", "q2"]
    assert (await core.ask(q("after"))).ok  # slots were all given back


async def test_too_long_question_is_refused_before_queueing():
    answers = FakeAnswers()
    core = BotCore(answer=answers, limits=CoreLimits(max_question_chars=20))
    reply = await core.ask(q("x" * 21))
    assert reply.status == "rejected" and "too long" in reply.text and answers.started == []


async def test_cancelled_waiter_gives_its_place_back():
    gate = asyncio.Event()
    answers = FakeAnswers(gate=gate)
    core = BotCore(answer=answers, limits=CoreLimits(per_user_per_minute=0, max_concurrent=1, max_queue=1))
    first = asyncio.create_task(core.ask(q("first")))
    waiting = asyncio.create_task(core.ask(q("waiting")))
    await _until(lambda: core.active == 2)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    third = asyncio.create_task(core.ask(q("third")))  # the queue has room again
    gate.set()
    assert (await first).ok and (await third).ok and answers.started == ["first", "third"]


async def test_shutdown_lets_running_finish_and_apologises_to_the_queue():
    gate = asyncio.Event()
    answers = FakeAnswers(gate=gate)
    core = BotCore(answer=answers, limits=CoreLimits(per_user_per_minute=0, max_concurrent=1, max_queue=5))
    delivered = []

    async def deliver(reply):
        delivered.append(reply)

    running = asyncio.create_task(core.handle(q("running"), deliver))
    queued = asyncio.create_task(core.handle(q("queued"), deliver))
    await _until(lambda: core.active == 4)  # two handles, each in ask
    stopping = asyncio.create_task(core.shutdown(grace_s=30))
    assert (await queued).status == "shutting_down"
    late = await core.ask(q("late"))
    assert late.status == "shutting_down" and "restarting" in late.text
    gate.set()
    await stopping
    assert (await running).ok
    assert [r.status for r in delivered] == ["shutting_down", "ok"] and core.active == 0


async def test_shutdown_cancels_after_grace_with_an_apology():
    answers = FakeAnswers(gate=asyncio.Event())  # never opens
    core = BotCore(answer=answers)
    delivered = []

    async def deliver(reply):
        delivered.append(reply)

    stuck = asyncio.create_task(core.handle(q("stuck"), deliver))
    await answers.entered.wait()
    await core.shutdown(grace_s=0.05, deliver_s=5)
    reply = await stuck
    assert reply.status == "shutting_down" and delivered == [reply] and core.active == 0


async def test_caller_cancellation_still_propagates():
    answers = FakeAnswers(gate=asyncio.Event())
    core = BotCore(answer=answers)
    task = asyncio.create_task(core.ask(q()))
    await answers.entered.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and core.active == 0


async def test_flag_and_correct_go_to_the_feedback_sink():
    fb = RecordingFeedback()
    core = BotCore(answer=FakeAnswers(), feedback=fb)
    reply = await core.ask(q())
    flagged = await core.flag(reply.interaction_id, who="slack:U9", where="slack:T1/C1", comment="should be 12")
    assert flagged.ok and "#101" in flagged.text
    assert fb.flags == [dict(interaction_id=1, who="slack:U9", where="slack:T1/C1", comment="should be 12")]
    fixed = await core.correct(reply.interaction_id, sql="SELECT 12", who="slack:U9", where="slack:T1/C1")
    assert fixed.ok and fb.corrections == [dict(flag_id=102, sql="SELECT 12", who="slack:U9")]


async def test_refused_correction_says_why():
    core = BotCore(answer=FakeAnswers(), feedback=RecordingFeedback(correct_error=UnsafeSql("only SELECT is allowed")))
    result = await core.correct(1, sql="DELETE FROM students", who="a", where="b")
    assert not result.ok and "only SELECT is allowed" in result.text


async def test_without_feedback_flagging_is_politely_unavailable():
    core = BotCore(answer=FakeAnswers())
    reply = await core.ask(q())
    assert reply.interaction_id is None
    assert not (await core.flag(None, who="x", where="y")).ok


async def test_recording_failure_still_answers():
    class DownFeedback(RecordingFeedback):
        async def record_interaction(self, **kw):
            raise DatabaseUnavailable("connection refused")

    reply = await BotCore(answer=FakeAnswers(), feedback=DownFeedback()).ask(q())
    assert reply.ok and reply.interaction_id is None


async def test_one_structured_log_line_per_question_without_user_ids(caplog):
    caplog.set_level(logging.INFO, logger="askdb.bot")
    core = BotCore(answer=FakeAnswers())
    await core.ask(q(user="U12345SECRET", platform="discord"))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "askdb.bot"]
    assert len(lines) == 1
    line = lines[0]
    assert line["platform"] == "discord" and line["outcome"] == "ok"
    assert line["user"] == user_hash("discord", "U12345SECRET") and "U12345SECRET" not in caplog.text
    assert {"queue", "generate", "execute", "total", "wall"} <= set(line["latency_ms"])


async def test_core_with_the_real_feedback_store(course_db_url, test_run_id, tmp_path):
    import asyncpg

    from pipeline.feedback_store import FeedbackSettings, FeedbackStore, migrate

    schema = f"askdb_bot_{test_run_id}"
    conn = await asyncpg.connect(course_db_url)
    try:
        await migrate(conn, schema=schema)
        settings = FeedbackSettings(spool_path=tmp_path / "spool.jsonl", schema=schema)
        async with FeedbackStore(url=course_db_url, settings=settings) as store:
            core = BotCore(answer=FakeAnswers(), feedback=store)
            reply = await core.ask(q(user="U77"))
            flagged = await core.flag(reply.interaction_id, who="slack:U88", where="slack:T1/C1", comment="wrong week")
        row = await conn.fetchrow(f"SELECT i.question, i.platform, f.comment, f.location FROM {schema}.flags f "
                                  f"JOIN {schema}.interactions i ON i.id = f.interaction_id WHERE f.id = $1",
                                  flagged.flag_id)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
    assert reply.interaction_id > 0 and flagged.ok
    assert dict(row) == {"question": "How many courses?", "platform": "slack", "comment": "wrong week",
                         "location": "slack:T1/C1"}


async def test_terminal_chat_answers_through_the_core():
    from types import SimpleNamespace

    from bot.terminal import run_terminal_chat

    answers = FakeAnswers()
    pipeline = SimpleNamespace(answer=answers, settings=SimpleNamespace(max_question_chars=500))
    out = io.StringIO()
    await run_terminal_chat(pipeline, stdin=io.StringIO("/sql\nHow many courses?\nquit\n"), stdout=out)
    text = out.getvalue()
    assert answers.started == ["How many courses?"]
    assert "SQL: SELECT week, topic FROM course_topics" in text and "1 rows for: How many courses?" in text
