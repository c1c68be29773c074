"""The values a statement filters on that its question never names: the commonest way a small model goes wrong is
copying a filter ('d.code = 'EE'') from a retrieved example into a question that does not ask for it."""
from __future__ import annotations

import sqlglot
from sqlglot import exp

from .words import singular, words

# Comparisons whose literal picks rows: a value the question should have named.
_FILTERS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In, exp.Between)
_SPELLED = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
            "nine": "9", "ten": "10", "twenty": "20", "hundred": "100", "thousand": "1000", "both": "2",
            "twice": "2", "pair": "2", "single": "1", "once": "1"}


def filter_literals(sql: str) -> list[str]:
    """The literal values a statement compares columns with (WHERE, HAVING, ON), as text; [] if it does not parse."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return []
    # Each literal once, where a comparison is the nearest thing above it; a LIMIT (say of a subquery in an
    # IN (...)) bounds rows, it picks none.
    return [lit.this for lit in tree.find_all(exp.Literal)
            if lit.find_ancestor(*_FILTERS) is not None
            and not isinstance(lit.find_ancestor(exp.Limit, exp.Select), exp.Limit)]


def named(value: str, question: str) -> bool:
    """Whether the question names `value`: every word of it appears (singular or plural, numbers spelled or not),
    or, for a date, its year does. Wildcards and case do not matter."""
    said = set(words(question))
    said |= {singular(w) for w in said} | {_SPELLED[w] for w in said if w in _SPELLED}
    parts = [w for w in words(value.replace("%", " ")) if w]
    if not parts:
        return True
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4:  # '2026-09-01': the year
        return parts[0] in said
    return all(p in said or singular(p) in said or p.lstrip("0") in said for p in parts)


def unnamed_literals(sql: str, question: str) -> list[str]:
    """The values `sql` filters on that `question` never names (0 and 1 excepted: they are flags and bounds)."""
    return [v for v in filter_literals(sql) if v not in ("0", "1") and not named(v, question)]
