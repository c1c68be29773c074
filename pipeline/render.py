"""Stage 4: rows -> a short friendly answer, checked against the rows, with a deterministic fallback."""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from .errors import ModelUnavailable
from .executor import QueryResult
from .models.base import TextModel
from .prompt import build_answer_prompt


@dataclass(frozen=True)
class RenderedAnswer:
    text: str
    source: str  # "model" or "fallback"
    elapsed_ms: float
    note: str = ""  # why the fallback was used


_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"[\"“']([^\"”']{2,80})[\"”']")


def _number_values(result: QueryResult) -> set[float]:
    vals: set[float] = {float(len(result.rows))}
    for row in result.rows:
        for v in row:
            if isinstance(v, bool):
                continue
            if isinstance(v, (int, float)):
                vals.update({float(v), round(float(v), 2), round(float(v), 1), float(round(v))})
            elif v is not None:
                for m in _NUMBER.findall(str(v)):
                    try:
                        vals.add(float(m.replace(",", "")))
                    except ValueError:
                        pass
    return vals


def is_grounded(text: str, result: QueryResult, question: str = "") -> bool:
    """True when every number and quoted name in `text` appears in the rows, the question, or is the row count."""
    numbers = _number_values(result)
    question_numbers = {float(m.replace(",", "")) for m in _NUMBER.findall(question)}
    for m in _NUMBER.findall(text):
        try:
            n = float(m.replace(",", ""))
        except ValueError:
            return False
        if n in question_numbers:
            continue
        if not any(abs(n - v) <= max(0.011, abs(v) * 1e-6) for v in numbers):
            return False
    cells = " ".join(str(v).lower() for row in result.rows for v in row if v is not None)
    for name in _QUOTED.findall(text):
        if name.lower() not in cells and name.lower() not in question.lower():
            return False
    return True


def deterministic_answer(question: str, result: QueryResult, *, max_chars: int = 1800) -> str:
    """A plain rendering: one value -> a sentence; one column -> bullets; a table -> aligned text."""
    if not result.rows:
        return "I found no matching rows in the database for that question."
    shown = len(result.rows)
    more = " (showing the first {}, there are more)".format(shown) if result.truncated else ""
    if shown == 1 and len(result.columns) == 1:
        return f"The answer is {_fmt(result.rows[0][0])}."
    if len(result.columns) == 1:
        lines = [f"- {_fmt(r[0])}" for r in result.rows]
        text = f"I found {shown} result{'s' if shown != 1 else ''}{more}:\n" + "\n".join(lines)
    elif len(result.columns) == 2 and shown > 1:
        lines = [_pair_line(result.columns[0], r[0], r[1]) for r in result.rows]
        text = f"I found {shown} results{more}:\n" + "\n".join(lines)
    elif shown == 1:
        text = "Here is what I found: " + ", ".join(f"{c}: {_fmt(v)}" for c, v in zip(result.columns, result.rows[0])) + "."
    else:
        text = f"I found {shown} rows{more}:\n" + format_table(result.columns, result.rows)
    return _cap(text, max_chars, shown)


def _pair_line(first_col: str, a, b) -> str:
    # "week 3: Containers" reads better than a two-column table for ordinal first columns.
    if isinstance(a, int) and not isinstance(a, bool):
        return f"- {first_col.replace('_', ' ')} {a}: {_fmt(b)}"
    return f"- {_fmt(a)}: {_fmt(b)}"


def format_table(columns, rows) -> str:
    """Rows as an aligned monospace table."""
    cells = [[str(c) for c in columns]] + [[_fmt(v) for v in r] for r in rows]
    widths = [min(80, max(len(row[i]) for row in cells)) for i in range(len(columns))]
    out = []
    for n, row in enumerate(cells):
        out.append("  ".join(v[:80].ljust(w) for v, w in zip(row, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _cap(text: str, max_chars: int, total: int) -> str:
    if len(text) <= max_chars:
        return text
    lines, used = [], 0
    for line in text.splitlines():
        if used + len(line) + 1 > max_chars - 40:
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines) + f"\n… (cut to fit; {total} rows in all)"


def _fmt(v) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


async def render_answer(
    question: str,
    result: QueryResult,
    *,
    model: TextModel | None,
    timeout_s: float = 20.0,
    max_tokens: int = 80,
    max_chars: int = 1800,
) -> RenderedAnswer:
    """A model-written answer when it is grounded in the rows, else the deterministic one."""
    started = time.perf_counter()
    fallback = deterministic_answer(question, result, max_chars=max_chars)

    def done(text: str, source: str, note: str = "") -> RenderedAnswer:
        return RenderedAnswer(text, source, (time.perf_counter() - started) * 1000, note)

    if model is None or not result.rows:
        return done(fallback, "fallback", "no model" if model is None else "no rows")
    listing = len(result.rows) > 1
    try:
        completion = await asyncio.wait_for(
            model.complete(build_answer_prompt(question, result.columns, result.rows), max_tokens=max_tokens,
                           stop=("\n\n", "Question:")),
            timeout_s,
        )
    except asyncio.TimeoutError:
        return done(fallback, "fallback", f"answer model gave no answer within {timeout_s:g} s")
    except ModelUnavailable as exc:
        return done(fallback, "fallback", str(exc))
    text = " ".join(completion.text.split())
    if listing:
        # A small model summarises a list badly; it writes the lead, the rows are listed verbatim.
        text = _first_sentence(text)
    if not text or not is_grounded(text, result, question):
        return done(fallback, "fallback", "model answer not supported by the rows")
    if listing and not _lead_is_neutral(text, result, question):
        # A lead over a list may only count the rows: "CS 2110 is 3 credits:" above 43 counts misleads.
        return done(fallback, "fallback", "model lead states a value the list does not support")
    if listing:
        body = fallback.split("\n", 1)[1] if "\n" in fallback else fallback
        text = _cap(f"{text}\n{body}", max_chars, len(result.rows))
    return done(text, "model")


def _lead_is_neutral(text: str, result: QueryResult, question: str) -> bool:
    allowed = {float(len(result.rows))} | {float(m.replace(",", "")) for m in _NUMBER.findall(question)}
    return all(float(m.replace(",", "")) in allowed for m in _NUMBER.findall(text))


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.!?:])(\s|$)", text)
    s = (m.group(1) if m else text).strip()
    return s[:-1] + ":" if s.endswith(".") else s
