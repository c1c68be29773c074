"""Optional LLM rephrasing of template questions; a rephrasing is kept only if it names the same values."""
from __future__ import annotations

import random
import re
from typing import Sequence

from pipeline.errors import ModelUnavailable
from pipeline.models.base import Completion, Message, TextModel
from pipeline.schema import Schema, render_schema

from .verify import Verdict, entity_problem
from .writer import Stats

SYSTEM = ("You rewrite database questions the way a student or staff member would type them in a chat. "
          "Keep every name, code, number and date exactly as given. Reply with one question only.")


def rephrase_prompt(question: str, sql: str, schema: Schema, tables: Sequence[str], preview: str) -> list[Message]:
    """The model sees the relevant schema with comments, the SQL, a result preview and the template question."""
    text = (f"Tables:\n{render_schema(schema, list(tables), samples=False)}\n\nSQL: {sql}\nResult: {preview}\n\n"
            f"Question: {question}\nRewrite the question in your own words:")
    return [Message("system", SYSTEM), Message("user", text)]


def clean(text: str) -> str:
    """The first line of a completion, without labels and quotes."""
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(rewritten question|question|rewrite|answer)\s*:\s*", "", line.strip(), flags=re.I)
    return line.strip().strip('"').strip("'").strip()


async def ask(model: TextModel, prompts: list[list[Message]], stats: Stats, *, max_tokens: int,
              chunk: int = 8) -> list[Completion | None]:
    """Completions in chunks the backend can batch; a slow or missing model gives None and stops being asked."""
    out: list[Completion | None] = []
    for start in range(0, len(prompts), chunk):
        part = prompts[start:start + chunk]
        if stats.llm.get("timeouts", 0) >= 2:
            out += [None] * len(part)
            continue
        try:
            out += await model.complete_many(part, max_tokens=max_tokens, stop=("\n\n",))
        except ModelUnavailable:
            # A loaded CPU can be too slow for the model: the template questions stand.
            stats.llm["timeouts"] += 1
            stats.rejected["llm_unavailable"] += len(part)
            out += [None] * len(part)
    return out


def _preview(v: Verdict) -> str:
    if v.result is None:
        return ""
    rows = [", ".join(str(x) for x in r) for r in v.result.rows[:3]]
    return "; ".join(rows)[:200]


async def rephrase(model: TextModel, batch: list, verdicts: list[Verdict], schema: Schema, rng: random.Random,
                   fraction: float, stats: Stats, known: frozenset[str]) -> None:
    """Replace the question of about `fraction` of the verified pairs by the model's rewording, when it passes."""
    chosen = [i for i, v in enumerate(verdicts) if v.ok and rng.random() < fraction]
    if not chosen:
        return
    prompts = [rephrase_prompt(batch[i].question, batch[i].cand.sql, schema, batch[i].cand.tables, _preview(verdicts[i]))
               for i in chosen]
    completions = await ask(model, prompts, stats, max_tokens=32)
    for i, c in zip(chosen, completions):
        if c is None:
            continue
        stats.llm["asked"] += 1
        text = clean(c.text)
        p = batch[i]
        if len(text.split()) < 3 or len(text) > 200 or text.lower() == p.question.lower():
            stats.llm["rejected_unusable"] += 1
            stats.rejected["llm_unusable"] += 1
            continue
        if entity_problem(text, p.cand.sql, relative=p.cand.relative, known_values=known):
            stats.llm["rejected_entities"] += 1
            stats.rejected["llm_entity_mismatch"] += 1
            continue
        stats.llm["kept"] += 1
        p.question, p.template, p.style, p.source = text, "llm", "llm", "llm_questions"
