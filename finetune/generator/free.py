"""LLM free generation (off by default): the model writes a question and its SQL from the schema."""
from __future__ import annotations

import random
import re

import asyncpg

from pipeline.guard import GuardPolicy
from pipeline.models.base import Message, TextModel
from pipeline.schema import Schema, render_schema

from .dedupe import Seen
from .paraphrase import ask
from .verify import entity_problem, verify_many
from .writer import SampleWriter, Stats

SYSTEM = ("You write one question a user might ask about a PostgreSQL database and the SQL SELECT that answers it. "
          "Use only the tables and columns shown. Reply in the form:\nQuestion: ...\nSQL: ...")


def free_prompt(schema: Schema, table: str, hint: str) -> list[Message]:
    """Prompt about one table and its neighbours, with a real value to steer the question."""
    tables = [table] + sorted(schema.neighbours(table))[:2]
    text = f"Tables:\n{render_schema(schema, tables)}\n\nWrite a question about {table}{hint}."
    return [Message("system", SYSTEM), Message("user", text)]


def parse_pair(text: str) -> tuple[str, str] | None:
    """(question, sql) from 'Question: ... SQL: ...', or None."""
    m = re.search(r"question\s*:\s*(.+?)\s*(?:\n|$).*?sql\s*:\s*(.+)", text, flags=re.I | re.S)
    if not m:
        return None
    sql = m[2].strip().strip("`").split(";")[0].strip()
    return m[1].strip(), sql


async def free_pairs(model: TextModel, pool: asyncpg.Pool, schema: Schema, policy: GuardPolicy, settings, *,
                     seen: Seen, stats: Stats, writer: SampleWriter, rng: random.Random, known: frozenset[str],
                     target: int, on_progress=None) -> None:
    """Ask the model for pairs until `target` pass verification (or a few rounds are spent)."""
    kept, rounds = 0, 0
    while kept < target and rounds < 4 and stats.llm.get("timeouts", 0) < 2:
        rounds += 1
        prompts = []
        for _ in range(min(settings.batch_size, (target - kept) * 3)):
            t = rng.choice(schema.tables)
            col = rng.choice(t.columns)
            hint = f" mentioning its {col.name}" + (f" such as {col.samples[0]!r}" if col.samples else "")
            prompts.append(free_prompt(schema, t.name, hint))
        completions = await ask(model, prompts, stats, max_tokens=120)
        pairs = [parse_pair(c.text) for c in completions if c is not None]
        stats.llm["free_asked"] += len(pairs)
        good = [p for p in pairs if p is not None]
        stats.rejected["llm_free_unparsed"] += len(pairs) - len(good)
        verdicts = await verify_many(pool, [s for _, s in good], policy, settings.limits,
                                     require_rows=settings.require_rows, concurrency=settings.concurrency)
        rows = []
        for (question, sql), v in zip(good, verdicts):
            problem = (None if v.ok else v.reason) or seen.sql_problem(sql) or seen.question_problem(question) \
                or entity_problem(question, sql, known_values=known)
            if problem or kept >= target:
                if problem:
                    stats.rejected[f"llm_free_{problem}"] += 1
                continue
            from sqlglot import exp, parse_one

            tables = sorted({t.name for t in parse_one(sql, read="postgres").find_all(exp.Table)})
            row = {"question": question, "sql": sql, "shape": "llm_free", "tables": tables, "source": "llm_free",
                   "db": settings.db_label}
            seen.add(question, sql)
            stats.count(row, "", "llm")
            rows.append(row)
            kept += 1
        writer.write_batch(rows)
        if on_progress:
            on_progress(stats)
