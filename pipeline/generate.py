"""Stage 1: question -> SQL text, through the model and the shared prompt builder."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Sequence

from .extract import extract_sql
from .models.base import CandidateModel, GrammarModel, Message, TextModel
from .prompt import Example, build_sql_prompt
from .schema import Schema


@dataclass(frozen=True)
class GeneratedSql:
    sql: str
    raw: str
    tokens: int
    elapsed_ms: float
    messages: tuple[Message, ...] = ()  # the prompt it answered, so alternatives are asked of the very same one
    # the mean log-probability of its tokens where the model reports them (None: it does not): how sure it was
    confidence: float | None = None


async def generate_sql(
    model: TextModel,
    question: str,
    schema: Schema,
    *,
    today: dt.date,
    examples: Sequence[Example] = (),
    budget_tokens: int = 700,
    max_tokens: int = 120,
    error: tuple[str, str] | None = None,
    previous: Sequence[Example] = (),
    grammar: str | None = None,
    comments: bool = False,
) -> GeneratedSql:
    """Ask the model for SQL and extract one statement from its reply ('' when it wrote none); `previous` are the
    conversation's earlier turns a follow-up continues."""
    started = time.perf_counter()
    messages = build_sql_prompt(question, schema, today=today, examples=examples, budget_tokens=budget_tokens,
                                error=error, previous=previous, comments=comments)
    if grammar and isinstance(model, GrammarModel):
        completion = await model.complete_grammar(messages, grammar=grammar, max_tokens=max_tokens, stop=_STOP)
    else:
        completion = await model.complete(messages, max_tokens=max_tokens, stop=_STOP)
    logprobs = completion.token_logprobs
    return GeneratedSql(extract_sql(completion.text), completion.text, completion.tokens,
                        (time.perf_counter() - started) * 1000, tuple(messages),
                        sum(logprobs) / len(logprobs) if logprobs else None)


_STOP = ("\n\n\n", "Question:", "Q:")


async def sql_candidates(model: TextModel, messages: Sequence[Message], *, n: int, max_tokens: int = 120,
                         grammar: str | None = None) -> list[GeneratedSql]:
    """Up to `n` distinct statements for the prompt (beam search, or branches of the greedy statement where the
    model has no beams); [] when the model cannot propose several."""
    if n <= 1 or not isinstance(model, CandidateModel):
        return []
    started = time.perf_counter()
    constrained = {"grammar": grammar} if grammar and isinstance(model, GrammarModel) else {}
    completions = await model.complete_candidates(messages, n=n, max_tokens=max_tokens, stop=_STOP, **constrained)
    elapsed = (time.perf_counter() - started) * 1000
    out, seen = [], set()
    for c in completions:
        sql = extract_sql(c.text)
        if sql and sql not in seen:
            seen.add(sql)
            out.append(GeneratedSql(sql, c.text, c.tokens, elapsed, tuple(messages)))
    return out
