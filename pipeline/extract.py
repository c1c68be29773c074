"""Pull exactly one SQL statement out of a model's free text."""
from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

_FENCE = re.compile(r"```(?:[a-zA-Z]*)\s*\n?(.*?)(?:```|$)", re.S)
# "with" is common English: only a real CTE opener counts.
_START = re.compile(r"\bSELECT\b|\bWITH\s+(?:RECURSIVE\s+)?\w+\s*(?:\([^)]*\)\s*)?AS\s*(?:NOT\s+)?(?:MATERIALIZED\s+)?\(", re.I)
_OTHER_SQL = re.compile(r"^\s*(INSERT|UPDATE|DELETE|DROP|CREATE|ALTER|TRUNCATE|GRANT|REVOKE|COPY|CALL|DO|SET|VACUUM)\b",
                        re.I | re.M)
# Prose that models append after the statement ("This query returns ...").
_TRAILING_PROSE = re.compile(r"\n\s*(?:this|the above|here|note|explanation|it|which|where the)\b.*", re.I | re.S)


def extract_sql(text: str) -> str:
    """The first SQL statement in `text` (code fences, 'SQL:' prefixes and trailing prose removed); '' if none."""
    text = text.strip()
    fenced = _FENCE.findall(text)
    candidates = [f for f in fenced if _START.search(f)] or [text]
    body = candidates[0]
    m = _START.search(body)
    if not m:
        # A write or DDL statement is still returned so the guard can say exactly why it is refused.
        other = _OTHER_SQL.search(body)
        if not other:
            return ""
        m = other
    body = body[m.start():]
    body = _TRAILING_PROSE.sub("", body)
    body = _first_statement(body)
    body = re.sub(r"\s+", " ", body).strip()
    return complete_statement(body.rstrip(";").strip())


# Clauses a statement has once at its own level; a second one there means the model started over.
_CLAUSES = frozenset({"SELECT", "FROM", "WHERE", "GROUP_BY", "HAVING", "ORDER_BY", "LIMIT", "OFFSET"})
_SET_OPERATORS = frozenset({"UNION", "INTERSECT", "EXCEPT"})


def complete_statement(sql: str) -> str:
    """`sql` where it parses as one SELECT; else, where the model started a clause over at the statement's own level
    ('... LIMIT 1 FROM airline ...', a second WHERE), the statement it had finished before, if that parses and still
    reads a table. A clause left unfinished ('WHERE (') is not cut away: the guard refuses it and candidates follow."""
    if _one_select(sql):
        return sql
    try:
        tokens = sqlglot.tokenize(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return sql
    depth, seen = 0, set()
    for token in tokens:
        kind = token.token_type.name
        if kind == "L_PAREN":
            depth += 1
        elif kind == "R_PAREN":
            depth -= 1
        elif depth == 0 and kind in _SET_OPERATORS:
            seen = set()  # the next SELECT starts a statement of its own
        elif depth == 0 and kind in _CLAUSES:
            if kind in seen:
                prefix = sql[:token.start].rstrip()
                tree = _one_select(prefix)
                return prefix if tree is not None and tree.find(exp.From) is not None else sql
            seen.add(kind)
    return sql


def _one_select(sql: str) -> exp.Expression | None:
    """The tree of `sql` when it is exactly one SELECT (or set operation), else None."""
    if not sql:
        return None
    try:
        parsed = [s for s in sqlglot.parse(sql, read="postgres") if s is not None]
    except sqlglot.errors.SqlglotError:
        return None
    ok = len(parsed) == 1 and isinstance(parsed[0], (exp.Select, exp.SetOperation, exp.Subquery))
    return parsed[0] if ok else None


def _first_statement(sql: str) -> str:
    """Cut at the first semicolon outside quotes; later statements are never kept."""
    quote = None
    i = 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif ch == ";":
            return sql[:i]
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            sql = sql[:i] + ("" if j == -1 else sql[j:])
            continue
        i += 1
    return sql
