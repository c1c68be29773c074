"""The terminal chat: the first platform adapter, answering through the same BotCore as Discord and Slack."""
from __future__ import annotations

import asyncio
import sys

from .core import BotCore, CoreLimits, Question


async def run_terminal_chat(pipeline, *, stdin=sys.stdin, stdout=sys.stdout, core: BotCore | None = None) -> None:
    """Read questions line by line until EOF or 'quit'; print each answer (with SQL after '/sql')."""
    if core is None:
        # one person at a keyboard: no rate limit; the pipeline's own length limit applies
        core = BotCore(answer=pipeline.answer, limits=CoreLimits(
            per_user_per_minute=0, max_question_chars=pipeline.settings.max_question_chars))
    show_sql = False
    print("Ask a question about the database ('/sql' toggles SQL display, 'quit' ends).", file=stdout, flush=True)
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
        if not line:
            continue
        reply = await core.ask(Question(line, user="local", channel="terminal", platform="terminal"))
        if show_sql and reply.sql:
            print(f"SQL: {reply.sql}", file=stdout)
        print(reply.text + "\n", file=stdout, flush=True)
