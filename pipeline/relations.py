"""Joins a database does not declare: foreign keys guessed from column names and confirmed by the data.

Many real schemas (exports, analytics copies, the defog sets) declare no keys at all, so nothing tells the
generator or the prompt that `writes.aid` means `author.aid`. A candidate comes from the names alone (the same key
name in two tables, `restaurant_id` -> `restaurant.id`, `from_airport` -> `airport.airport_code`, `citingpaperid` ->
`paper.paperid`) and is kept only where the data agrees: the referenced column is unique and non-null, and every
non-null value of the referencing column is one of its values.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Iterable

import asyncpg

from .database import quote_ident
from .schema import Column, ForeignKey, Schema, Table, base_type
from .words import singular

# Names too general to link two tables by themselves: every table may have an `id` or a `name` of its own.
_GENERIC = frozenset({"id", "name", "code", "key", "title", "label", "type", "kind", "description", "text", "value",
                      "note", "notes", "uuid", "number", "no", "num"})
_KEY_END = re.compile(r"(id|code|name|key|no|num|number|abbr|abbreviation|sku|iso)$")
_FAMILIES = {"smallint": "int", "integer": "int", "bigint": "int", "text": "text", "character varying": "text",
             "varchar": "text", "character": "text", "citext": "text", "uuid": "uuid"}


@dataclass(frozen=True)
class InferredKey:
    """`table.column` refers to `ref_table.ref_column`, though no constraint says so."""
    table: str
    column: str
    ref_table: str
    ref_column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column} -> {self.ref_table}.{self.ref_column}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "InferredKey":
        return cls(str(data["table"]), str(data["column"]), str(data["ref_table"]), str(data["ref_column"]))


@dataclass(frozen=True)
class _Candidate:
    key: InferredKey
    hint: int  # how the column's name points at the table: 2 names it ('state_name'), 1 shortens it ('cid'), 0 not
    declared: bool  # the referenced column is a declared primary or unique key


async def infer_foreign_keys(conn: asyncpg.Connection | asyncpg.Pool, schema: Schema, *,
                             timeout_ms: int = 2000) -> tuple[InferredKey, ...]:
    """Single-column foreign keys that `schema` does not declare, each verified against the data (one query per
    candidate, under `timeout_ms`); sorted by table and column."""
    verified: list[tuple[_Candidate, bool]] = []  # (candidate, both sides hold the same values and are unique)
    for cand in _candidates(schema):
        found = await _check(conn, schema, cand.key, timeout_ms)
        if found is not None:
            verified.append((cand, found))
    return _choose(verified)


def with_foreign_keys(schema: Schema, keys: Iterable) -> Schema:
    """A copy of `schema` with `keys` (anything with table, column, ref_table, ref_column) added as inferred
    ForeignKey entries; a key naming a missing table or column, or one already declared, is left out."""
    extra: dict[str, list[ForeignKey]] = {}
    for k in keys:
        t, ref = schema.table(k.table), schema.table(k.ref_table)
        if t is None or ref is None or t.column(k.column) is None or ref.column(k.ref_column) is None:
            continue
        if any(fk.columns == (k.column,) for fk in t.foreign_keys + tuple(extra.get(t.name, ()))):
            continue
        extra.setdefault(t.name, []).append(ForeignKey((k.column,), ref.name, (k.ref_column,), inferred=True))
    if not extra:
        return schema
    tables = tuple(dataclasses.replace(t, foreign_keys=t.foreign_keys + tuple(extra[t.name])) if t.name in extra else t
                   for t in schema.tables)
    return dataclasses.replace(schema, tables=tables)


# ---- candidates from names -------------------------------------------------------------------------

def _family(c: Column) -> str | None:
    return _FAMILIES.get(base_type(c.type))


def _stems(table: str) -> set[str]:
    """How a column may name `table`: 'restaurants' as restaurants or restaurant."""
    name = table.lower()
    return {name, singular(name.replace("_", " ")).replace(" ", "_")}


def _key_like(name: str) -> bool:
    return bool(_KEY_END.search(name.lower()))


def _targets(t: Table) -> list[Column]:
    """Columns of `t` another table could point at: declared keys and key-like names."""
    declared = set(t.unique) | (set(t.primary_key) if len(t.primary_key) == 1 else set())
    return [c for c in t.columns if _family(c) and (c.name in declared or _key_like(c.name))]


def _declared_fk_columns(t: Table) -> set[str]:
    return {c for fk in t.foreign_keys for c in fk.columns}


def _shortens(column: str, table: str) -> bool:
    """Whether a key's name is the table's initials plus 'id' or 'code': 'cid' of conference, 'did' of domain."""
    head = re.sub(r"_?(id|code|no)$", "", column.lower())
    name = table.lower()
    if not head.isalpha() or len(head) > 3 or head == column.lower() or head[0] != name[0]:
        return False
    rest = iter(name)
    return all(ch in rest for ch in head)


def _named(column: str, target: Table, ref: Column) -> int | None:
    """How strongly the name `column` points at `target.ref` (see _Candidate.hint); None when it cannot refer to it."""
    col, ref_name = column.lower(), ref.name.lower()
    stems = _stems(target.name)
    if col == ref_name:
        if col in _GENERIC or not _key_like(col):
            return None
        return 2 if any(s in col for s in stems if len(s) >= 3) else int(_shortens(col, target.name))
    if any(col in (f"{s}_{ref_name}", f"{s}{ref_name}") for s in stems):
        return 2  # restaurant_id -> restaurant.id, state_name -> state.name
    if len(ref_name) >= 5 and col.endswith(ref_name) and any(s in ref_name for s in stems):
        return 2  # citingpaperid -> paper.paperid, parent_category_id -> category.category_id
    primary = target.primary_key == (ref.name,) or ref.name in target.unique
    if any(col == s or col.endswith("_" + s) for s in stems) and (primary or _key_like(ref_name)):
        return 2  # from_airport -> airport.airport_code
    return None


def _candidates(schema: Schema) -> list[_Candidate]:
    out = []
    for t in schema.tables:
        skip = _declared_fk_columns(t)
        for c in t.columns:
            if c.name in skip or _family(c) is None:
                continue
            for target in schema.tables:
                for ref in _targets(target):
                    if (target.name, ref.name) == (t.name, c.name) or _family(ref) != _family(c):
                        continue
                    hint = _named(c.name, target, ref)
                    if hint is None or (target.name == t.name and hint < 2):
                        continue
                    declared = ref.name in target.unique or target.primary_key == (ref.name,)
                    out.append(_Candidate(InferredKey(t.name, c.name, target.name, ref.name), hint, declared))
    return out


# ---- verification against the data -----------------------------------------------------------------

async def _check(conn, schema: Schema, key: InferredKey, timeout_ms: int) -> bool | None:
    """None unless the data bears `key` out; else whether both columns are unique with the same values (so the
    direction rests on the names alone)."""
    q = schema.name
    a, b = f"{quote_ident(q)}.{quote_ident(key.table)}", f"{quote_ident(q)}.{quote_ident(key.ref_table)}"
    ca, cb = quote_ident(key.column), quote_ident(key.ref_column)
    sql = (f"SELECT (SELECT count({ca}) FROM {a}) AS n,"
           f" (SELECT count(*) FROM {a} x WHERE x.{ca} IS NOT NULL"
           f"   AND NOT EXISTS (SELECT 1 FROM {b} y WHERE y.{cb} = x.{ca})) AS missing,"
           f" (SELECT count(*) > 0 AND count(*) = count({cb}) AND count({cb}) = count(DISTINCT {cb})"
           f"   FROM {b}) AS ref_unique,"
           f" (SELECT count(*) = count({ca}) AND count({ca}) = count(DISTINCT {ca}) FROM {a}) AS own_unique,"
           f" (SELECT count(*) FROM {b} y WHERE NOT EXISTS (SELECT 1 FROM {a} x WHERE x.{ca} = y.{cb}))"
           f"   AS back_missing")
    try:
        row = await _fetchrow(conn, sql, timeout_ms)
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        return None  # a timeout or an odd type: no evidence, no key
    if not row["n"] or row["missing"] or not row["ref_unique"]:
        return None
    return bool(row["own_unique"] and row["back_missing"] == 0)


async def _fetchrow(conn, sql: str, timeout_ms: int):
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as c:
            return await _fetchrow(c, sql, timeout_ms)
    async with conn.transaction(readonly=True):
        await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
        return await conn.fetchrow(sql)


def _choose(verified: list[tuple[_Candidate, bool]]) -> tuple[InferredKey, ...]:
    """One target per column, the one its name points at; pairs whose direction nothing decides are dropped."""
    by_column: dict[tuple[str, str], list[tuple[_Candidate, bool]]] = {}
    for cand, same in verified:
        by_column.setdefault((cand.key.table, cand.key.column), []).append((cand, same))
    tops = {}
    for col, options in by_column.items():
        best = max((c.hint, c.declared) for c, _ in options)
        tops[col] = [(c, same) for c, same in options if (c.hint, c.declared) == best]
    chosen = {col: top[0] for col, top in tops.items() if len(top) == 1}
    # A tie left: a table that itself refers elsewhere (domain_journal.did beside domain.did) links, it is not the
    # one the key names.
    linking = {table for table, _ in chosen}
    for col, top in tops.items():
        if len(top) > 1:
            owners = [(c, same) for c, same in top if c.key.ref_table not in linking]
            if len(owners) == 1:
                chosen[col] = owners[0]
    keys = []
    for (table, column), (cand, same) in chosen.items():
        k = cand.key
        back = chosen.get((k.ref_table, k.ref_column))
        if same and (not cand.hint or back is not None and back[0].key.ref_table == table and back[0].hint):
            continue  # the same values both ways: only a name can tell which side refers to which
        keys.append(k)
    return tuple(sorted(keys, key=lambda k: (k.table, k.column)))
