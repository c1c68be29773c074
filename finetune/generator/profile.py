"""What each table's columns are for (names, categories, numbers, dates), read from any schema and its data."""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from pipeline.schema import NUMBER_TYPES, Schema, Table
from pipeline.words import SYNONYMS, humanise, person_columns, plural, short_columns, singular  # noqa: F401 (the generator imports them from here)
from pipeline.words import words as word_list

from .values import ColumnStats, TableSample, ValueBank

_TEXT = ("text", "character varying", "character", "varchar", "citext")
_NAME_LIKE = ("code", "name", "title", "label", "sku", "isbn", "number")


@dataclass(frozen=True)
class FkEdge:
    table: str
    column: str
    ref_table: str
    ref_column: str
    label: str  # 'major department' for major_department_id


@dataclass(frozen=True)
class Period:
    """A table of time periods (rows with start and end dates): 'this term', 'last fall'."""
    table: str
    label_column: str
    current: str | None
    previous: tuple[str, ...]  # earlier labels, most recent first


@dataclass(frozen=True)
class TableProfile:
    name: str
    alias: str
    noun: str  # singular, humanised
    pk: str | None
    fks: tuple[FkEdge, ...]
    idents: tuple[str, ...]  # text columns that name one row ('code', 'title')
    person: tuple[str, str] | None  # (first, last) name columns
    categories: tuple[str, ...]  # few distinct text values ('level', 'status')
    numbers: tuple[str, ...]
    dates: tuple[str, ...]
    times: tuple[str, ...]
    texts: tuple[str, ...]  # free text worth searching with ILIKE
    own: tuple[str, ...]  # every column that is not a key
    comment: str = ""
    short: tuple[str, ...] = ()  # idents that only shorten another ('CE' of 'Computer Engineering')
    # Short text whose values repeat yet are too many for a category: a supplier's country (16 in 29 rows), a
    # contact's title. People filter by them ('suppliers in Japan'), never group a chart by them.
    attributes: tuple[str, ...] = ()
    years: tuple[str, ...] = ()  # whole-number columns called like a year whose values are years

    @property
    def nouns(self) -> str:
        return plural(self.noun)

    @property
    def labels(self) -> tuple[str, ...]:
        """Columns that show which row it is, shortest first."""
        if self.person:
            return self.person
        return tuple(c for c in self.idents if c not in self.short)[:2]

    def fk_to(self, table: str) -> list[FkEdge]:
        return [f for f in self.fks if f.ref_table == table]


@dataclass(frozen=True)
class SchemaProfile:
    tables: dict[str, TableProfile]
    period: Period | None
    today: dt.date

    def children(self, parent: str) -> list[FkEdge]:
        """Foreign keys pointing at `parent`, from every table."""
        return [f for t in self.tables.values() for f in t.fks if f.ref_table == parent]


def profile_schema(schema: Schema, bank: ValueBank, *, denied: frozenset[str]) -> SchemaProfile:
    """Classify every usable column of every table from its type, name and sampled data."""
    aliases = _aliases([t.name for t in schema.tables])
    tables = {}
    for t in schema.tables:
        if not bank.rows(t.name):
            continue
        tables[t.name] = _profile_table(t, bank, aliases[t.name], denied)
    for name, p in list(tables.items()):
        fks = tuple(f for f in p.fks if f.ref_table in tables)
        tables[name] = dataclasses.replace(p, fks=fks)
    return SchemaProfile(tables, _find_period(tables, bank), bank.today)


def _aliases(names: list[str]) -> dict[str, str]:
    """Short, unique, stable table aliases: course_topics -> ct, students -> st when s is taken."""
    out: dict[str, str] = {}
    for name in sorted(names):
        words = [w for w in name.lower().split("_") if w]
        base = "".join(w[0] for w in words) or "t"
        alias, extra = base, 1
        while alias in out.values() or alias in ("as", "on", "in", "is", "or", "by", "to", "do", "if", "at"):
            alias = base + words[-1][extra] if extra < len(words[-1]) else f"{base}{extra}"
            extra += 1
        out[name] = alias
    return out


def _profile_table(t: Table, bank: ValueBank, alias: str, denied: frozenset[str]) -> TableProfile:
    sample = bank.samples[t.name]
    fk_cols = {fk.columns[0] for fk in t.foreign_keys if len(fk.columns) == 1}
    fks = tuple(FkEdge(t.name, fk.columns[0], fk.ref_table, fk.ref_columns[0], fk_label(fk.columns[0], fk.ref_table))
                for fk in t.foreign_keys if len(fk.columns) == 1)
    usable = [c for c in t.columns if f"{t.name}.{c.name}" not in denied and c.name in sample.stats]
    idents, categories, numbers, dates, times, texts, own, attributes = [], [], [], [], [], [], [], []
    total = max(sample.total, 1)
    declared_fk = {c for fk in t.foreign_keys if not fk.inferred for c in fk.columns}
    for c in usable:
        st = sample.stats[c.name]
        base = c.base_type
        # A key names a row, it is no quantity: never averaged, summed or compared. A key inferred in text
        # ('state_name', 'airport_code') still names its row in words, so it stays a column people ask about.
        if (c.name in t.primary_key or c.name in declared_fk or id_like(c.name, base)
                or c.name in fk_cols and base not in _TEXT):
            continue
        own.append(c.name)
        if base in _TEXT:
            # A long title still names its row where the column says so (a journal's full name).
            if st.distinct >= 0.8 * total and total >= 2 and (st.max_len <= 60 or _name_rank(c.name, t.name) < 2
                                                               and st.max_len <= 120):
                idents.append(c.name)
            elif (2 <= st.distinct <= 12 and st.distinct <= 0.5 * total
                  or 2 <= st.distinct <= 30 and st.distinct <= 0.3 * total
                  # In a table of a few rows any repeated short value is a category ('Pizza' twice in seven).
                  or total <= 30 and 2 <= st.distinct < total and st.distinct <= 12) and st.max_len <= 40:
                categories.append(c.name)
            elif _repeats(st, total):
                attributes.append(c.name)
            if st.max_len > 15 and st.distinct >= 3:
                texts.append(c.name)
        elif base in NUMBER_TYPES and st.distinct >= 2:
            numbers.append(c.name)
        elif base == "date" or base.startswith("timestamp"):
            dates.append(c.name)
        elif base.startswith("time"):
            times.append(c.name)
    names = {c.name for c in usable}
    person = person_columns(names)
    idents = [c for c in idents if not person or c not in person]
    attributes = [c for c in attributes if not person or c not in person]
    # Columns called like a name come first: they are what people use to say which row they mean.
    idents.sort(key=lambda c: (_name_rank(c, t.name), sample.stats[c].max_len, c))
    noun = singular(humanise(t.name))
    rows = bank.rows(t.name)
    short = short_columns({c: [str(r[c]) for r in rows if r.get(c) is not None] for c in idents})
    pk = t.primary_key[0] if len(t.primary_key) == 1 else None if t.primary_key else _data_key(t, sample)
    return TableProfile(t.name, alias, noun, pk, fks, tuple(idents), person, tuple(categories), tuple(numbers),
                        tuple(dates), tuple(times), tuple(texts), tuple(own), t.comment or "", tuple(short),
                        tuple(attributes), _year_columns(numbers, rows))


def _repeats(st: ColumnStats, total: int) -> bool:
    """Short text whose stored values come back: on average each at least one and a half times."""
    return 2 <= st.distinct and st.max_len <= 40 and 1.5 * st.distinct <= total - st.nulls


def year_of(value) -> int | None:
    """The year a date, a timestamp or a year column's value is in."""
    if isinstance(value, dt.date):
        return value.year
    return value if isinstance(value, int) and 1800 <= value <= 2200 else None


def _year_columns(numbers: list[str], rows: tuple[dict, ...]) -> tuple[str, ...]:
    """Whole-number columns called like a year whose sampled values are years."""
    out = []
    for c in numbers:
        values = [r.get(c) for r in rows if r.get(c) is not None]
        if "year" in word_list(c) and values and all(year_of(v) is not None for v in values):
            out.append(c)
    return tuple(out)


def _name_rank(column: str, table: str) -> int:
    """How surely a column names its table's rows: 0 for 'name', 'code' or the table's own ('airport_code' of
    airport), 1 for another name or title ('company_name'), 2 for another code or number ('postal_code'), 3 else."""
    c = column.lower()
    if c in _NAME_LIKE:
        return 0
    if not c.endswith(_NAME_LIKE):
        return 3
    head = c.rsplit("_", 1)[0] if "_" in c else ""
    if head and head in {table.lower(), singular(table.lower().replace("_", " ")).replace(" ", "_")}:
        return 0
    return 1 if c.endswith(("name", "title", "label")) else 2


# English words that end like a key's name ('paid', 'valid'): a number column called so is a quantity or a flag.
_NOT_IDS = frozenset({"paid", "unpaid", "prepaid", "overpaid", "underpaid", "said", "laid", "raid", "maid", "grid",
                      "void", "acid", "avid", "arid", "valid", "invalid", "solid", "liquid", "rapid", "humid", "fluid",
                      "hybrid", "vivid", "timid", "afraid", "pyramid", "squid", "orchid", "android", "asteroid"})


def id_like(name: str, base_type: str = "") -> bool:
    """Whether a column called `name` holds a row's key rather than a quantity: 'id', 'course_id', and in whole
    numbers the squeezed forms ('aid', 'did', 'paperid')."""
    n = name.lower()
    if n in ("id", "uuid", "guid") or n.endswith(("_id", "_uuid", "_key", "_fk")):
        return True
    whole = base_type in ("integer", "bigint", "smallint") or base_type == ""
    return whole and n.endswith("id") and len(n) >= 3 and n.isalpha() and n not in _NOT_IDS


def fk_label(column: str, ref_table: str) -> str:
    """How a question says what a key column points at: 'department' for department_id, 'author' for aid or
    authorid (a key named like its parent's key), 'state' for state_name, 'citing paper' for citingpaperid."""
    label, parent = humanise(column), singular(humanise(ref_table))
    squeezed, noun = label.replace(" ", ""), parent.replace(" ", "")
    for suffix in (" name", " code", " number", " no"):
        if label == parent + suffix:
            return parent
    if id_like(column) and squeezed.endswith("id") and " " not in label:
        head = squeezed[:-2]
        if head.endswith(noun):
            return f"{head[:-len(noun)]} {parent}".strip()
        if len(head) <= 3:
            return parent  # aid, cid: the parent's initials
    return label


def _data_key(t: Table, sample: TableSample) -> str | None:
    """For a table with no declared primary key: a column whose name says key and whose values are all there and all
    different."""
    total = sample.total
    for c in t.columns:
        st = sample.stats.get(c.name)
        if st and total and st.nulls == 0 and st.distinct == total and (
                id_like(c.name, c.base_type) or c.name.lower().endswith("code")):
            return c.name
    return None


def _find_period(tables: dict[str, TableProfile], bank: ValueBank) -> Period | None:
    """The table whose rows have a start and an end date and one of them contains today."""
    for p in tables.values():
        if len(p.dates) < 2 or not p.idents:
            continue
        start, end = p.dates[0], p.dates[1]
        rows = [r for r in bank.rows(p.name) if isinstance(r.get(start), dt.date) and isinstance(r.get(end), dt.date)]
        if not rows:
            continue
        label = p.idents[0] if len(p.idents) == 1 else max(p.idents, key=lambda c: len(str(rows[0][c])))
        day = lambda v: v.date() if isinstance(v, dt.datetime) else v  # noqa: E731
        current = next((r[label] for r in rows if day(r[start]) <= bank.today <= day(r[end])), None)
        if current is None:
            continue
        earlier = sorted((r for r in rows if day(r[end]) < bank.today), key=lambda r: day(r[start]), reverse=True)
        return Period(p.name, label, current, tuple(r[label] for r in earlier))
    return None
