"""The one interface every model backend implements."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int = 0
    elapsed_ms: float = 0.0
    # The log-probability of each generated token where the backend reports it (greedy llama.cpp does): how sure
    # the model was of what it wrote, one of the signals that a question is beyond its database (pipeline/scope.py).
    token_logprobs: tuple[float, ...] = ()


@runtime_checkable
class TextModel(Protocol):
    """A chat model: messages in, text out. Implementations own their resources."""

    name: str

    async def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 160, stop: Sequence[str] = ()
    ) -> Completion:
        """One completion, greedy."""
        ...

    async def complete_many(
        self, batch: Sequence[Sequence[Message]], *, max_tokens: int = 160, stop: Sequence[str] = ()
    ) -> list[Completion]:
        """Completions for several prompts; backends batch or run them concurrently."""
        ...

    async def aclose(self) -> None:
        """Release the model and any sessions."""
        ...


@runtime_checkable
class CandidateModel(Protocol):
    """A model that can also propose several different completions for one prompt (beam search)."""

    async def complete_candidates(
        self, messages: Sequence[Message], *, n: int, max_tokens: int = 160, stop: Sequence[str] = ()
    ) -> list[Completion]:
        """Up to `n` distinct completions, most likely first."""
        ...


@runtime_checkable
class GrammarModel(Protocol):
    """A model that can be held to a GBNF grammar (pipeline/grammar.py makes one from the schema)."""

    async def complete_grammar(
        self, messages: Sequence[Message], *, grammar: str, max_tokens: int = 160, stop: Sequence[str] = ()
    ) -> Completion:
        """One greedy completion that the grammar allows; candidates take `grammar=` too."""
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the first stop string."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]
