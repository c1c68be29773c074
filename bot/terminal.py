"""The terminal chat: the first platform adapter."""
from __future__ import annotations

import asyncio
import sys


async def run_terminal_chat(pipeline, *, stdin=sys.stdin, stdout=sys.stdout) -> None:
    """Read questions line by line until EOF or 'quit'; print each answer (with SQL after '/sql')."""
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
        ans = await pipeline.answer(line)
        if show_sql and ans.sql:
            print(f"SQL: {ans.sql}", file=stdout)
        print(ans.answer + "\n", file=stdout, flush=True)
