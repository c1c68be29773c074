"""Answer callables that return real pipeline Answers without a model or a database."""
from __future__ import annotations

import asyncio

from pipeline.pipeline import Answer


class FakeAnswers:
    """Answers every question with `rows`; when `gate` is given, each call waits for it first."""

    def __init__(self, *, rows=((1, "Intro to Cloud"),), columns=("week", "topic"), gate: asyncio.Event | None = None,
                 sql: str = "SELECT week, topic FROM course_topics"):
        self.rows = tuple(rows)
        self.columns = tuple(columns)
        self.gate = gate
        self.sql = sql
        self.started: list[str] = []
        self.previous: list[tuple] = []  # the earlier turns each question came with
        self.entered = asyncio.Event()

    async def __call__(self, question: str, *, previous=()) -> Answer:
        self.started.append(question)
        self.previous.append(tuple(previous))
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        text = f"There are {len(self.rows)} rows for: {question}"
        return Answer(question, self.sql, self.columns, self.rows, text, False,
                      {"generate": 5.0, "check": 0.2, "execute": 1.0, "render": 0.1, "total": 6.3},
                      attempts=1, answer_source="template", model="fake")


class RecordingFeedback:
    """A FeedbackSink that keeps everything in lists (the real store is tested with Postgres elsewhere)."""

    def __init__(self, *, correct_error: Exception | None = None):
        self.interactions: list[dict] = []
        self.flags: list[dict] = []
        self.corrections: list[dict] = []
        self.correct_error = correct_error

    async def record_interaction(self, *, platform, channel, user_id, question, answer) -> int:
        self.interactions.append(dict(platform=platform, channel=channel, user_id=user_id, question=question,
                                      answer=answer))
        return len(self.interactions)

    async def flag(self, interaction_id, *, who, where, comment=None) -> int:
        self.flags.append(dict(interaction_id=interaction_id, who=who, where=where, comment=comment))
        return 100 + len(self.flags)

    async def correct(self, flag_id, *, sql, who) -> None:
        if self.correct_error is not None:
            raise self.correct_error
        self.corrections.append(dict(flag_id=flag_id, sql=sql, who=who))
