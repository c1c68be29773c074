"""A scripted TextModel for tests whose subject is not the model (the real one is tested in test_models.py)."""
from __future__ import annotations

from typing import Sequence

from pipeline.models.base import Completion, Message


class ScriptedModel:
    """Replies with the given texts in turn (the last one repeats); records the prompts it saw."""

    def __init__(self, *replies: str, name: str = "scripted", logprob: float | None = None):
        self.name = name
        self.replies = list(replies)
        self.prompts: list[Sequence[Message]] = []
        self.logprob = logprob  # each token's log-probability, as a backend that reports them would (None: it does not)

    async def complete(self, messages, *, max_tokens: int = 160, stop=()) -> Completion:
        self.prompts.append(messages)
        text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        tokens = len(text.split())
        return Completion(text, tokens, 1.0, (self.logprob,) * tokens if self.logprob is not None else ())

    async def complete_many(self, batch, *, max_tokens: int = 160, stop=()) -> list[Completion]:
        return [await self.complete(m, max_tokens=max_tokens, stop=stop) for m in batch]

    async def aclose(self) -> None:
        pass
