"""Normal forms for SQL and questions, so duplicates and dev-set overlaps are caught however they are written."""
from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp

from pipeline.words import words


def normalise_sql(sql: str) -> str:
    """Canonical text: sqlglot's rendering with aliases of singly-used tables replaced by the table name."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return " ".join(sql.lower().split())
    tables = list(tree.find_all(exp.Table))
    names = [t.name for t in tables]
    rename = {}
    for t in tables:
        alias = t.alias
        if alias and names.count(t.name) == 1:
            rename[alias] = t.name
            t.set("alias", None)
    for c in tree.find_all(exp.Column):
        if c.table in rename:
            c.set("table", exp.to_identifier(rename[c.table]))
    if len(set(names)) == 1 and not tree.find(exp.Exists):
        for c in tree.find_all(exp.Column):
            c.set("table", None)
    text = tree.sql(dialect="postgres", normalize=True, comments=False)
    return " ".join(text.lower().split())


def sql_form(sql: str, *, loose: bool = False) -> str:
    """The statement with its values masked (what a template could write); `loose` also drops the output's
    ORDER BY, LIMIT, DISTINCT and column aliases, so forms differing only in presentation meet."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return normalise_sql(sql)
    for node in list(tree.find_all(exp.Literal)):
        node.replace(exp.Literal.string("?") if node.is_string else exp.Literal.number(0))
    if loose and isinstance(tree, exp.Select):
        for key in ("order", "limit", "distinct"):
            tree.set(key, None)
        tree.set("expressions", sorted((e.unalias() for e in tree.expressions), key=lambda e: e.sql()))
    return normalise_sql(tree.sql(dialect="postgres"))


def normalise_question(q: str) -> str:
    """Lower-case words in order, punctuation dropped."""
    return " ".join(words(q))


def question_key(q: str) -> str:
    """Near-duplicate key: the same words in any order, small filler words dropped."""
    filler = {"the", "a", "an", "of", "for", "in", "is", "are", "me", "all", "show", "list", "what", "whats", "s"}
    return " ".join(sorted(w for w in normalise_question(q).split() if w not in filler))


@dataclass
class Seen:
    """Normalised SQL and questions already written or excluded (the dev set)."""
    sql: set[str] = field(default_factory=set)
    questions: set[str] = field(default_factory=set)
    excluded_sql: set[str] = field(default_factory=set)
    excluded_questions: set[str] = field(default_factory=set)

    def add(self, question: str, sql: str) -> None:
        self.sql.add(normalise_sql(sql))
        self.questions.add(question_key(question))

    def sql_problem(self, sql: str) -> str | None:
        n = normalise_sql(sql)
        if n in self.excluded_sql:
            return "dev_overlap"
        return "duplicate_sql" if n in self.sql else None

    def question_problem(self, question: str) -> str | None:
        if normalise_question(question) in self.excluded_questions:
            return "dev_overlap"
        return "duplicate_question" if question_key(question) in self.questions else None


def load_exclusions(patterns: list[str], seen: Seen, root: Path = Path(".")) -> int:
    """Add every pair of the files matching `patterns` (the dev set) to the exclusions; how many were read."""
    n = 0
    for pattern in patterns:
        for path in sorted(glob.glob(str(root / pattern))):
            for line in Path(path).read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and isinstance(row.get("sql"), str) and isinstance(row.get("question"), str):
                    seen.excluded_sql.add(normalise_sql(row["sql"]))
                    seen.excluded_questions.add(normalise_question(row["question"]))
                    n += 1
                    # a follow-up set: the turn it continues and the follow-up asked on its own are held out too
                    previous = row.get("previous") if isinstance(row.get("previous"), dict) else {}
                    for q in (previous.get("question"), row.get("standalone")):
                        if isinstance(q, str):
                            seen.excluded_questions.add(normalise_question(q))
                    if isinstance(previous.get("sql"), str):
                        seen.excluded_sql.add(normalise_sql(previous["sql"]))
    return n
