"""Execution accuracy (EX): questions through the real pipeline, predicted and gold SQL run and compared.

    askdb eval --questions finetune/eval/course_dev.jsonl --compare

Two results match when they hold the same rows (a multiset; in order only when the gold SQL has a
top-level ORDER BY) with the columns in any order, numbers equal within a small tolerance. A question may list
`alternatives`, other acceptable gold statements: matching any of them counts. With `subset` (sql-eval's rule)
the prediction may also carry extra columns; the report then gives strict and subset EX side by side.
"""
from __future__ import annotations

import asyncio
import functools
import itertools
import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import sqlglot
from sqlglot import exp

from pipeline.errors import AskdbError, ConfigError
from pipeline.executor import ExecLimits, QueryResult, execute
from pipeline.literals import unnamed_literals
from pipeline.prompt import Example

REL_TOL, ABS_TOL = 1e-6, 0.01
EVAL_LIMITS = ExecLimits(statement_timeout_ms=10_000, max_rows=10_000, max_result_bytes=20_000_000)


@dataclass(frozen=True)
class EvalItem:
    question: str
    sql: str
    shape: str = ""
    difficulty: str = ""
    alternatives: tuple[str, ...] = ()  # other acceptable gold statements
    previous: tuple[Example, ...] = ()  # a follow-up's earlier turn, asked with it as a chat thread would
    in_scope: bool = True  # False: a question the database cannot answer (no gold SQL), to be refused

    @property
    def gold_sqls(self) -> tuple[str, ...]:
        return (self.sql, *self.alternatives)


@dataclass(frozen=True)
class ItemResult:
    question: str
    gold_sql: str
    predicted_sql: str
    correct: bool
    reason: str = ""  # syntax error, no sql, refused, sql error, wrong result, timeout, model error, gold failed
    detail: str = ""
    shape: str = ""
    difficulty: str = ""
    latency_ms: float = 0.0
    attempts: int = 0
    subset_correct: bool = False  # every gold column among the predicted ones, rows the same (sql-eval's rule)
    unnamed: tuple[str, ...] = ()  # values the predicted SQL filters on that the question never names
    in_scope: bool = True
    kind: str = "answer"  # the pipeline's Answer.kind: answer, out_of_scope or clarify
    written_sql: str = ""  # the statement as the model wrote it, where the mends then changed it
    mended_by: tuple[str, ...] = ()  # the mend rules that changed it, in order (for `make quality --ablate-rules`)
    chosen: int = 0  # with sql.vote_candidates: which of the model's statements the vote answered (0: its first)


@dataclass(frozen=True)
class EvalReport:
    label: str
    model: str
    few_shot_k: int
    results: tuple[ItemResult, ...]
    wall_s: float
    overlap: int = 0  # evaluation questions also present in the few-shot example files
    extra: dict = field(default_factory=dict)
    subset: bool = False  # subset EX scored too

    @property
    def scored(self) -> list[ItemResult]:
        """Results that count: a gold query that itself fails is a data bug, reported but not scored; a question
        out of scope has no gold (scope_rates scores it)."""
        return [r for r in self.results if r.reason != "gold failed" and r.in_scope]

    def scope_rates(self) -> dict:
        """With out-of-scope questions in the file: the share of them answered with SQL anyway, and of the
        in-scope ones refused (told out of scope or asked back); {} otherwise."""
        out = [r for r in self.results if not r.in_scope]
        if not out:
            return {}
        inside = [r for r in self.results if r.in_scope]
        answered = sum(r.kind == "answer" for r in out)
        refused = sum(r.kind != "answer" for r in inside)
        return {"scope": {"out_of_scope_n": len(out), "out_of_scope_answered": answered,
                          "out_of_scope_answered_rate": round(answered / len(out), 4),
                          "in_scope_n": len(inside), "in_scope_refused": refused,
                          "in_scope_refused_rate": round(refused / len(inside), 4) if inside else None}}

    @property
    def execution_accuracy(self) -> float:
        scored = self.scored
        return sum(r.correct for r in scored) / len(scored) if scored else 0.0

    @property
    def subset_accuracy(self) -> float:
        scored = self.scored
        return sum(r.subset_correct for r in scored) / len(scored) if scored else 0.0

    def unnamed_rates(self) -> dict:
        """The share of statements filtering on a value their question never names: the model's (copied from an
        example, or invented) beside the gold's own (conventions the question leaves unsaid, such as a status)."""
        made = [r for r in self.scored if r.predicted_sql]
        gold = [r for r in self.scored if unnamed_literals(r.gold_sql, r.question)]
        return {"unnamed_literal_rate": round(sum(bool(r.unnamed) for r in made) / len(made), 4) if made else None,
                "gold_unnamed_literal_rate": round(len(gold) / len(self.scored), 4) if self.scored else None}

    def vote_counts(self) -> dict:
        """Where candidates were voted on: how many answers the vote took from other than the model's first
        statement, and how many of those were right; {} where it never did."""
        other = [r for r in self.scored if r.chosen > 0]
        if not other:
            return {}
        return {"vote_chose_other": len(other), "vote_chose_other_correct": sum(r.correct for r in other),
                "vote_chose_other_subset_correct": sum(r.subset_correct for r in other)}

    def to_json(self) -> dict:
        """The object `askdb eval --json` prints."""
        lat = sorted(r.latency_ms for r in self.results if r.latency_ms)
        reasons: dict[str, int] = {}
        for r in self.results:
            if not r.correct:
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
        subset = {"subset_correct": sum(r.subset_correct for r in self.scored),
                  "subset_execution_accuracy": round(self.subset_accuracy, 4)} if self.subset else {}
        return {
            "label": self.label, "model": self.model, "few_shot_k": self.few_shot_k, "n": len(self.scored),
            "correct": sum(r.correct for r in self.scored), "execution_accuracy": round(self.execution_accuracy, 4),
            **subset,
            "by_shape": _breakdown(self.scored, "shape"), "by_difficulty": _breakdown(self.scored, "difficulty"),
            "failure_reasons": reasons, **self.unnamed_rates(), **self.scope_rates(), **self.vote_counts(),
            "latency_ms_p50": _percentile(lat, 50), "latency_ms_mean":
            round(statistics.fmean(lat), 1) if lat else None, "latency_ms_p95": _percentile(lat, 95),
            "wall_s": round(self.wall_s, 1), "questions_in_few_shot_files": self.overlap, **self.extra,
            "failures": [asdict(r) for r in self.results if not r.correct],
            "mended": [asdict(r) for r in self.results if r.mended_by],
        }


def spread_sample(items: Sequence, n: int) -> list:
    """`n` items evenly spaced through the file, so a quick run keeps the file's mix of shapes."""
    if n <= 0 or n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def read_items(path: str | Path, *, limit: int | None = None) -> list[EvalItem]:
    """{"question", "sql", "shape"?, "difficulty"?, "alternatives"?, "previous"?: {"question", "sql"}} lines
    (sql-eval's "category" read as the shape; "previous" the turn a follow-up continues); a bad line is an error
    naming file and line."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the questions file ({exc.strerror})") from exc
    items = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            alternatives = row.get("alternatives") or []
            if not isinstance(alternatives, list) or not all(isinstance(a, str) for a in alternatives):
                raise TypeError
            previous = (Example(row["previous"]["question"], row["previous"]["sql"]),) if row.get("previous") else ()
            in_scope = row.get("in_scope", True)
            if not isinstance(in_scope, bool):
                raise TypeError
            sql = row["sql"] if in_scope else row.get("sql", "")
            items.append(EvalItem(row["question"], sql, str(row.get("shape") or row.get("category") or ""),
                                  str(row.get("difficulty", "")), tuple(alternatives), previous, in_scope))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(f"{path}:{n}", 'expected a JSON object with "question", "sql" and, if any, '
                                             '"alternatives" as a list of statements, "in_scope" true or false (false: "sql" may be left out)') from None
    if not items:
        raise ConfigError(str(path), "no questions in the file")
    return items[:limit] if limit else items


# --- comparing results -------------------------------------------------------------------------

def values_equal(a, b) -> bool:
    """Equal values; numbers within 1e-6 relative or 0.01 absolute."""
    if _is_number(a) and _is_number(b):
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _sort_key(v):
    # Numbers sort by value so that, column by column, the sorted pairing is the tolerant matching.
    if v is None:
        return (0, 0.0, "")
    if _is_number(v):
        return (1, float(v), "")
    return (2, 0.0, json.dumps(v, default=str, sort_keys=True))


def rows_match(gold: Sequence[Sequence], pred: Sequence[Sequence], *, ordered: bool,
               order_key: Sequence[int] | None = None) -> bool:
    """Same rows (columns already aligned): in sequence when `ordered`, else as multisets.

    With `order_key` (the gold columns its ORDER BY sorts on), rows tied on that key may come in any order:
    the gold statement does not order them either."""
    if len(gold) != len(pred):
        return False
    if ordered and order_key:
        start = 0
        for end in range(1, len(gold) + 1):
            if end == len(gold) or any(not values_equal(gold[end][j], gold[start][j]) for j in order_key):
                if not rows_match(gold[start:end], pred[start:end], ordered=False):
                    return False
                start = end
        return True
    if ordered:
        return all(values_equal(g, p) for g, p in zip(gold, pred))
    key = lambda r: tuple(_sort_key(v) for v in r)  # noqa: E731
    if all(values_equal(g, p) for g, p in zip(sorted(gold, key=key), sorted(pred, key=key))):
        return True
    # Tolerance can reorder near-equal rows; an exact greedy match settles those rare cases.
    unused = list(pred)
    for g in gold:
        hit = next((i for i, p in enumerate(unused) if values_equal(g, p)), None)
        if hit is None:
            return False
        unused.pop(hit)
    return True


def results_match(gold_columns: Sequence[str], gold_rows: Sequence[Sequence], pred_columns: Sequence[str],
                  pred_rows: Sequence[Sequence], *, ordered: bool, order_key: Sequence[int] | None = None,
                  subset: bool = False) -> bool:
    """EX: the same rows under some permutation of the predicted columns (names are ignored); with `subset`,
    under some choice of as many predicted columns as the gold has (the others are extra, sql-eval's rule)."""
    width, pred_width = len(gold_columns), len(pred_columns)
    if (pred_width < width if subset else pred_width != width) or len(gold_rows) != len(pred_rows):
        return False
    if width == 0 or not gold_rows:
        return True
    # A column can only map to one holding the same multiset of values: that prunes the permutations.
    sorted_cols = lambda rows, j: sorted((r[j] for r in rows), key=_sort_key)  # noqa: E731
    gold_cols = [sorted_cols(gold_rows, j) for j in range(width)]
    pred_cols = [sorted_cols(pred_rows, k) for k in range(pred_width)]
    candidates = [[k for k in range(pred_width) if all(values_equal(a, b) for a, b in zip(gold_cols[j], pred_cols[k]))]
                  for j in range(width)]
    for perm in itertools.islice(_permutations(candidates), 5000):
        if rows_match(gold_rows, [tuple(r[k] for k in perm) for r in pred_rows], ordered=ordered, order_key=order_key):
            return True
    return False


def _permutations(candidates: list[list[int]], chosen: tuple[int, ...] = ()):
    if len(chosen) == len(candidates):
        yield chosen
        return
    for k in candidates[len(chosen)]:
        if k not in chosen:
            yield from _permutations(candidates, chosen + (k,))


@functools.lru_cache(maxsize=512)
def _parse_gold(sql: str):
    """The gold statement's tree (read, never changed), parsed once per statement; None when unparsable."""
    try:
        return sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return None


def gold_is_ordered(sql: str) -> bool:
    """True when the statement's top level has ORDER BY (then row order is part of the answer)."""
    tree = _parse_gold(sql)
    return tree is not None and tree.args.get("order") is not None


def gold_order_key(sql: str, columns: Sequence[str]) -> tuple[int, ...] | None:
    """The result columns the gold's top-level ORDER BY sorts on, when every key is a selected column (else None)."""
    tree = _parse_gold(sql)
    order = tree.args.get("order") if tree is not None else None
    if order is None:
        return None
    projections = tree.expressions if isinstance(tree, exp.Select) else []
    if len(projections) != len(columns):
        return None
    key = []
    for o in order.expressions:
        e = o.this
        if not isinstance(e, exp.Column) or list(columns).count(e.name) != 1:
            return None  # an expression, an unselected or an ambiguous column: keep the strict order
        i = list(columns).index(e.name)
        p = projections[i]
        if isinstance(p, exp.Column) and e.table and p.table and p.table != e.table:
            return None  # c.code ordered while p.code is shown
        key.append(i)
    return tuple(key)


# --- running -----------------------------------------------------------------------------------

_REASONS = {"QueryTimeout": "timeout", "QueryFailed": "sql error", "ModelUnavailable": "model error",
            "ModelTimeout": "model error", "ModelNotInstalled": "model error", "DatabaseUnavailable": "database error",
            "QuestionRejected": "refused"}


def failure_reason(error_kind: str | None, error: str | None) -> str:
    """The failure class of a pipeline Answer's error."""
    if error_kind == "UnsafeSql":
        if "did not write" in (error or ""):
            return "no sql"
        return "syntax error" if "could not parse" in (error or "") else "refused"
    return _REASONS.get(error_kind or "", "error")


async def score_item(pipeline, pool, item: EvalItem, *, gold_cache: dict, limits: ExecLimits = EVAL_LIMITS) -> ItemResult:
    """One question: the pipeline's SQL (answer phrasing off) against the gold SQL and its alternatives, all
    executed read-only; an alternative that fails is skipped, a failing gold is reported."""
    base = dict(question=item.question, gold_sql=item.sql, shape=item.shape, difficulty=item.difficulty,
                in_scope=item.in_scope)
    if not item.in_scope:
        ans = await pipeline.answer(item.question, previous=item.previous)
        refused = ans.kind != "answer"
        return ItemResult(predicted_sql=ans.sql, correct=refused, reason="" if refused else "answered",
                          latency_ms=round(ans.timings_ms.get("generate", 0.0), 1), attempts=ans.attempts,
                          kind=ans.kind, **base)
    golds = [(sql, await _gold_result(pool, sql, gold_cache, limits)) for sql in item.gold_sqls]
    gold = golds[0][1]
    ans = await pipeline.answer(item.question, previous=item.previous)
    base.update(predicted_sql=ans.sql, latency_ms=round(ans.timings_ms.get("generate", 0.0), 1),
                attempts=ans.attempts, unnamed=tuple(unnamed_literals(ans.sql, item.question)) if ans.sql else (),
                written_sql=ans.mends[0].before if ans.mends else "",
                mended_by=tuple(change.rule for change in ans.mends), chosen=ans.chosen)
    if isinstance(gold, AskdbError):
        return ItemResult(correct=False, reason="gold failed", detail=str(gold), **base)
    if ans.kind != "answer":
        return ItemResult(correct=False, reason=ans.kind.replace("_", " "), detail=ans.answer, kind=ans.kind, **base)
    if not ans.ok:
        return ItemResult(correct=False, reason=failure_reason(ans.error_kind, ans.error), detail=ans.error or "",
                          **base)
    try:
        pred = await execute(pool, ans.sql, limits)  # again, uncapped, so both sides are compared in full
    except AskdbError as exc:
        return ItemResult(correct=False, reason=failure_reason(type(exc).__name__, str(exc)), detail=str(exc), **base)
    runs = [(sql, g) for sql, g in golds if isinstance(g, QueryResult)]
    ok = any(same_answer(sql, g, pred) for sql, g in runs)
    subset_ok = ok or any(same_answer(sql, g, pred, subset=True) for sql, g in runs)
    detail = "" if ok else (f"{len(pred.rows)} rows x {len(pred.columns)} cols, expected {len(gold.rows)} x "
                            f"{len(gold.columns)}" + (" (a subset match)" if subset_ok else ""))
    return ItemResult(correct=ok, reason="" if ok else "wrong result", detail=detail, subset_correct=subset_ok, **base)


def same_answer(gold_sql: str, gold: QueryResult, pred: QueryResult, *, subset: bool = False) -> bool:
    """EX for one question: `pred` holds the rows of `gold`, in its order when `gold_sql` orders them; with
    `subset`, extra predicted columns are allowed."""
    return results_match(gold.columns, gold.rows, pred.columns, pred.rows, ordered=gold_is_ordered(gold_sql),
                         order_key=gold_order_key(gold_sql, gold.columns), subset=subset)


async def _gold_result(pool, sql: str, cache: dict, limits: ExecLimits) -> QueryResult | AskdbError:
    if sql not in cache:
        try:
            cache[sql] = await execute(pool, sql, limits)
        except AskdbError as exc:
            cache[sql] = exc
    return cache[sql]


async def evaluate(pipeline, pool, items: Sequence[EvalItem], *, label: str, concurrency: int = 8,
                   gold_cache: dict | None = None, overlap: int = 0, progress=None, subset: bool = False) -> EvalReport:
    """Score every item, `concurrency` questions in flight (the local model batches them); `subset` reports
    subset EX beside strict EX."""
    gold_cache = {} if gold_cache is None else gold_cache
    sem = asyncio.Semaphore(max(1, concurrency))
    started = time.perf_counter()

    async def one(item: EvalItem) -> ItemResult:
        async with sem:
            r = await score_item(pipeline, pool, item, gold_cache=gold_cache)
        if progress is not None:
            progress(r)
        return r

    results = await asyncio.gather(*(one(i) for i in items))
    k = pipeline.settings.few_shot_k if pipeline.store is not None else 0
    return EvalReport(label, pipeline.sql_model.name, k, tuple(results), time.perf_counter() - started, overlap,
                      subset=subset)


def few_shot_overlap(items: Sequence[EvalItem], example_questions: Sequence[str]) -> int:
    """How many evaluation questions also sit in the few-shot files (they would leak their gold SQL)."""
    norm = lambda q: " ".join(q.lower().split())  # noqa: E731
    known = {norm(q) for q in example_questions}
    return sum(norm(i.question) in known for i in items)


def _percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    if not sorted_values:
        return None
    i = (len(sorted_values) - 1) * pct / 100
    lo, hi = math.floor(i), math.ceil(i)
    return round(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (i - lo), 1)


def _breakdown(results: Sequence[ItemResult], attr: str) -> dict:
    out: dict[str, dict] = {}
    for r in results:
        d = out.setdefault(getattr(r, attr) or "-", {"n": 0, "correct": 0})
        d["n"] += 1
        d["correct"] += r.correct
    for d in out.values():
        d["ex"] = round(d["correct"] / d["n"], 4)
    return dict(sorted(out.items()))
