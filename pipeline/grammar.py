"""A GBNF grammar, made from the introspected schema, that lets a model write one read-only statement naming only
tables and columns that exist.

The grammar is a vocabulary, not a parser of SQL: a statement starts with SELECT or WITH and continues as a sequence
of words and punctuation, where every word is a SQL keyword, a known function, a table, a column, `table.column`
with a column of that table, `alias.column` with some column, or a name the statement defines itself (an output
alias after AS, a CTE name). A context-free grammar cannot follow which aliases are in scope, so `alias.column` only
checks that the column exists somewhere; the guard checks the rest. What it rules out is what small models do most:
invented columns (`c.name` where no table has `name`), invented tables, a second statement, writes, and prose.

Names a statement may define and then refer to (output aliases like `course_count`, CTE names) cannot be tracked by
a grammar; they are taken from the examples the model learned from (`defined_names`) plus a few generic ones, any
name is allowed right after AS, where it is being defined, and right after ORDER BY, which usually sorts by one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .schema import Schema

KEYWORDS = (
    "select", "from", "where", "join", "left", "right", "inner", "outer", "full", "cross", "natural", "on", "using",
    "and", "or", "not", "in", "is", "null", "like", "ilike", "similar", "to", "between", "as", "group", "by", "order",
    "having", "limit", "offset", "asc", "desc", "distinct", "case", "when", "then", "else", "end", "union", "all",
    "intersect", "except", "exists", "with", "recursive", "true", "false", "nulls", "first", "last", "interval",
    "filter", "over", "partition", "rows", "range", "preceding", "following", "unbounded", "current", "row", "any",
    "some", "lateral", "fetch", "next", "only", "ties", "at", "zone", "escape", "values",
    # EXTRACT fields and the types of a CAST
    "year", "month", "day", "hour", "minute", "second", "dow", "isodow", "doy", "quarter", "week", "epoch",
    "date", "time", "timestamp", "timestamptz", "integer", "int", "bigint", "smallint", "numeric", "decimal",
    "float", "real", "double", "precision", "text", "varchar", "char", "character", "varying", "boolean",
    "current_date", "current_timestamp", "localtimestamp",
)

FUNCTIONS = (
    "count", "sum", "avg", "min", "max", "round", "coalesce", "nullif", "extract", "date_part", "date_trunc", "cast",
    "lower", "upper", "length", "char_length", "trim", "btrim", "substring", "substr", "left", "right", "concat",
    "concat_ws", "replace", "split_part", "position", "strpos", "string_agg", "array_agg", "abs", "ceil", "ceiling",
    "floor", "power", "sqrt", "mod", "trunc", "sign", "rank", "dense_rank", "row_number", "percent_rank", "ntile",
    "lag", "lead", "first_value", "last_value", "to_char", "to_date", "to_timestamp", "age", "now", "make_date",
    "greatest", "least", "stddev", "stddev_samp", "stddev_pop", "variance", "percentile_cont", "percentile_disc",
    "mode", "bool_and", "bool_or", "every", "corr", "generate_series", "justify_days", "exp", "ln", "log",
)

GENERIC_NAMES = ("n", "total", "cnt", "count", "amount", "average", "pct", "percent", "share", "ratio", "rnk", "rn",
                 "num", "value", "x", "y", "sub", "t")


@dataclass(frozen=True)
class SqlGrammar:
    text: str  # GBNF, root rule `root`
    tables: int
    columns: int

    def __str__(self) -> str:
        return self.text


def schema_grammar(schema: Schema, *, defined_names: Iterable[str] = ()) -> SqlGrammar:
    """The GBNF grammar for `schema`; `defined_names` are output aliases and CTE names a statement may refer to."""
    all_tables = sorted({t.name for t in schema.tables})
    all_columns = sorted({c.name for t in schema.tables for c in t.columns})
    # A name that needs quotes ("Order Details", "CustomerID") is only valid quoted; the rest are written bare.
    tables, columns = [t for t in all_tables if _BARE.fullmatch(t)], [c for c in all_columns if _BARE.fullmatch(c)]
    names = sorted({n for n in defined_names if _IDENT.fullmatch(n)} | set(GENERIC_NAMES))
    rules = {
        "root": 'fence? ws? lead tail ws? ";"? ws? unfence?',
        "fence": '"```" [a-zA-Z]* "\\n"',
        "unfence": '"```"',
        "lead": _words(("select",), case_insensitive=True) + " | " + _words(("with",), case_insensitive=True),
        # A word never follows a word without a space ("na" "me" is not "name"); punctuation may touch both.
        "tail": "( ws word | ws? punct word? )*",
        "word": "keyword | table | column | qualified | defined | alias | alias-def | order-by | number | "
                "string | quoted",
        "keyword": _words(KEYWORDS, case_insensitive=True),
        "function": "(" + _words(FUNCTIONS, case_insensitive=True) + ') ws? "("',
        "table": _words(tables),
        "column": _words(columns),
        "defined": _words(names),
        "qualified": " | ".join(
            [f'{_literal(t + ".", False)} ({_words(sorted({c.name for c in schema.table(t).columns}))} | "*")'
             for t in tables]
            + ['(alias | defined | quoted) "." (column | quoted-column | "*")']),
        "alias": "[a-z] [a-z0-9_]? [a-z0-9_]?",
        # AS defines a name: an output column or a table alias, any identifier; a CTE is `name AS (`.
        "alias-def": _words(("as",), case_insensitive=True) + " ws free",
        # ORDER BY usually sorts by an output name the statement just defined (`ORDER BY enrolled DESC`).
        "order-by": _words(("order",), case_insensitive=True) + " ws " + _words(("by",), case_insensitive=True)
                    + " ws free",
        "free": "[a-zA-Z_] [a-zA-Z0-9_]*",
        "quoted": '"\\"" (' + _words(all_tables + all_columns) + ') "\\""',
        "quoted-column": '"\\"" (' + _words(all_columns) + ') "\\""',
        "number": "[0-9]+ (\".\" [0-9]+)?",
        "string": "\"'\" ( [^'\\n] | \"''\" )* \"'\"",
        # A function call opens a parenthesis: what follows may touch it, as after any punctuation.
        "punct": 'function | "(" | ")" | "," | "*" | "+" | "-" | "/" | "%" | "=" | "<" | ">" | "<=" | ">=" | "<>" | "!=" | '
                 '"||" | "::"',
        "ws": "[ \\t\\n]+",
    }
    if tables and schema.name and schema.name != "public":
        rules["table"] = f'("{schema.name}.")? ({rules["table"]})'
    text = "\n".join(f"{name} ::= {body}" for name, body in rules.items()) + "\n"
    return SqlGrammar(text, len(all_tables), len(all_columns))


_BARE = re.compile(r"[a-z_][a-z0-9_$]*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFINED = re.compile(r"\bAS\s+([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*)\s+AS\s*\(", re.I)


def defined_names(statements: Iterable[str]) -> set[str]:
    """The names `statements` define (output aliases, table aliases, CTE names): a model taught by them writes
    and then refers to the same names."""
    names = set()
    for sql in statements:
        for m in _DEFINED.finditer(sql):
            name = m.group(1) or m.group(2)
            if name.lower() not in _RESERVED:
                names.add(name)
    return names


_RESERVED = set(KEYWORDS) | set(FUNCTIONS)


def _words(words: Iterable[str], *, case_insensitive: bool = False) -> str:
    """An alternation of `words` written as a trie, so the grammar keeps one path per shared prefix."""
    trie: dict = {}
    for w in sorted(set(words)):
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}
    if not trie:
        return '"\\u0001"'  # matches nothing a model writes: an empty schema names nothing
    return _trie_expr(trie, case_insensitive)


def _trie_expr(node: dict, ci: bool) -> str:
    branches = []
    for ch, child in sorted(node.items()):
        if ch == "":
            continue
        chain = [ch]
        while "" not in child and len(child) == 1:  # a run with no branch and no end: one literal
            (nxt, child), = child.items()
            chain.append(nxt)
        head = _literal("".join(chain), ci)
        rest = _trie_expr(child, ci) if any(k != "" for k in child) else ""
        if rest:
            rest = f"({rest})" + ("?" if "" in child else "")
        branches.append(f"{head} {rest}".strip())
    return " | ".join(branches)


def _literal(text: str, ci: bool) -> str:
    if ci and any(ch.isalpha() for ch in text):
        return " ".join(f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() else _literal(ch, False) for ch in text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
