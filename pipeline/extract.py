"""Pull exactly one SQL statement out of a model's free text."""
from __future__ import annotations

import re

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
    return body.rstrip(";").strip()


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
