"""The terminal chat: the first platform adapter, answering through the same BotCore as Discord and Slack."""
from __future__ import annotations

import asyncio
import sys

from .charts import chart_for
from .core import BotCore, Conversations, CoreLimits, Question, Reply


async def run_terminal_chat(pipeline, *, stdin=sys.stdin, stdout=sys.stdout, core: BotCore | None = None,
                            conversations: Conversations | None = None) -> None:
    """Read questions line by line until EOF or 'quit'; print each answer (with SQL after '/sql'); '/chart FILE'
    writes the last answer's chart. A question follows up the ones before it; '/new' starts over."""
    if core is None:
        # one person at a keyboard: no rate limit; the pipeline's own length limit applies
        core = BotCore(answer=pipeline.answer, conversations=conversations, limits=CoreLimits(
            per_user_per_minute=0, max_question_chars=pipeline.settings.max_question_chars))
    show_sql = False
    last: Reply | None = None
    conversation = 0
    print("Ask a question about the database ('/sql' toggles SQL display, '/chart FILE' draws the last answer, "
          "'/new' forgets the questions before, 'quit' ends).", file=stdout, flush=True)
    while True:
        print("> ", end="", file=stdout, flush=True)
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        line = line.strip()
        if line.lower() in ("quit", "exit", "/quit"):
            break
        if line == "/sql":
            show_sql = not show_sql
            print(f"SQL display {'on' if show_sql else 'off'}.", file=stdout, flush=True)
            continue
        if line == "/new":
            conversation += 1
            print("New conversation: the next question is read on its own.", file=stdout, flush=True)
            continue
        if line.startswith("/chart"):
            print(await _write_chart(last, line[len("/chart"):].strip() or "chart.png"), file=stdout, flush=True)
            continue
        if not line:
            continue
        reply = last = await core.ask(Question(line, user="local", channel="terminal", platform="terminal",
                                               conversation=f"terminal:{conversation}"))
        if show_sql and reply.sql:
            print(f"SQL: {reply.sql}", file=stdout)
        print(reply.text + "\n", file=stdout, flush=True)


async def _write_chart(reply: Reply | None, path: str) -> str:
    chart = await chart_for(reply) if reply is not None else None
    if chart is None:
        return "No chart for that answer (it needs rows of a category or a time and a number)."
    try:
        await asyncio.to_thread(_write, path, chart.png)
    except OSError as exc:
        return f"Couldn't write {path}: {exc.strerror or exc}."
    return f"{chart.plan.alt_text} written to {path}."


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
