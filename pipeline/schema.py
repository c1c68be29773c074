"""Read any database's schema from the catalog into small frozen values."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import asyncpg

from .database import quote_ident


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    comment: str | None = None
    samples: tuple[str, ...] = ()

    @property
    def base_type(self) -> str:
        """The type without its modifiers: 'numeric(5,2)' -> 'numeric', 'character varying(40)' -> 'character varying'."""
        return base_type(self.type)


def base_type(type_: str) -> str:
    """A catalog type name without its modifiers ('numeric(5,2)' -> 'numeric')."""
    return re.sub(r"\(.*\)", "", type_).strip()


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    inferred: bool = False  # found in the data (pipeline/relations.py), not declared in the catalog


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    comment: str | None = None
    schema: str = "public"
    row_estimate: int = 0
    unique: tuple[str, ...] = ()  # columns no two rows share, each alone (a course's code)

    def column(self, name: str) -> Column | None:
        """The column called `name`, or None."""
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]
    name: str = "public"

    def table(self, name: str) -> Table | None:
        """The table called `name` (schema prefix optional), or None."""
        name = name.split(".")[-1]
        return next((t for t in self.tables if t.name == name), None)

    def without_columns(self, denied: frozenset[str]) -> "Schema":
        """A copy with `table.column` entries in `denied` removed (what the model may see)."""
        if not denied:
            return self
        tables = []
        for t in self.tables:
            cols = tuple(c for c in t.columns if f"{t.name}.{c.name}" not in denied)
            kept = {c.name for c in cols}
            tables.append(Table(t.name, cols, t.primary_key, t.foreign_keys, t.comment, t.schema, t.row_estimate,
                                tuple(c for c in t.unique if c in kept)))
        return Schema(tuple(tables), self.name)

    def neighbours(self, name: str) -> set[str]:
        """Tables linked to `name` by a foreign key, in either direction."""
        out = set()
        for t in self.tables:
            for fk in t.foreign_keys:
                if t.name == name:
                    out.add(fk.ref_table)
                if fk.ref_table == name:
                    out.add(t.name)
        out.discard(name)
        return out


_TABLES = """
SELECT c.oid, c.relname, obj_description(c.oid, 'pg_class') AS comment,
       greatest(c.reltuples, 0)::bigint AS est
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p')
ORDER BY c.relname
"""
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable, col_description(a.attrelid, a.attnum) AS comment
FROM pg_attribute a
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_CONSTRAINTS = """
SELECT con.conrelid, con.contype::text AS contype, ref.relname AS ref_table,
       ARRAY(SELECT attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.n ORDER BY k.i) AS cols,
       ARRAY(SELECT attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute ON attrelid = con.confrelid AND attnum = k.n ORDER BY k.i) AS ref_cols
FROM pg_constraint con LEFT JOIN pg_class ref ON ref.oid = con.confrelid
WHERE con.conrelid = ANY($1::oid[]) AND con.contype IN ('p', 'f', 'u')
ORDER BY con.conrelid, con.conname
"""
TEXT_TYPES = ("text", "character varying", "character", "varchar")
NUMBER_TYPES = ("integer", "bigint", "smallint", "numeric", "real", "double precision", "decimal")


async def introspect_schema(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    schema: str = "public",
    samples_per_column: int = 3,
    exclude_tables: frozenset[str] = frozenset(),
) -> Schema:
    """Tables, columns, keys, comments and a few sample values of one Postgres schema."""
    tables = [r for r in await conn.fetch(_TABLES, schema) if r["relname"] not in exclude_tables]
    oids = [r["oid"] for r in tables]
    cols: dict[int, list] = {}
    for r in await conn.fetch(_COLUMNS, oids):
        cols.setdefault(r["attrelid"], []).append(r)
    pks: dict[int, tuple[str, ...]] = {}
    fks: dict[int, list[ForeignKey]] = {}
    unique: dict[int, list[str]] = {}
    for r in await conn.fetch(_CONSTRAINTS, oids):
        if r["contype"] == "p":
            pks[r["conrelid"]] = tuple(r["cols"])
        elif r["contype"] == "u":
            if len(r["cols"]) == 1:
                unique.setdefault(r["conrelid"], []).append(r["cols"][0])
        else:
            fks.setdefault(r["conrelid"], []).append(
                ForeignKey(tuple(r["cols"]), r["ref_table"], tuple(r["ref_cols"]))
            )
    out = []
    for t in tables:
        columns = []
        for c in cols.get(t["oid"], []):
            samples: tuple[str, ...] = ()
            is_key = c["attname"] in pks.get(t["oid"], ()) or c["attname"].endswith("_id")
            if samples_per_column and base_type(c["type"]) in TEXT_TYPES and not is_key:
                samples = await _sample_values(conn, schema, t["relname"], c["attname"], samples_per_column)
            columns.append(Column(c["attname"], c["type"], c["nullable"], c["comment"], samples))
        out.append(
            Table(t["relname"], tuple(columns), pks.get(t["oid"], ()), tuple(fks.get(t["oid"], [])),
                  t["comment"], schema, t["est"], tuple(unique.get(t["oid"], ())))
        )
    return Schema(tuple(out), schema)


async def _sample_values(conn, schema: str, table: str, column: str, k: int) -> tuple[str, ...]:
    # Most common short values: they are what people type in questions.
    sql = (
        f"SELECT v FROM (SELECT {quote_ident(column)}::text AS v, count(*) AS n "
        f"FROM {quote_ident(schema)}.{quote_ident(table)} "
        f"WHERE {quote_ident(column)} IS NOT NULL AND length({quote_ident(column)}::text) <= 60 "
        f"GROUP BY 1 ORDER BY n DESC, v LIMIT {int(k)}) s"
    )
    try:
        return tuple(r["v"] for r in await conn.fetch(sql))
    except asyncpg.PostgresError:
        return ()


def render_schema(schema: Schema, tables: list[str] | None = None, *, comments: bool = True, samples: bool = True) -> str:
    """A compact text rendering of (some of) the schema for a model prompt."""
    lines = []
    chosen = [schema.table(n) for n in tables] if tables is not None else list(schema.tables)
    for t in chosen:
        if t is None:
            continue
        head = f"TABLE {t.name}"
        if comments and t.comment:
            head += f" -- {t.comment}"
        lines.append(head)
        fkmap = {fk.columns[0]: f"{fk.ref_table}.{fk.ref_columns[0]}" for fk in t.foreign_keys if fk.columns}
        for c in t.columns:
            bits = [f"  {c.name} {_short_type(c.type)}"]
            if c.name in t.primary_key:
                bits.append("PK")
            if c.name in fkmap:
                bits.append(f"-> {fkmap[c.name]}")
            note = []
            if comments and c.comment:
                note.append(c.comment)
            if samples and c.samples:
                note.append("e.g. " + ", ".join(repr(s) for s in c.samples))
            if note:
                bits.append("-- " + "; ".join(note))
            lines.append(" ".join(bits))
    return "\n".join(lines)


def _short_type(t: str) -> str:
    return {
        "integer": "int", "character varying": "varchar", "timestamp without time zone": "timestamp",
        "timestamp with time zone": "timestamptz", "time without time zone": "time", "boolean": "bool",
    }.get(t, t)
