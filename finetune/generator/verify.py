"""Every pair is checked: it parses, the guard passes it, it runs read-only in time, and the question names its values."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Sequence

import asyncpg
import sqlglot
from sqlglot import exp

from finetune.evaluate import gold_order_key
from pipeline.errors import QueryFailed, QueryTimeout, UnsafeSql
from pipeline.executor import ExecLimits, QueryResult, execute
from pipeline.guard import GuardPolicy, check_sql


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # why it was rejected: parse, guard, timeout, db_error, empty, tie
    detail: str = ""
    result: QueryResult | None = None


async def verify_sql(pool: asyncpg.Pool, sql: str, policy: GuardPolicy, limits: ExecLimits, *,
                     require_rows: bool = True) -> Verdict:
    """Parse, guard and run `sql` read-only; a Verdict saying whether it may be kept."""
    try:
        sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError as exc:
        return Verdict(False, "parse", str(exc).splitlines()[0])
    try:
        checked = check_sql(sql, policy)
    except UnsafeSql as exc:
        return Verdict(False, "guard", exc.reason)
    try:
        result = await execute(pool, checked.sql, limits)
    except QueryTimeout as exc:
        return Verdict(False, "timeout", str(exc))
    except QueryFailed as exc:
        return Verdict(False, "db_error", exc.pg_message)
    if require_rows and (not result.rows or all(v is None for r in result.rows for v in r)):
        return Verdict(False, "empty", "no rows", result)
    if await _tied_at_limit(pool, checked.sql, result.columns, limits):
        return Verdict(False, "tie", "the row after the LIMIT sorts equal to the last one kept", result)
    return Verdict(True, result=result)


def limit_cut(sql: str) -> tuple[str, int] | None:
    """For a top-level ORDER BY ... LIMIT k: the statement with LIMIT k + 1, and k; None otherwise."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return None
    limit = tree.args.get("limit")
    if not isinstance(tree, exp.Select) or tree.args.get("order") is None or limit is None:
        return None
    count = limit.expression
    if not (isinstance(count, exp.Literal) and not count.is_string and count.this.isdigit()):
        return None
    k = int(count.this)
    return tree.limit(k + 1).sql(dialect="postgres"), k


async def _tied_at_limit(pool: asyncpg.Pool, sql: str, columns: Sequence[str], limits: ExecLimits) -> bool:
    # 'The instructor with the most sections' has no single answer when two share the most: the pair would teach
    # (and score) an arbitrary row.
    cut = limit_cut(sql)
    keys = gold_order_key(sql, columns) if cut else None  # the sort keys among the output columns, as EX reads them
    if not keys:
        return False
    wider, k = cut
    try:
        rows = (await execute(pool, wider, limits)).rows
    except (QueryTimeout, QueryFailed):
        return False
    return len(rows) > k > 0 and all(rows[k - 1][i] == rows[k][i] for i in keys)


async def verify_many(pool: asyncpg.Pool, sqls: Sequence[str], policy: GuardPolicy, limits: ExecLimits, *,
                      require_rows: bool | Sequence[bool] = True, concurrency: int = 8) -> list[Verdict]:
    """verify_sql for each statement (require_rows: one flag for all, or one per statement), `concurrency` at once,
    in input order."""
    gate = asyncio.Semaphore(concurrency)
    flags = [require_rows] * len(sqls) if isinstance(require_rows, bool) else list(require_rows)

    async def one(sql: str, rows: bool) -> Verdict:
        async with gate:
            return await verify_sql(pool, sql, policy, limits, require_rows=rows)

    return list(await asyncio.gather(*(one(s, r) for s, r in zip(sqls, flags, strict=True))))


# ---- round trip: the question and the SQL name the same values -------------------------------------

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")


def sql_values(sql: str) -> list[str]:
    """The literal values a question must mention: strings (LIKE wildcards dropped), numbers, LIMIT above 1."""
    tree = sqlglot.parse_one(sql, read="postgres")
    out = []
    for lit in tree.find_all(exp.Literal):
        parent = lit.parent
        if isinstance(parent, exp.Select) or (isinstance(parent, exp.Limit) and lit.this == "1"):
            continue
        if isinstance(parent, exp.Limit) or isinstance(lit.find_ancestor(exp.Where, exp.Having, exp.Join, exp.Limit),
                                                        (exp.Where, exp.Having, exp.Join, exp.Limit)):
            out.append(lit.this.strip("%") if lit.is_string else lit.this)
    return out


def _forms(value: str) -> list[str]:
    """Ways a literal may be written in a question: '09:00' as '9am', '2027-01-01' as the year before."""
    v = value.lower()
    forms = [v]
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", v)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
        if (mo, d) == (1, 1):
            forms += [str(y), str(y - 1)]
        forms += [f"{_MONTHS[mo - 1]} {d}, {y}", f"{_MONTHS[mo - 1]} {d} {y}"]
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::00)?", v)
    if m:
        h, mi = int(m[1]), m[2]
        h12 = h % 12 or 12
        ap = "am" if h < 12 else "pm"
        forms += [f"{h}:{mi}", f"{h12}:{mi}{ap}", f"{h12}:{mi} {ap}"]
        if mi == "00":
            forms += [f"{h12}{ap}", f"{h12} {ap}", f"{h12} o'clock"]
    return forms


def _contains(text: str, needle: str) -> bool:
    return re.search(r"(?<![a-z0-9])" + re.escape(needle) + r"(?![a-z0-9])", text) is not None


def entity_problem(question: str, sql: str, *, relative: dict | None = None,
                   known_values: frozenset[str] = frozenset()) -> str | None:
    """Why the question and the SQL disagree on values ('entity_missing' / 'entity_extra'), else None."""
    q = " ".join(question.lower().split())
    try:
        values = sql_values(sql)
    except sqlglot.errors.SqlglotError:
        return "parse"
    relative = {k.lower(): v for k, v in (relative or {}).items()}
    for v in values:
        if any(_contains(q, f) for f in _forms(v)):
            continue
        if any(_contains(q, p.lower()) for p in relative.get(v.lower(), ())):
            continue
        return "entity_missing"
    lits = " | ".join(v.lower() for v in values)
    # Numbers in the question must come from the SQL (a code, a year in a date, a LIMIT...).
    for num in re.findall(r"\d+(?::\d+)?", q):
        if not any(num in f for v in values for f in _forms(v)) and num.lstrip("0") not in lits:
            return "entity_extra"
    for quoted in re.findall(r"['\"]([^'\"]{2,})['\"]", question):
        if quoted.lower() not in lits:
            return "entity_extra"
    for known in known_values:
        # The plain substring test first: a regex per stored value and question was most of a run's time.
        if known in q and _contains(q, known) and known not in lits:
            return "entity_extra"
    return None
