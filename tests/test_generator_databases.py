"""The generator on every database in databases/ (northwind and six of defog's, which declare no keys at all), the
course data and the shop fixture: no traceback, enough pairs, joins wherever tables are related, keys never treated
as quantities, and every pair passes the guard and runs as the read-only role. Also the joins inferred where none are
declared."""
from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import sqlglot
from sqlglot import exp

from finetune.generator.run import GenerateSettings, generate
from pipeline.guard import GuardPolicy, check_sql
from pipeline.relations import InferredKey, infer_foreign_keys, with_foreign_keys
from pipeline.roles import QueryRole, drop_query_role, grant_query_role
from pipeline.schema import Schema, introspect_schema

from .conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    **{name: ROOT / "databases" / "defog" / f"{name}.sql"
       for name in ("academic", "atis", "geography", "restaurants", "scholar", "yelp")},
    "northwind": ROOT / "databases" / "northwind" / "northwind.sql",
    "shop": ROOT / "tests" / "fixtures" / "shopdb.sql",
}
DATABASES = sorted(FILES) + ["course"]
COUNT = 80
INTEGER = ("integer", "bigint", "smallint")


class Scratch:
    """Databases loaded from files on first use, each with its own read-only query role; all dropped at the end."""

    def __init__(self, admin_url: str, run_id: str):
        self.admin_url, self.run_id = admin_url, run_id
        self.base = admin_url.split("?")[0].rsplit("/", 1)[0]
        self.loaded: dict[str, tuple[str, str]] = {}

    def urls(self, name: str) -> tuple[str, str]:
        """(owner URL, read-only role URL) of database `name`, loading it the first time."""
        if name not in self.loaded:
            db, role = f"askdb_gen_{self.run_id}_{name}", QueryRole(f"askdb_gq_{self.run_id}_{name}", "test-only")
            asyncio.run(self._load(db, role, FILES[name].read_text()))
            host = self.base.split("@", 1)[-1]
            self.loaded[name] = (f"{self.base}/{db}", f"postgresql://{role.name}:test-only@{host}/{db}")
        return self.loaded[name]

    async def _load(self, db: str, role: QueryRole, sql: str) -> None:
        conn = await asyncpg.connect(await create_database(self.admin_url, db, sql))
        try:
            await grant_query_role(conn, role)
        finally:
            await conn.close()

    def drop_all(self) -> None:
        async def drop(name: str, url: str) -> None:
            conn = await asyncpg.connect(url)
            await drop_query_role(conn, f"askdb_gq_{self.run_id}_{name}")
            await conn.close()
            await drop_database(self.admin_url, url.rsplit("/", 1)[1])
        for name, (url, _) in self.loaded.items():
            asyncio.run(drop(name, url))


@pytest.fixture(scope="module")
def scratch(pg_admin_url, test_run_id):
    s = Scratch(pg_admin_url, test_run_id)
    yield s
    s.drop_all()


@dataclass
class Generated:
    schema: Schema  # with the inferred joins, as the generator saw it
    inferred: tuple[InferredKey, ...]
    rows: list[dict]
    stats: dict
    query_url: str


@pytest.fixture(scope="module")
def generated(scratch, course_db_url, query_db_url, tmp_path_factory):
    """One quick sampling run per database, made on first use."""
    cache: dict[str, Generated] = {}

    def get(name: str) -> Generated:
        if name not in cache:
            owner, reader = (course_db_url, query_db_url) if name == "course" else scratch.urls(name)
            out = tmp_path_factory.mktemp(name) / "samples.jsonl"
            cache[name] = asyncio.run(_generate(owner, reader, out))
        return cache[name]
    return get


async def _generate(url: str, query_url: str, out: Path) -> Generated:
    import json

    async with asyncpg.create_pool(url, min_size=1, max_size=4) as pool:
        schema = await introspect_schema(pool)
        inferred = await infer_foreign_keys(pool, schema)
        schema = with_foreign_keys(schema, inferred)
        settings = GenerateSettings(count=COUNT, seed=11, sources=("sampling",), today=dt.date(2026, 11, 24),
                                    db_label="test", concurrency=4, exclude=())
        stats = await generate(pool, schema, GuardPolicy.from_schema(schema), settings, out=out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return Generated(schema, inferred, rows, stats.as_dict(), query_url)


def _key_columns(schema: Schema) -> dict[str, set[str]]:
    """Per table, the columns that hold keys: primary and foreign (declared or inferred) and id-named ones."""
    keys = {}
    for t in schema.tables:
        cols = set(t.primary_key) | {c for fk in t.foreign_keys for c in fk.columns}
        cols |= {c.name for c in t.columns if c.name == "id" or c.name.endswith("_id")
                 or c.name.endswith("id") and c.base_type in INTEGER}
        keys[t.name] = cols
    return keys


def _related(schema: Schema) -> bool:
    return any(fk.ref_table != t.name for t in schema.tables for fk in t.foreign_keys)


def _tables_read(tree: exp.Expression) -> set[str]:
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table)} - ctes


@pytest.mark.parametrize("name", DATABASES)
def test_generates_a_usable_set_without_a_traceback(generated, name):
    g = generated(name)
    assert len(g.rows) >= min(COUNT, 10 * len(g.schema.tables)), g.stats
    assert not [k for k in g.stats["rejected"] if k.startswith("shape_error")], g.stats["rejected"]
    assert len({r["shape"] for r in g.rows}) >= 12, g.stats["per_shape"]
    assert len({r["question"].lower() for r in g.rows}) == len(g.rows)


@pytest.mark.parametrize("name", DATABASES)
def test_joins_wherever_tables_are_related(generated, name):
    g = generated(name)
    assert _related(g.schema), "every one of these databases relates its tables, declared or not"
    joined = [r for r in g.rows if len(_tables_read(sqlglot.parse_one(r["sql"], read="postgres"))) >= 2]
    assert len(joined) >= 0.25 * len(g.rows), [r["sql"] for r in g.rows]


@pytest.mark.parametrize("name", DATABASES)
def test_keys_are_never_averaged_summed_or_compared(generated, name):
    g = generated(name)
    keys = _key_columns(g.schema)
    bad = []
    for r in g.rows:
        tree = sqlglot.parse_one(r["sql"], read="postgres")
        aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
        read = _tables_read(tree)
        ops = [n.this for n in tree.find_all(exp.Avg, exp.Sum, exp.Min, exp.Max)]
        ops += [side for n in tree.find_all(exp.GT, exp.LT, exp.GTE, exp.LTE) for side in (n.this, n.expression)]
        for col in ops:
            if not isinstance(col, exp.Column):
                continue
            owners = [aliases.get(col.table, col.table)] if col.table else read
            if any(col.name in keys.get(t, ()) for t in owners):
                bad.append(r["sql"])
    assert not bad, bad


@pytest.mark.parametrize("name", DATABASES)
def test_every_pair_passes_the_guard_and_runs_as_the_read_only_role(generated, name):
    g = generated(name)
    policy = GuardPolicy.from_schema(g.schema)

    async def run_all():
        conn = await asyncpg.connect(g.query_url)
        try:
            for r in g.rows:
                checked = check_sql(r["sql"], policy)
                async with conn.transaction(readonly=True):
                    rows = await conn.fetch(checked.sql)
                assert rows or r["shape"] == "anti_join", r
        finally:
            await conn.close()
    asyncio.run(run_all())


@pytest.mark.parametrize("name", sorted(set(FILES) - {"shop"}))
def test_the_mends_leave_every_dev_gold_answering_as_it_did(scratch, name):
    """The statement mends were written on the course: on another database's hand-written answers they must change
    no result (an ask word read as a stored value, a search added for a noun, a DISTINCT dropped did)."""
    from finetune.evaluate import EVAL_LIMITS, read_items, same_answer
    from pipeline.executor import execute
    from pipeline.linking import load_linker
    from pipeline.mend import mend

    url = scratch.urls(name)[0]

    async def changed_answers() -> list[str]:
        out = []
        async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
            schema = await introspect_schema(pool)
            linker = await load_linker(pool, with_foreign_keys(schema, await infer_foreign_keys(pool, schema)))
            for item in read_items(ROOT / "finetune" / "eval" / f"{name}_dev.jsonl"):
                mended = mend(item.question, item.sql, linker, dt.date(2026, 11, 24))
                if mended != item.sql:
                    gold, pred = await execute(pool, item.sql, EVAL_LIMITS), await execute(pool, mended, EVAL_LIMITS)
                    if not same_answer(item.sql, gold, pred):
                        out.append(f"{item.question}: {mended}")
        return out

    assert asyncio.run(changed_answers()) == []


def test_new_shapes_reach_the_databases_that_have_their_material(generated):
    # Shares, rows two named rows have in common, the top row per group and rankings by a total need only related
    # tables with numbers or categories; chains need a key into the same table (declared or inferred).
    for name in ("northwind", "academic", "yelp", "course"):
        shapes = {r["shape"] for r in generated(name).rows}
        assert {"share", "top_per_group", "rank_by_total"} <= shapes, (name, shapes)
    assert "chain" in {r["shape"] for r in generated("northwind").rows}  # employees.reports_to
    assert "chain" in {r["shape"] for r in generated("scholar").rows}  # cite: citing and cited paper, inferred
    assert "by_period" in {r["shape"] for r in generated("northwind").rows}  # orders by year or month


def _profile(url: str):
    """The generator's view of a database: its profile and sampled values, as generate() builds them."""
    from finetune.generator.profile import profile_schema
    from finetune.generator.shapes import Ctx
    from finetune.generator.values import sample_values

    async def build():
        async with asyncpg.create_pool(url, min_size=1, max_size=4) as pool:
            schema = await introspect_schema(pool)
            schema = with_foreign_keys(schema, await infer_foreign_keys(pool, schema))
            bank = await sample_values(pool, schema, denied=frozenset(), today=dt.date(2026, 11, 24), limit=600)
        return Ctx(profile_schema(schema, bank, denied=frozenset()), bank)
    return asyncio.run(build())


def test_a_database_without_terms_asks_for_counts_and_totals_of_one_year(scratch):
    import random

    from finetune.generator.shapes import aggregate, count_children, count_rows, having

    ctx, rng = _profile(scratch.urls("northwind")[0]), random.Random(5)
    assert ctx.profile.period is None  # no table of terms: a year of a row's date stands for the period

    def in_a_year() -> dict:
        found = {}
        for shape in (count_rows, count_children, aggregate, having):
            for _ in range(300):
                cand = shape(ctx, rng)
                if cand is not None and "-01-01'" in cand.sql:
                    found[shape.__name__] = cand
                    break
        return found
    assert not in_a_year()  # generate.year_periods is off by default
    ctx.years = True
    found = in_a_year()
    assert set(found) == {"count_rows", "count_children", "aggregate", "having"}, found
    for cand in found.values():
        where = sqlglot.parse_one(cand.sql, read="postgres").find(exp.Where)
        start = next(n for n in where.find_all(exp.GTE) if n.expression.is_string)
        end = next(n for n in where.find_all(exp.LT) if n.expression.is_string)
        assert start.this.sql() == end.this.sql(), cand.sql  # one date column, from a year's first day to the next's
        year = int(start.expression.name[:4])
        assert end.expression.name == f"{year + 1}-01-01", cand.sql
        assert str(year) in cand.slots.get("when", cand.slots.get("cond")), cand.slots  # the question says it




def test_repeated_short_text_is_an_attribute_that_filters_test_when_asked(scratch):
    import random

    from finetune.generator.shapes import count_rows, filter_category

    ctx, rng = _profile(scratch.urls("northwind")[0]), random.Random(3)
    suppliers = ctx.profile.tables["suppliers"]
    # 16 countries in 29 rows: no name, too many for a category, yet what people filter suppliers by.
    assert "country" in suppliers.attributes and "country" not in suppliers.categories + suppliers.idents
    assert "city" not in suppliers.attributes  # nearly one city a supplier names its row

    def by_attribute() -> set[str]:
        """The shapes that wrote a filter of suppliers by one of its attributes."""
        shapes = set()
        for shape in (filter_category, count_rows):
            for _ in range(300):
                cand = shape(ctx, rng)
                if cand is None or cand.tables != ("suppliers",):
                    continue
                where = sqlglot.parse_one(cand.sql, read="postgres").find(exp.Where)
                tests = {eq.this.name: eq.expression.name for eq in where.find_all(exp.EQ)} if where else {}
                col = next((c for c in tests if c in suppliers.attributes), None)
                if col:
                    assert str(tests[col]) in str(cand.slots), (cand.sql, cand.slots)  # the question says it
                    shapes.add(shape.__name__)
                    break
        return shapes
    assert not by_attribute()  # generate.attribute_filters is off by default
    ctx.attributes = True
    assert by_attribute() == {"filter_category", "count_rows"}


# ---- joins inferred where none are declared -------------------------------------------------------

def test_inferred_joins_on_academic(scratch):
    keys = asyncio.run(_infer(scratch.urls("academic")[0]))
    assert InferredKey("writes", "aid", "author", "aid") in keys
    assert InferredKey("writes", "pid", "publication", "pid") in keys
    assert InferredKey("publication", "cid", "conference", "cid") in keys  # not domain_conference.cid, a link
    # A key column points at one table only, and never at a linking table that happens to hold unique values.
    assert len({(k.table, k.column) for k in keys}) == len(keys)
    assert not [k for k in keys if k.ref_table.startswith("domain_")]


def test_a_column_with_values_missing_from_the_target_is_not_inferred(scratch):
    geo = asyncio.run(_infer(scratch.urls("geography")[0]))
    assert InferredKey("lake", "state_name", "state", "state_name") in geo
    # Two cities lie in states the state table does not hold ('Distrito Federal'): no key, however well named.
    assert not [k for k in geo if (k.table, k.column) == ("city", "state_name")]
    rest = asyncio.run(_infer(scratch.urls("restaurants")[0]))
    assert InferredKey("location", "restaurant_id", "restaurant", "id") in rest  # <singular table>_id -> id
    yelp = asyncio.run(_infer(scratch.urls("yelp")[0]))
    assert InferredKey("review", "user_id", "users", "user_id") in yelp
    assert not [k for k in yelp if k.column == "id"]  # category.id and neighbourhood.id are each their own


def test_declared_keys_are_left_as_they_are(scratch):
    url = scratch.urls("northwind")[0]

    async def check():
        async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
            schema = await introspect_schema(pool)
            keys = await infer_foreign_keys(pool, schema)
        declared = {(t.name, c) for t in schema.tables for fk in t.foreign_keys for c in fk.columns}
        assert not [k for k in keys if (k.table, k.column) in declared]
        with_keys = with_foreign_keys(schema, [InferredKey("orders", "customer_id", "customers", "customer_id"),
                                               InferredKey("orders", "nope", "customers", "customer_id")])
        assert with_keys.table("orders").foreign_keys == schema.table("orders").foreign_keys
    asyncio.run(check())


def test_direction_of_equal_unique_columns_needs_a_name(pg_admin_url, test_run_id):
    # Two tables holding the same unique numbers: only a name says which refers to which.
    name = f"askdb_rel_{test_run_id}"
    sql = ("CREATE TABLE box (box_no int NOT NULL, label text);"
           "CREATE TABLE crate (box_no int NOT NULL, weight int);"
           "INSERT INTO box SELECT g, 'box ' || g FROM generate_series(1, 5) g;"
           "INSERT INTO crate SELECT g, g * 10 FROM generate_series(1, 5) g;"
           "CREATE TABLE shelf (id int NOT NULL, shelf_no int);"
           "CREATE TABLE item (item_no int, shelf_id int, missing_box_no int);"
           "INSERT INTO shelf SELECT g, g FROM generate_series(1, 3) g;"
           "INSERT INTO item VALUES (1, 1, 1), (2, 2, 2), (3, NULL, 3), (4, 3, 9);")

    async def run():
        try:
            conn = await asyncpg.connect(await create_database(pg_admin_url, name, sql))
            keys = await infer_foreign_keys(conn, await introspect_schema(conn))
            await conn.close()
        finally:
            await drop_database(pg_admin_url, name)
        return keys
    keys = asyncio.run(run())
    # box.box_no names its table ('box_no' of box): crate.box_no refers to it, not the other way round.
    assert InferredKey("crate", "box_no", "box", "box_no") in keys
    assert not [k for k in keys if k.table == "box"]
    assert InferredKey("item", "shelf_id", "shelf", "id") in keys  # NULLs are no evidence against
    assert not [k for k in keys if k.column == "missing_box_no"]  # 9 is no box


async def _infer(url: str) -> tuple[InferredKey, ...]:
    async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
        return await infer_foreign_keys(pool, await introspect_schema(pool))
