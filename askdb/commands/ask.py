"""askdb ask / sql / chat / demo: questions and SQL through the real pipeline."""
from __future__ import annotations

import argparse
import json
import sys

from pipeline.errors import UnsafeSql
from pipeline.render import format_table

from ..runtime import open_app
from .common import add_common, config_from

DEMO_QUESTIONS = (
    "What are the major topics in Introduction to Cloud Computing (CE 4229)?",
    "How many credits is Data Structures (CS 2110)?",
    "Which courses are prerequisites for CE 4229?",
)


def register(sub) -> None:
    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--show-sql", action="store_true", help="print the SQL and rows too")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--explain", action="store_true",
                   help="print the SQL the model wrote and each rule that rewrote it before it ran")
    p.add_argument("--chart", metavar="PNG", help="also draw the rows as a line or bar chart into this PNG file")
    p.add_argument("--adapter", help="LoRA adapter directory (default: model.adapter when present)")
    add_common(p)
    p.set_defaults(func=lambda a: _run(ask(a)))

    p = sub.add_parser("sql", help="run SQL through the guard and the read-only executor")
    p.add_argument("sql")
    p.add_argument("--json", action="store_true")
    add_common(p)
    p.set_defaults(func=lambda a: _run(run_sql(a)))

    p = sub.add_parser("chat", help="interactive terminal chat")
    add_common(p)
    p.set_defaults(func=lambda a: _run(chat(a)))

    p = sub.add_parser("demo", help="set up the embedded database and answer three sample questions")
    add_common(p)
    p.set_defaults(func=lambda a: _run(demo(a)))


def _run(coro) -> int:
    import asyncio

    return asyncio.run(coro)


def print_answer(ans, *, show_sql: bool, out=None) -> None:
    """Human rendering of an Answer."""
    out = out or sys.stdout  # looked up per call: a default bound at import would outlive a redirected stdout
    if show_sql and ans.sql:
        print(f"SQL: {ans.sql}", file=out)
    if show_sql and ans.columns:
        print(format_table(ans.columns, ans.rows[:20]), file=out)
        if len(ans.rows) > 20:
            print(f"... {len(ans.rows) - 20} more rows", file=out)
    print(ans.answer, file=out)


def print_explanation(ans, out=None) -> None:
    """Why the SQL that ran differs from what the model wrote: each mend rule's rewrite, in order."""
    out = out or sys.stdout
    wrote = ans.mends[0].before if ans.mends else ans.sql
    print(f"\nThe model wrote: {wrote}", file=out)
    for c in ans.mends:
        print(f"  {c.rule}: {c.after}", file=out)
    print(f"Ran: {ans.sql}" if ans.mends else "Ran as written (no rule changed it).", file=out)
    if ans.vote:
        print(f"Chosen by agreement: {ans.vote}", file=out)


async def ask(args) -> int:
    cfg = config_from(args)
    async with open_app(cfg, database=args.database, adapter=args.adapter) as app:
        ans = await app.pipeline.answer(args.question)
    if args.json:
        print(json.dumps(ans.to_json(), default=str, ensure_ascii=False))
    else:
        print_answer(ans, show_sql=args.show_sql)
    if args.explain and not args.json:
        print_explanation(ans)
    if args.chart and ans.ok:
        write_chart(ans, args.chart)
    return 0 if ans.ok else 1


def write_chart(ans, path: str, *, err=None) -> bool:
    """Draw the answer's rows into `path`; says on stderr why not when no chart fits or drawing fails."""
    from bot.charts import ChartFailed, make_chart

    err = err or sys.stderr
    try:
        chart = make_chart(ans.columns, ans.rows, title=ans.question)
    except ChartFailed as exc:
        print(f"askdb: no chart: {exc}", file=err)
        return False
    if chart is None:
        print("askdb: no chart: it needs at least two rows of a category or a time column and a number, "
              "and at most three columns", file=err)
        return False
    try:
        with open(path, "wb") as f:
            f.write(chart.png)
    except OSError as exc:
        print(f"askdb: could not write the chart to {path}: {exc.strerror or exc}", file=err)
        return False
    print(f"{chart.plan.alt_text} written to {path}", file=err)
    return True


async def run_sql(args) -> int:
    cfg = config_from(args)
    async with open_app(cfg, database=args.database, with_model=False) as app:
        from ..runtime import guard_policy, pipeline_settings
        from pipeline.executor import execute
        from pipeline.guard import check_sql

        try:
            checked = check_sql(args.sql, guard_policy(cfg, app.schema))
        except UnsafeSql as exc:
            print(f"askdb: {exc}", file=sys.stderr)
            return 2
        result = await execute(app.pool, checked.sql, pipeline_settings(cfg).limits)
    if args.json:
        print(json.dumps({"sql": checked.sql, "columns": list(result.columns), "rows": [list(r) for r in result.rows],
                          "truncated": result.truncated}, default=str))
    else:
        print(format_table(result.columns, result.rows))
        print(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''}"
              f"{', cut at the row cap' if result.truncated else ''})")
    return 0


async def chat(args) -> int:
    from bot.terminal import run_terminal_chat

    from .serve import conversations

    cfg = config_from(args)
    async with open_app(cfg, database=args.database) as app:
        await run_terminal_chat(app.pipeline, conversations=conversations(cfg))
    return 0


async def demo(args) -> int:
    from .db import init_database

    cfg = config_from(args)
    print("Setting up the course database (embedded PostgreSQL unless database.url is set)...", flush=True)
    await init_database(cfg, args.database, quiet=False)
    async with open_app(cfg, database=args.database) as app:
        print(f"Model: {app.model.name}\n", flush=True)
        for q in DEMO_QUESTIONS:
            ans = await app.pipeline.answer(q)
            print(f"Q: {q}")
            print_answer(ans, show_sql=True)
            print(f"({ans.timings_ms.get('total', 0) / 1000:.1f} s)\n", flush=True)
    return 0
