"""The composition: generate_sql -> check_sql -> execute -> render_answer, with one self-correction."""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import asyncpg

from .errors import AskdbError, DatabaseUnavailable, QueryFailed
from .errors import QueryTimeout, QuestionRejected, UnsafeSql
from .executor import ExecLimits, QueryResult, execute
from .generate import GeneratedSql, generate_sql, sql_candidates
from .guard import CheckedSql, GuardPolicy, check_sql
from .mend import mend, mend_traced
from .linking import SchemaLinker, contradictions, link_score, sql_links
from .models.base import TextModel
from .prompt import Example, conversation_text
from .render import render_answer
from .retrieval import ExampleStore
from .schema import Schema
from .scope import Scope, Vocabulary, after_every_failure, judge_scope, unsure_beyond_words
from .vote import Ran, Vote, choose
from .words import humanise, plural, singular


@dataclass(frozen=True)
class PipelineSettings:
    budget_tokens: int = 700
    few_shot_k: int = 3
    self_correction_attempts: int = 1
    candidates_on_error: int = 4  # beam-search alternatives tried when the first SQL fails (models that offer them)
    # >1: when the first statement contradicts what the question names, the best of this many beam candidates by
    # schema linking replaces it
    rank_candidates: int = 0
    # >1: the first statement and the model's next-best ones, this many in all, are run and the rows most of them
    # return are answered (pipeline/vote.py)
    vote_candidates: int = 0
    max_new_tokens: int = 120
    max_question_chars: int = 500
    answer_with_model: bool = True
    answer_timeout_s: float = 20.0
    answer_max_tokens: int = 80
    max_answer_chars: int = 1800
    # with a vocabulary: a question the database cannot answer gets a reply saying what it holds (pipeline/scope.py)
    scope_check: bool = True
    schema_comments: bool = False  # the schema's COMMENTs in the prompt, briefly (off: the adapter was trained without)
    context_turns: int = 1  # of a follow-up's earlier turns, the last this many are in the prompt (trained on one)
    limits: ExecLimits = field(default_factory=ExecLimits)


@dataclass(frozen=True)
class Answer:
    question: str
    sql: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple, ...] = ()
    answer: str = ""
    truncated: bool = False
    timings_ms: dict = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None  # the AskdbError class name, for logs and evaluation
    attempts: int = 0
    answer_source: str = ""
    model: str = ""
    mends: tuple = ()  # pipeline.mend.Change: each rule that rewrote the model's statement, in order
    kind: str = "answer"  # answer | out_of_scope (the database cannot answer it) | clarify (a question back)
    vote: str = ""  # with sql.vote_candidates: how the statement was chosen among the model's candidates
    chosen: int = 0  # which of the model's statements was answered (0: its first), where they were voted on

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        """The shape `askdb ask --json` prints."""
        d = asdict(self)
        d["columns"] = list(self.columns)
        d["rows"] = [list(r) for r in self.rows]
        d["mends"] = [{"rule": c.rule, "before": c.before, "after": c.after} for c in self.mends]
        return {k: d[k] for k in ("question", "sql", "columns", "rows", "answer", "truncated", "timings_ms", "error",
                                  "error_kind", "attempts", "answer_source", "model", "mends", "kind", "vote")}


class Pipeline:
    """Answers questions about one database; collaborators are passed in and owned by the caller."""

    def __init__(self, *, sql_model: TextModel, pool: asyncpg.Pool, schema: Schema, policy: GuardPolicy,
                 answer_model: TextModel | None = None, store: ExampleStore | None = None,
                 settings: PipelineSettings = PipelineSettings(), clock: Callable[[], dt.date] = dt.date.today,
                 grammar: str | None = None, vocabulary: Vocabulary | None = None):
        self.sql_model = sql_model
        self.answer_model = answer_model
        self.pool = pool
        self.policy = policy
        self.schema = schema.without_columns(policy.denied_columns)  # the model never sees denied columns
        self.store = store
        self.settings = settings
        self.clock = clock
        self.grammar = grammar  # GBNF of the schema's names (pipeline/grammar.py), for models that take one
        self.vocabulary = vocabulary  # what the database holds, to tell a question it cannot answer (scope.py)

    async def run_sql(self, sql: str) -> tuple[CheckedSql, QueryResult]:
        """Guard and execute SQL written by a person (askdb sql, reviews); raises AskdbError."""
        checked = check_sql(sql, self.policy)
        return checked, await execute(self.pool, checked.sql, self.settings.limits)

    async def answer(self, question: str, *, previous: Sequence[Example] = ()) -> Answer:
        """Question -> Answer; an AskdbError becomes Answer.error, never an exception. `previous` are the earlier
        turns (question and the SQL that ran) of the conversation a follow-up continues, oldest first."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        sql, attempts, mends, confidence, vote = "", 0, (), None, None
        previous = tuple(previous)[-self.settings.context_turns:] if self.settings.context_turns > 0 else ()
        try:
            question = self._accept(question)
            scope = self._scope(question)
            if scope is not None and scope.verdict == "clarify":
                if not previous:
                    return self._refusal(question, scope, started)
                scope = None  # a follow-up that names nothing new ('and last year?') is read with its thread
            # A follow-up is matched and mended with the questions it continues ('only the CS ones' alone names
            # neither the courses nor the term).
            asked = conversation_text(question, previous)
            earlier = " ".join(p.question for p in previous)
            examples = []
            if self.store is not None and self.settings.few_shot_k > 0:
                t = time.perf_counter()
                # Embedding the question is CPU work: keep it off the event loop.
                examples = await asyncio.to_thread(self.store.nearest, asked, self.settings.few_shot_k,
                                                   today=self.clock())
                timings["retrieve"] = _ms(t)
            error = None
            alternatives: list[GeneratedSql] | None = None
            tried: set[str] = set()
            corrections = 0
            while True:
                attempts += 1
                t = time.perf_counter()
                if alternatives:
                    gen = alternatives.pop(0)
                else:
                    gen = await generate_sql(self.sql_model, question, self.schema, today=self.clock(),
                                             examples=examples, budget_tokens=self.settings.budget_tokens,
                                             max_tokens=self.settings.max_new_tokens, error=error, previous=previous,
                                             grammar=self.grammar, comments=self.settings.schema_comments)
                    if attempts == 1:
                        confidence = gen.confidence
                    if alternatives is None and error is None and (ranked := await self._reranked(asked, gen)):
                        gen, alternatives = ranked[0], ranked[1:]
                timings["generate"] = timings.get("generate", 0) + _ms(t)
                if attempts == 1 and scope is not None and unsure_beyond_words(scope, confidence):
                    # The words name little the database holds and the model was guessing: say so before anything
                    # runs.
                    return self._refusal(question, scope, started, timings)
                if attempts == 1 and alternatives is None and self.settings.vote_candidates > 1:
                    vote = await self._voted(question, gen, earlier=earlier, timings=timings)
                    alternatives = []  # every candidate has run: a failure goes to self-correction
                    if vote is not None:
                        sql, mends, result = vote.chosen.checked.sql, vote.chosen.mends, vote.chosen.result
                        break
                sql = gen.sql or gen.raw.strip()
                tried.add(gen.sql)
                try:
                    t = time.perf_counter()
                    if not gen.sql:
                        raise UnsafeSql("the model did not write a SELECT statement", gen.raw)
                    # Mended by the question's words first: 'Associate Professors' finds nothing where the column
                    # stores 'Associate Professor', and 'over 40' is not the `>= 40` copied from an example.
                    mended, mends = mend_traced(question, gen.sql, self.linker, self.clock(), earlier=earlier)
                    checked = check_sql(mended, self.policy)
                    timings["check"] = timings.get("check", 0) + _ms(t)
                    sql = checked.sql
                    t = time.perf_counter()
                    result = await execute(self.pool, checked.sql, self.settings.limits)
                    timings["execute"] = timings.get("execute", 0) + _ms(t)
                    break
                except (UnsafeSql, QueryFailed) as exc:
                    if alternatives is None:
                        # The first SQL failed: the model's next-best statements are cheaper and, for a tuned
                        # model, more reliable than asking it to repair its own error.
                        t = time.perf_counter()
                        alternatives = [g for g in await sql_candidates(
                            self.sql_model, gen.messages, n=self.settings.candidates_on_error,
                            max_tokens=self.settings.max_new_tokens, grammar=self.grammar) if g.sql not in tried]
                        timings["generate"] = timings.get("generate", 0) + _ms(t)
                    if alternatives:
                        continue
                    if corrections >= self.settings.self_correction_attempts:
                        if scope is not None:
                            # Every statement failed: for a question with words the database has nowhere, that is
                            # the model naming what the database lacks.
                            scope = after_every_failure(scope, self.vocabulary)
                            if not scope.answerable:
                                return self._refusal(question, scope, started, timings)
                        raise
                    corrections += 1
                    reason = exc.reason if isinstance(exc, UnsafeSql) else exc.pg_message
                    error = (gen.sql or gen.raw.strip()[:300], reason)
            t = time.perf_counter()
            rendered = await render_answer(
                question, result, model=self.answer_model if self.settings.answer_with_model else None,
                timeout_s=self.settings.answer_timeout_s, max_tokens=self.settings.answer_max_tokens,
                max_chars=self.settings.max_answer_chars)
            timings["render"] = _ms(t)
            text = rendered.text
            if result.truncated and "more" not in text:
                text += f"\n(Only the first {len(result.rows)} rows are shown.)"
            timings["total"] = _ms(started)
            return Answer(question, sql, result.columns, result.rows, text, result.truncated, timings,
                          attempts=attempts, answer_source=rendered.source, model=self.sql_model.name, mends=mends,
                          vote=vote.explain() if vote is not None else "", chosen=vote.chosen.rank if vote else 0)
        except AskdbError as exc:
            timings["total"] = _ms(started)
            return Answer(question, sql, answer=friendly_error(exc), timings_ms=timings, error=str(exc),
                          error_kind=type(exc).__name__, attempts=attempts, model=self.sql_model.name, mends=mends)

    @property
    def linker(self) -> SchemaLinker | None:
        """The schema linker of the example store, if any: it ranks candidates and spells values as stored."""
        return self.store.linker if self.store is not None else None

    def _grounded(self, question: str, sql: str) -> str:
        """`sql` mended where it contradicts the question's words (`pipeline.mend.mend`)."""
        return mend(question, sql, self.linker, self.clock())

    async def _reranked(self, question: str, first: GeneratedSql) -> list[GeneratedSql]:
        """When `first` contradicts what the question names, it and the beam candidates, best by schema linking
        first (`first` wins ties); [] when it does not, or ranking is off or impossible (no linker, no beams)."""
        linker = self.linker
        if self.settings.rank_candidates <= 1 or linker is None:
            return []
        asked = linker.question_links(question)
        # Judged as they would run: a bound or period the grounding mends is no contradiction.
        if not contradictions(asked, sql_links(self._grounded(question, first.sql))):
            return []
        cands = await sql_candidates(self.sql_model, first.messages, n=self.settings.rank_candidates,
                                     max_tokens=self.settings.max_new_tokens, grammar=self.grammar)
        pool = [first] + [c for c in cands if c.sql != first.sql]
        return sorted(pool, key=lambda g: -link_score(asked, sql_links(self._grounded(question, g.sql))))

    async def _voted(self, question: str, first: GeneratedSql, *, earlier: str, timings: dict) -> Vote | None:
        """`first` and the model's next-best statements, each mended, guarded and run; the one whose rows most of
        them return (pipeline/vote.py). None when none ran."""
        t = time.perf_counter()
        cands = await sql_candidates(self.sql_model, first.messages, n=self.settings.vote_candidates,
                                     max_tokens=self.settings.max_new_tokens, grammar=self.grammar)
        timings["generate"] = timings.get("generate", 0) + _ms(t)
        proposed = [first] + [c for c in cands if c.sql != first.sql]
        t = time.perf_counter()
        ran = []
        for rank, gen in enumerate(proposed):
            try:
                if not gen.sql:
                    continue
                mended, mends = mend_traced(question, gen.sql, self.linker, self.clock(), earlier=earlier)
                checked = check_sql(mended, self.policy)
                ran.append(Ran(rank, checked, await execute(self.pool, checked.sql, self.settings.limits), mends))
            except (UnsafeSql, QueryFailed, QueryTimeout):
                continue  # a statement that cannot run has no vote
        timings["execute"] = timings.get("execute", 0) + _ms(t)
        return choose(ran, proposed=len(proposed))

    def _scope(self, question: str) -> Scope | None:
        """What the question's words say of whether the database can answer it (None: the check is off); the
        model's own signals weigh in once it has written a statement (`scope.unsure_beyond_words`,
        `scope.after_every_failure`)."""
        if self.vocabulary is None or not self.settings.scope_check:
            return None
        return judge_scope(question, self.vocabulary)

    def _refusal(self, question: str, scope: Scope, started: float, timings: dict | None = None) -> Answer:
        """The reply to a question the database cannot answer, or the question asked back."""
        timings = dict(timings or {}, total=_ms(started))
        return Answer(question, answer=scope.reply, timings_ms=timings, kind=scope.verdict, model=self.sql_model.name,
                      answer_source="scope")

    def _accept(self, question: str) -> str:
        question = " ".join((question or "").split())
        if not question:
            raise QuestionRejected(f"Please ask a question, for example: {example_question(self.schema)}")
        if len(question) > self.settings.max_question_chars:
            raise QuestionRejected(
                f"That question is too long ({len(question)} characters; the limit is "
                f"{self.settings.max_question_chars}). Please shorten it.")
        return question


def friendly_error(exc: AskdbError) -> str:
    """What a chat user reads when a question could not be answered."""
    if isinstance(exc, UnsafeSql):
        return ("Sorry, I couldn't write a safe query for that question (" + exc.reason + "). "
                "Try rephrasing it, naming what you ask about as the data names it.")
    if isinstance(exc, QueryFailed):
        return "Sorry, the query I wrote didn't run: " + exc.pg_message + ". Try rephrasing the question."
    if isinstance(exc, DatabaseUnavailable):
        return "Sorry, the database is not reachable right now. Please try again in a minute."
    return "Sorry: " + exc.user_message()


def example_question(schema: Schema) -> str:
    """A question any database can answer, in its own words: 'How many order details are there?'. The connected
    database's, never the course one's (askdb serves whatever database it is given)."""
    names = sorted(t.name for t in schema.tables)
    return f"How many {plural(singular(humanise(names[0])))} are there?" if names else "What tables are there?"


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
