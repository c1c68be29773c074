"""Charts of an answer's rows: which picture fits (from the columns' types and the row count, never the model's
say) and the PNG, drawn in process with matplotlib's Agg canvas.

A time or ordered column and a number make a line; a category and a number make bars (horizontal when the labels
are long or many, at most `MAX_BARS`); one row, a single number or a table wider than three columns make none.
matplotlib is imported only when a chart is drawn, so importing this module costs nothing at startup.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from pipeline.errors import AskdbError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .core import Reply

log = logging.getLogger("askdb.bot.charts")

MAX_BARS = 30
MAX_COLUMNS = 3
LONG_LABEL = 10  # characters: longer labels, or more than MANY_BARS of them, lay the bars on their side
MANY_BARS = 12
_TIME_WORDS = frozenset({"year", "quarter", "month", "week", "day", "date", "hour", "minute"})


class ChartFailed(AskdbError):
    """matplotlib could not draw a chart for these rows; the answer's text is unaffected."""


@dataclass(frozen=True)
class ChartPlan:
    kind: str  # "line", "bars" or "barh"
    x: str  # the column on the axis (line) or of the labels (bars)
    y: str  # the column of the numbers
    points: tuple[tuple, ...]  # (x, y) pairs as drawn: a line's sorted by x, bars cut to the top MAX_BARS
    total: int  # rows that had a number; more than len(points) when bars were cut

    @property
    def note(self) -> str:
        """What a reader must know that the picture does not say ('' when nothing)."""
        return f"top {len(self.points)} of {self.total} by {self.y}" if len(self.points) < self.total else ""

    @property
    def alt_text(self) -> str:
        word = "Line chart" if self.kind == "line" else "Bar chart"
        return f"{word} of {self.y} by {self.x}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Chart:
    png: bytes
    plan: ChartPlan
    filename: str = "chart.png"


def plan_chart(columns: Sequence[str], rows: Sequence[tuple]) -> ChartPlan | None:
    """The chart that fits a result, or None: fewer than two rows, wider than three columns, or no pair fits."""
    if len(rows) < 2 or not 2 <= len(columns) <= MAX_COLUMNS:
        return None
    cols = [[row[i] for row in rows] for i in range(len(columns))]
    kinds = [_kind(name, values) for name, values in zip(columns, cols)]
    numbers = [i for i, k in enumerate(kinds) if k == "number"]
    for i, kind in enumerate(kinds):
        # a plain number is an axis only as the first column, rising: the query ordered by it (a ranking orders
        # by its measure, which comes later and usually falls)
        axis = kind in ("time", "ordered") or (kind == "number" and i == 0 and len(numbers) > 1 and _rising(cols[i]))
        y = next((j for j in numbers if j != i), None)
        if axis and y is not None and _unique(cols[i]):
            pairs = [(_axis_value(x), v) for x, v in zip(cols[i], cols[y]) if x is not None and v is not None]
            if len(pairs) >= 2:
                return ChartPlan("line", columns[i], columns[y], tuple(sorted(pairs)), len(pairs))
    for i, kind in enumerate(kinds):
        y = next((j for j in numbers if j != i), None)
        if kind in ("text", "key") and y is not None and _unique(cols[i]):
            return _bars(columns[i], columns[y], cols[i], cols[y])
    return None


def make_chart(columns: Sequence[str], rows: Sequence[tuple], *, title: str) -> Chart | None:
    """The PNG chart of a result, or None when none fits; raises ChartFailed when drawing fails."""
    try:
        plan = plan_chart(columns, rows)
        return None if plan is None else Chart(render_png(draw_chart(plan, title=title)), plan)
    except Exception as exc:  # noqa: BLE001 - the boundary to matplotlib and odd values: one ChartFailed
        raise ChartFailed(f"could not draw a chart ({type(exc).__name__}: {exc})") from exc


async def chart_for(reply: "Reply") -> Chart | None:
    """The chart of an answered reply, drawn off the event loop; None when none fits or drawing failed (logged)."""
    if not reply.ok or not reply.rows:
        return None
    try:
        return await asyncio.to_thread(make_chart, reply.columns, reply.rows, title=reply.question)
    except ChartFailed as exc:
        log.warning(json.dumps({"event": "chart_failed", "error": str(exc)}), exc_info=exc.__cause__)
        return None


def draw_chart(plan: ChartPlan, *, title: str) -> "Figure":
    """A matplotlib Figure of the plan, sized for a chat window; axis labels are the column names."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n = len(plan.points)
    height = max(3.6, 0.32 * n + 1.6) if plan.kind == "barh" else 4.2
    fig = Figure(figsize=(8, height), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    xs, ys = [p[0] for p in plan.points], [p[1] for p in plan.points]
    whole = all(float(v).is_integer() for v in ys)
    if plan.kind == "line":
        ax.plot(xs, ys, color="#3366aa", linewidth=2.2, marker="o" if n <= 40 else None, markersize=5)
        ax.set_xlabel(plan.x, fontsize=11)
        ax.set_ylabel(plan.y, fontsize=11)
        _value_axis(ax.yaxis, whole)
        if isinstance(xs[0], dt.datetime):
            from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

            locator = AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        elif all(float(x).is_integer() for x in xs):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
    else:
        labels = [_clip_middle(str(x), 32) for x in xs]
        if plan.kind == "barh":
            bars = ax.barh(range(n), ys, color="#3366aa")
            ax.set_yticks(range(n), labels, fontsize=10)
            ax.invert_yaxis()  # the first row on top, as in the table
            ax.set_xlabel(plan.y, fontsize=11)
            ax.set_ylabel(plan.x, fontsize=11)
            _value_axis(ax.xaxis, whole)
            ax.grid(axis="x", alpha=0.3)
        else:
            bars = ax.bar(range(n), ys, color="#3366aa")
            ax.set_xticks(range(n), labels, fontsize=10)
            ax.set_xlabel(plan.x, fontsize=11)
            ax.set_ylabel(plan.y, fontsize=11)
            _value_axis(ax.yaxis, whole)
            ax.grid(axis="y", alpha=0.3)
        small = max(abs(v) for v in ys) < 1
        ax.bar_label(bars, labels=[_number(v) if whole or small else f"{v:,.2f}" for v in ys], padding=3, fontsize=9)
        ax.margins(x=0.08, y=0.01) if plan.kind == "barh" else ax.margins(y=0.1)
        ax.set_axisbelow(True)
    ax.tick_params(labelsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(_title(title), fontsize=13)
    if plan.note:
        ax.set_title(f"({plan.note})", fontsize=10, color="#555555")
    return fig


def render_png(fig: "Figure") -> bytes:
    """The figure as PNG bytes through the Agg canvas (no display, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _value_axis(axis, whole: bool) -> None:
    """Thousands separators; whole numbers (counts) get whole ticks."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    if whole:
        axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    else:
        axis.get_major_formatter().set_useOffset(False)


def _bars(x: str, y: str, labels: list, values: list) -> ChartPlan | None:
    pairs = [("(none)" if label is None else str(label), v) for label, v in zip(labels, values) if v is not None]
    if len(pairs) < 2:
        return None
    shown = pairs if len(pairs) <= MAX_BARS else sorted(pairs, key=lambda p: -p[1])[:MAX_BARS]
    sideways = len(shown) > MANY_BARS or max(len(label) for label, _ in shown) > LONG_LABEL
    return ChartPlan("barh" if sideways else "bars", x, y, tuple(shown), len(pairs))


def _kind(name: str, values: list) -> str:
    """number, ordered (a number named like a time unit), key (an id), time (ISO date/time text), text, empty or
    other (arrays, JSON, booleans: never drawn)."""
    present = [v for v in values if v is not None]
    if not present:
        return "empty"
    words = name.lower().replace(" ", "_").split("_")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if words[-1] == "id":
            return "key"  # an identifier is a label, never a quantity
        return "ordered" if _TIME_WORDS & set(words) else "number"
    if not all(isinstance(v, str) for v in present):
        return "other"
    return "time" if all(_parse_time(v) is not None for v in present) else "text"


def _parse_time(text: str) -> dt.datetime | None:
    """An ISO date, date-time or time of day (how the executor hands them over), else None."""
    try:
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            value = dt.datetime.fromisoformat(text)
            return value.replace(tzinfo=None) if value.tzinfo else value
        if len(text) >= 5 and text[2] == ":":
            return dt.datetime.combine(dt.date(2000, 1, 1), dt.time.fromisoformat(text))
    except ValueError:
        return None
    return None


def _axis_value(value):
    return _parse_time(value) if isinstance(value, str) else value


def _unique(values: list) -> bool:
    present = [v for v in values if v is not None]
    return len(set(present)) == len(present)


def _rising(values: list) -> bool:
    steps = [b - a for a, b in zip(values, values[1:]) if a is not None and b is not None]
    return bool(steps) and all(s > 0 for s in steps)


def _number(value: float) -> str:
    value = float(value)
    if value.is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def _title(question: str) -> str:
    """The question on at most two lines."""
    return "\n".join(textwrap.wrap(textwrap.shorten(question, 140, placeholder=" …"), 72))


def _clip_middle(text: str, limit: int) -> str:
    """Long labels keep their start and their end, where similar names usually differ."""
    return text if len(text) <= limit else text[: limit - 12] + "…" + text[-11:]
