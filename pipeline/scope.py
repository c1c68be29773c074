"""Whether the database can answer a question at all: by its words before any SQL is written, then by the model's
own signals once it has written some.

A question's words are sorted three ways against what the database holds: words of its schema (table and column
names, their comments, the plain-English synonyms of `words.py`), words of its stored text (a course title, a topic,
a last name) and words it has nowhere. "What is the wifi password for room ENG 210?" names a room and a stored
value, but what it asks for ('wifi password') is neither; "What's the weather tomorrow?" names nothing at all. Such a
question gets a short reply naming what the database does hold instead of a statement the model made up; a question
whose only handle is a value several tables store ('Kim': a student or an instructor?) gets one clarifying question.
Then the model's own signals weigh in: how sure it was of its statement (`unsure_beyond_words`) and whether what it
wrote exists (`after_every_failure`). Nothing here names a table of any one database: the vocabulary is read from the schema and the data."""
from __future__ import annotations

import asyncio
import bisect
import logging
from dataclasses import dataclass
from typing import Iterable, Mapping

import asyncpg

from .database import quote_ident
from .schema import TEXT_TYPES, Schema
from .words import COLUMN_SYNONYMS, SYNONYMS, abbreviates, humanise, one_edit, plural, singular, words

log = logging.getLogger("askdb.scope")

# Plain English that says how a question is asked, not what about: the same for any database.
FUNCTION_WORDS = frozenset("""
a an the this that these those it its it's is are was were be been being am do does did doing done have has had
having will would shall should can could may might must i me my mine we us our you your he him his she her they them
their what which who whom whose when where why how whats wheres whos hows there here of in on at by for with about
from into onto to as than then and or but not no nor so if any all some each every per both either neither few many
much more most less least fewer fewest other another such only own same just also too very really please thanks
show list give tell find get display print return need want know see look let lets like kind sort type out up down
over under between before after during within without above below again one ones number numbers count total sum
average mean max min maximum minimum top bottom highest lowest largest smallest biggest first last next previous
current currently now today yesterday tomorrow ago recent recently ever still yet already
everything anything something nothing everyone anyone someone somebody anybody stuff thing things info information
data database table tables record records row rows value values detail details name names named called vs versus
zero one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred thousand
second third fourth fifth half
monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays fridays saturdays
sundays january february march april may june july august september october november december
""".split())
# Of the words that are not stored values, the share the database has nowhere at which a question is out of scope:
# tuned on finetune/eval/course_scope_tune.jsonl and course_dev.jsonl, never on course_scope.jsonl (docs/pipeline.md).
MAX_UNKNOWN_SHARE = 0.5
# How sure the model must be of its statement (the mean log-probability of its tokens) to answer a question that the
# vocabulary calls out of scope: a database's users name things in words its schema never uses ('revenue' for
# price times quantity) and a tuned model has learnt them, while off-topic questions leave it guessing (on the tuning
# set every out-of-scope statement averaged below -0.05 or named a column the database lacks; course_dev's in-scope
# ones lie between -0.35 and 0, half of them above -0.05).
SURE_LOGPROB = -0.05
_SUFFIXES = ("ations", "ation", "ings", "ing", "ed", "ly")


def stem(word: str) -> str:
    """A crude stem, the same on both sides of a comparison: 'teaches' and 'teach', 'running' and 'runs' alike."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            # 'running' -> 'run', 'admitted' -> 'admit' ('enrolled' keeps its 'll')
            return word[:-1] if suffix in ("ing", "ed") and word[-1] == word[-2] and word[-1] not in "aeiosl" else word
    return singular(word) if len(word) > 3 else word


@dataclass(frozen=True)
class Vocabulary:
    """What one database can talk about: the stems of its schema's words and of its stored text."""

    schema_stems: tuple[str, ...]  # sorted, for prefix look-ups ('dept' of 'department')
    stored: Mapping[str, frozenset[str]]  # a stored word and its stem -> the tables ('holds') storing it
    holds: tuple[str, ...]  # what it holds, as people say it: 'departments', 'course topics'

    def schema_word(self, word: str) -> bool:
        """Whether `word` names something of the schema: a table, a column, a word of their comments."""
        s = stem(word)
        i = bisect.bisect_left(self.schema_stems, s)
        if i < len(self.schema_stems) and self.schema_stems[i] == s:
            return True
        # A shortening people type ('dept', 'prereq', 'prof'): a prefix of four letters or more.
        if len(s) >= 4 and i < len(self.schema_stems) and self.schema_stems[i].startswith(s):
            return True
        # A shortening of a longer word ('dept' of 'department'), its letters in order from the first.
        if len(s) <= 4 and any(len(v) >= 2 * len(s) and abbreviates(s, v) for v in self.schema_stems):
            return True
        # One slip ('teacehr', 'departmnet'), in words long enough not to become other words.
        return len(word) >= 6 and any(one_edit(s, v) for v in self.schema_stems if abs(len(v) - len(s)) <= 1)

    def stored_word(self, word: str) -> bool:
        """Whether `word` occurs in the stored text (a title, a topic, a name)."""
        return word in self.stored or stem(word) in self.stored

    def storing(self, word: str) -> frozenset[str]:
        """What holds `word` in its text ('instructors', 'students' for 'kim')."""
        return self.stored.get(word) or self.stored.get(stem(word), frozenset())


def build_vocabulary(schema: Schema, stored: Mapping[str, Iterable[str]] | None = None) -> Vocabulary:
    """The vocabulary of `schema` (denied columns already removed) and `stored`, the words of each table's text."""
    everything: set[str] = set()
    for t in schema.tables:
        said: list[str] = []
        noun = singular(humanise(t.name))
        said += words(f"{noun} {plural(noun)} {t.comment or ''}")
        said += [w for n in (noun, noun.split()[-1]) for syn in SYNONYMS.get(n, ()) for w in words(syn)]
        for c in t.columns:
            name = humanise(c.name)
            said += words(f"{name} {c.comment or ''}")
            said += [w for n in words(name) for syn in COLUMN_SYNONYMS.get(n, ()) for w in words(syn)]
        everything |= {stem(w) for w in said if not w.isdigit() and w not in FUNCTION_WORDS}
    by_word: dict[str, set[str]] = {}
    for table, found in (stored or {}).items():
        for w in found:
            for key in (w, stem(w)):
                by_word.setdefault(key, set()).add(_held(table))
    return Vocabulary(tuple(sorted(everything)), {w: frozenset(ts) for w, ts in by_word.items()},
                      tuple(_held(t.name) for t in schema.tables))


def _held(table: str) -> str:
    return plural(singular(humanise(table)))


async def load_vocabulary(pool: asyncpg.Pool, schema: Schema, *, scan_rows: int = 20_000,
                          timeout_s: float = 5.0) -> Vocabulary:
    """Read the words of every text column (from its first `scan_rows` rows) and build the vocabulary; a column
    that cannot be read in `timeout_s` is left out."""
    stored: dict[str, set[str]] = {}
    for t in schema.tables:
        for c in t.columns:
            if c.base_type not in TEXT_TYPES:
                continue
            sql = (f"SELECT DISTINCT w FROM (SELECT regexp_split_to_table(lower(v), '[^a-z0-9]+') AS w FROM "
                   f"(SELECT {quote_ident(c.name)}::text AS v FROM {quote_ident(t.schema)}.{quote_ident(t.name)} "
                   f"LIMIT {int(scan_rows)}) s) x WHERE length(w) > 1 LIMIT 50000")
            try:
                stored.setdefault(t.name, set()).update(r["w"] for r in await pool.fetch(sql, timeout=timeout_s))
            except (asyncpg.PostgresError, asyncio.TimeoutError) as exc:
                log.warning("the scope vocabulary skips %s.%s: %s", t.name, c.name, exc)
    return build_vocabulary(schema, stored)


@dataclass(frozen=True)
class Scope:
    """The verdict on one question: "answer", "out_of_scope" or "clarify", the words behind it and the reply."""

    verdict: str
    schema: tuple[str, ...] = ()
    stored: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    reply: str = ""

    @property
    def answerable(self) -> bool:
        return self.verdict == "answer"


def judge_scope(question: str, vocab: Vocabulary, *, max_unknown_share: float = MAX_UNKNOWN_SHARE) -> Scope:
    """Whether `vocab`'s database can answer `question`: out of scope when its words name nothing the database
    holds, or when `max_unknown_share` or more of those that are not stored values name nothing it has."""
    content = [w for w in dict.fromkeys(words(question))
               if len(w) > 1 and not _numeric(w) and not _function_word(w)]
    if not content:
        return Scope("clarify", reply=clarify_text(vocab))
    schema = tuple(w for w in content if vocab.schema_word(w))
    stored = tuple(w for w in content if w not in schema and vocab.stored_word(w))
    unknown = tuple(w for w in content if w not in schema and w not in stored)
    asked = len(schema) + len(unknown)  # what the question asks about, beside the values it names
    if not schema and not stored or asked and len(unknown) / asked >= max_unknown_share:
        return Scope("out_of_scope", schema, stored, unknown, out_of_scope_text(vocab, unknown))
    holders = set().union(*(vocab.storing(w) for w in stored)) if stored else set()
    if not asked and len(holders) > 1:
        # Only a name that several things store ('Kim': an instructor or a student?), and nothing asked about it.
        return Scope("clarify", schema, stored, unknown, clarify_text(vocab, " ".join(stored), sorted(holders)))
    return Scope("answer", schema, stored, unknown)


def unsure_beyond_words(scope: Scope, confidence: float | None, *, sure: float = SURE_LOGPROB) -> bool:
    """Whether to refuse before the model's statement runs: the words call the question out of scope and the model
    was not sure of what it wrote (`confidence`, its mean token log-probability; None where the backend does not
    say, and then the words decide). A sure model's statement runs, and is answered if it runs."""
    return scope.verdict == "out_of_scope" and (confidence is None or confidence < sure)


def after_every_failure(scope: Scope, vocab: Vocabulary) -> Scope:
    """The verdict once every statement the model wrote has failed: a question the words call answerable but with
    words the database has nowhere is out of scope (the model named what the database lacks); the rest stand."""
    if scope.verdict == "answer" and scope.unknown:
        return Scope("out_of_scope", scope.schema, scope.stored, scope.unknown,
                     out_of_scope_text(vocab, scope.unknown))
    return scope


def _function_word(word: str) -> bool:
    """A function word, or one typed with a slip: 'mnay' for 'many', 'wat' for 'what'."""
    if word in FUNCTION_WORDS:
        return True
    return len(word) >= 3 and any(one_edit(word, f) or len(f) == len(word) + 1 and any(
        f[:i] + f[i + 1:] == word for i in range(len(f))) for f in _LONG_FUNCTION_WORDS)


_LONG_FUNCTION_WORDS = tuple(w for w in FUNCTION_WORDS if len(w) >= 4)


def _numeric(word: str) -> bool:
    # '210', '9am', '2026', '4pm': numbers and times name no subject.
    return word[0].isdigit()


def out_of_scope_text(vocab: Vocabulary, unknown: tuple[str, ...] = ()) -> str:
    """The short reply to a question the database cannot answer: what it does hold."""
    missing = f" (nothing about {', '.join(repr(w) for w in unknown[:3])})" if unknown else ""
    return (f"Sorry, I can't answer that from this database{missing}. It holds {_listing(vocab.holds)}: "
            "ask me about those.")


def clarify_text(vocab: Vocabulary, named: str = "", holders: list[str] | None = None) -> str:
    """One clarifying question: for a question too vague to answer, or naming only `named`, which several of the
    database's tables hold (`holders`)."""
    if named and holders:
        return (f"Which '{named}' do you mean, in {_listing(tuple(holders), 'or')}, and what would you like to know "
                "about it?")
    return f"What would you like to know? I can answer questions about {_listing(vocab.holds)}."


def _listing(items: tuple[str, ...], last: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]
