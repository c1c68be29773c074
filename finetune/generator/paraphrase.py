"""Optional LLM rephrasing of template questions; a rephrasing is kept only if it names the same values."""
from __future__ import annotations

import random
import re
from typing import Sequence

from pipeline.errors import ModelUnavailable
from pipeline.models.base import Completion, Message, TextModel
from pipeline.prompt import render_table
from pipeline.schema import Schema

from .verify import Verdict, entity_problem
from .writer import Stats

SYSTEM = ("Rewrite the question as a short chat message a student or staff member might type. "
          "Keep every name, code, number and date exactly as written. Reply with the rewritten question only.")
# One made-up exchange shows the small model the format; it names no table of any real database.
_EXAMPLE = (Message("user", "Tables:\nitems(sku, name, price)  -- Things for sale.\nSQL: SELECT price FROM items WHERE "
                            "sku = 'AB-12'\nIt returns: 9.5\nRewrite this question: What is the price of AB-12?"),
            Message("assistant", "how much does AB-12 cost?"))


def rephrase_prompt(question: str, sql: str, schema: Schema, tables: Sequence[str], preview: str) -> list[Message]:
    """The model sees the relevant tables with comments, the SQL, a result preview and the template question."""
    lines = "\n".join(render_table(t, with_comments=True) for t in schema.tables if t.name in tables)
    text = f"Tables:\n{lines}\nSQL: {sql}\nIt returns: {preview}\nRewrite this question: {question}"
    return [Message("system", SYSTEM), *_EXAMPLE, Message("user", text)]


def clean(text: str) -> str:
    """The first line of a completion, without labels and quotes."""
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(rewritten question|question|rewrite|answer)\s*:\s*", "", line.strip(), flags=re.I)
    return line.strip().strip('"').strip("'").strip()


def usable(text: str, template: str) -> bool:
    """A question (not an answer or a comment about the question), of chat length, not the template itself."""
    words = text.split()
    lowered = text.lower()
    return (3 <= len(words) <= 30 and lowered != template.lower() and "question" not in lowered
            and (text.endswith("?") or words[0].lower() in _STARTS))


_STARTS = {"what", "which", "who", "whos", "whats", "how", "list", "show", "give", "find", "any", "are", "is", "does",
           "do", "when", "where", "count", "tell", "can"}


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
    return "; ".join(rows)[:120]


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
        if not usable(text, p.question):
            stats.llm["rejected_unusable"] += 1
            stats.rejected["llm_unusable"] += 1
            continue
        if entity_problem(text, p.cand.sql, relative=p.cand.relative, known_values=known):
            stats.llm["rejected_entities"] += 1
            stats.rejected["llm_entity_mismatch"] += 1
            continue
        stats.llm["kept"] += 1
        p.question, p.template, p.style, p.source = text, "", "llm", "llm_questions"  # no template to count
