"""The feedback store against real Postgres: migrations, privileges, durable flags, outages, review."""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import tempfile

import asyncpg
import pytest

from pipeline.database import open_pool
from pipeline.errors import ConfigError, QueryFailed, UnsafeSql
from pipeline.executor import ExecLimits
from pipeline.feedback_store import FeedbackNotFound, FeedbackSettings, FeedbackStore, Verifier, hash_user, migrate
from pipeline.guard import GuardPolicy
from pipeline.pipeline import Answer
from pipeline.retrieval import ExampleStore
from pipeline.roles import QueryRole, grant_query_role
from pipeline.schema import introspect_schema

from askdb.commands.feedback import review_flags

QUESTION = "How many credits is Data Structures (CS 2110)?"
WRONG_SQL = "SELECT credits FROM courses WHERE title = 'Data Structures'"
RIGHT_SQL = "SELECT credits FROM courses WHERE code = 'CS 2110'"


def answer_for(question: str = QUESTION, sql: str = WRONG_SQL) -> Answer:
    return Answer(question, sql, ("credits",), ((3,),), "It is worth 3 credits.", timings_ms={"total": 812.5},
                  attempts=1, answer_source="template", model="smollm2-135m")


@pytest.fixture(scope="session")
def feedback_db(course_db_url: str) -> str:
    """The course database with askdb's own schema migrated, as `db init` leaves it."""
    async def setup():
        conn = await asyncpg.connect(course_db_url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    asyncio.run(setup())
    return course_db_url


@pytest.fixture
async def verifier(feedback_db: str, query_db_url: str):
    async with open_pool(query_db_url, max_size=2) as pool:
        schema = await introspect_schema(pool, schema="public")
        policy = GuardPolicy.from_schema(schema, denied_columns=frozenset({"students.email", "enrollments.grade"}))
        yield Verifier(pool, policy, ExecLimits(statement_timeout_ms=3000, max_rows=50))


def settings(tmp_path, **kw) -> FeedbackSettings:
    return FeedbackSettings(spool_path=tmp_path / "spool.jsonl", backoff_s=0.01, **kw)


async def flag_one(store: FeedbackStore, question: str = QUESTION, sql: str = WRONG_SQL) -> tuple[int, int]:
    iid = await store.record_interaction(platform="discord", channel="123", user_id=42, question=question,
                                         answer=answer_for(question, sql))
    fid = await store.flag(iid, who=42, where="#course-help", comment="wrong course")
    return iid, fid


# -- migrations and privileges -----------------------------------------------------------------------

async def test_migrations_apply_once_even_when_run_concurrently(feedback_db: str, test_run_id: str):
    schema = f"askdb_mig_{test_run_id}"
    conns = [await asyncpg.connect(feedback_db) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(c, schema=schema) for c in conns))
        assert sorted(results) == [[], ["0001", "0002"]]
        assert await migrate(conns[0], schema=schema) == []
        versions = await conns[0].fetch(f'SELECT version FROM "{schema}".schema_migrations')
        assert [r["version"] for r in versions] == ["0001", "0002"]
    finally:
        await conns[0].execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for c in conns:
            await c.close()


async def test_query_role_can_neither_read_nor_write_askdb_tables(feedback_db, query_db_url, test_run_id):
    owner = await asyncpg.connect(feedback_db)
    try:  # `db init` order: migrate, then grant; the grant must not open the schema up
        await grant_query_role(owner, QueryRole(name=f"askdb_q_{test_run_id}", password="test-only"))
    finally:
        await owner.close()
    conn = await asyncpg.connect(query_db_url)
    try:
        for sql in ("SELECT count(*) FROM askdb.interactions", "SELECT * FROM askdb.flags",
                    "SELECT * FROM askdb.schema_migrations"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(sql)
        # The role may lift its own read-only default; privileges must still stop it.
        for sql in ("INSERT INTO askdb.interactions (client_key, temp_id, platform, user_hash, question, outcome)"
                    " VALUES (gen_random_uuid(), -1, 'x', 'x', 'x', 'ok')",
                    "UPDATE askdb.flags SET status = 'rejected'", "DELETE FROM askdb.interactions",
                    "CREATE TABLE askdb.evil (id int)"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction(readonly=False):
                    await conn.execute("SET TRANSACTION READ WRITE")
                    await conn.execute(sql)
        visible = await conn.fetchval("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'askdb'")
        assert visible == 0
    finally:
        await conn.close()


# -- recording and flagging --------------------------------------------------------------------------

async def test_a_flag_survives_closing_and_reopening_the_store(feedback_db, tmp_path):
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path, adapter="profiles/course/adapter")) as store:
        iid, fid = await flag_one(store)
        assert iid > 0 and fid > 0
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path)) as store:
        flag = await store.get_flag(fid)
    assert (flag.interaction_id, flag.status, flag.question, flag.sql) == (iid, "open", QUESTION, WRONG_SQL)
    assert (flag.comment, flag.location, flag.platform) == ("wrong course", "#course-help", "discord")
    conn = await asyncpg.connect(feedback_db)
    try:
        row = await conn.fetchrow("SELECT * FROM askdb.interactions WHERE id = $1", iid)
        who = await conn.fetchval("SELECT who FROM askdb.flags WHERE id = $1", fid)
    finally:
        await conn.close()
    assert row["user_hash"] == who == hash_user(42) and "42" not in row["user_hash"]
    assert json.loads(row["rows_preview"]) == {"columns": ["credits"], "rows": [[3]]}
    assert (row["row_count"], row["outcome"], row["adapter"], row["model"]) == (1, "ok", "profiles/course/adapter", "smollm2-135m")


async def test_an_answer_keeps_the_mend_rules_that_rewrote_its_statement(feedback_db, tmp_path):
    from pipeline.mend import mend_traced

    wrote = "SELECT code FROM courses WHERE credits >= 3"
    sql, changes = mend_traced("Which courses have more than 3 credits?", wrote)
    answer = Answer("Which courses have more than 3 credits?", sql, ("code",), (("CS 2110",),), "CS 2110",
                    model="m", mends=changes)
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path)) as store:
        iid = await store.record_interaction(platform="discord", channel="1", user_id=7, question=answer.question,
                                             answer=answer)
    conn = await asyncpg.connect(feedback_db)
    try:
        mends = await conn.fetchval("SELECT mends FROM askdb.interactions WHERE id = $1", iid)
    finally:
        await conn.close()
    assert json.loads(mends) == [{"rule": "ground_bounds", "before": wrote, "after": sql}]


async def test_failed_answers_are_recorded_with_their_error_kind(feedback_db, tmp_path):
    failed = Answer("Drop everything", "DELETE FROM students", answer="Sorry...", error="Refused: not a SELECT",
                    error_kind="UnsafeSql", model="m")
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path)) as store:
        iid = await store.record_interaction(platform="slack", channel=None, user_id="U1", question="Drop everything",
                                             answer=failed)
    conn = await asyncpg.connect(feedback_db)
    try:
        row = await conn.fetchrow("SELECT outcome, error, row_count, rows_preview FROM askdb.interactions WHERE id = $1", iid)
    finally:
        await conn.close()
    assert tuple(row) == ("UnsafeSql", "Refused: not a SELECT", None, None)


async def test_flagging_an_unknown_answer_says_so(feedback_db, tmp_path):
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path)) as store:
        with pytest.raises(FeedbackNotFound, match="no answer #987654321"):
            await store.flag(987654321, who=1, where="x")
        with pytest.raises(FeedbackNotFound, match="no flag #987654321"):
            await store.get_flag(987654321)
    assert not (tmp_path / "spool.jsonl").exists()


async def test_flags_wait_in_the_spool_until_the_tables_are_migrated(feedback_db, test_run_id, tmp_path):
    schema = f"askdb_late_{test_run_id}"
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path, schema=schema)) as store:
        iid, fid = await flag_one(store)
        assert iid < 0 and fid < 0
        with pytest.raises(ConfigError, match="askdb db migrate"):
            await store.list_flags()
    conn = await asyncpg.connect(feedback_db)
    try:
        await migrate(conn, schema=schema)
        async with FeedbackStore(url=feedback_db, settings=settings(tmp_path, schema=schema)) as store:
            flags = await store.list_flags("open")
        assert [(f.question, f.comment) for f in flags] == [(QUESTION, "wrong course")]
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


# -- outages: a real server, stopped and started -----------------------------------------------------

@pytest.fixture(scope="module")
def throwaway_server():
    """A private PostgreSQL cluster this module may stop and start at will."""
    pgserver = pytest.importorskip("pgserver")
    from pgserver._commands import pg_ctl

    import askdb.embedded  # noqa: F401 - sets a private XDG_RUNTIME_DIR for pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="askdb-outage-"), cleanup_mode="delete")

    class Handle:
        url = server.get_uri()

        @staticmethod
        def stop():
            pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)

        @staticmethod
        def start():
            server.ensure_postgres_running()

    async def setup():
        conn = await asyncpg.connect(Handle.url)
        await migrate(conn)
        await conn.close()
    asyncio.run(setup())
    yield Handle
    server.cleanup()


async def _count(url: str, sql: str, *args) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_flags_during_an_outage_are_spooled_and_replayed_exactly_once(throwaway_server, tmp_path):
    srv = throwaway_server
    spool = tmp_path / "spool.jsonl"
    async with FeedbackStore(url=srv.url, settings=settings(tmp_path)) as store:
        live_iid = await store.record_interaction(platform="discord", channel="1", user_id=7, question=QUESTION,
                                                  answer=answer_for())
        srv.stop()
        try:
            fid = await store.flag(live_iid, who=7, where="#help", comment="during outage")
            # An answer given while down can be flagged too; the flag points at its temporary id.
            down_iid = await store.record_interaction(platform="discord", channel="1", user_id=8,
                                                      question="Who teaches CS 2110?", answer=answer_for())
            down_fid = await store.flag(down_iid, who=8, where="#help")
        finally:
            srv.start()
    assert fid < 0 and down_iid < 0 and down_fid < 0
    assert len(spool.read_text().splitlines()) == 3
    before = spool.read_text()

    # A fresh store (a restarted bot) replays the spool on startup.
    async with FeedbackStore(url=srv.url, settings=settings(tmp_path)) as store:
        assert not store.spool.pending()
        flags = {f.comment: f for f in await store.list_flags("open")}
    assert flags["during outage"].interaction_id == live_iid
    assert await _count(srv.url, "SELECT count(*) FROM askdb.flags WHERE comment = 'during outage'") == 1
    assert await _count(srv.url, "SELECT count(*) FROM askdb.flags f JOIN askdb.interactions i"
                                 " ON i.id = f.interaction_id WHERE i.question = 'Who teaches CS 2110?'") == 1

    # A crash after the inserts but before the spool was emptied: replaying again must not duplicate.
    spool.write_text(before)
    async with FeedbackStore(url=srv.url, settings=settings(tmp_path)) as store:
        assert await store.replay() == 0
    assert await _count(srv.url, "SELECT count(*) FROM askdb.flags WHERE comment = 'during outage'") == 1
    assert await _count(srv.url, "SELECT count(*) FROM askdb.interactions WHERE question = 'Who teaches CS 2110?'") == 1


async def test_spooled_flags_are_replayed_by_the_next_successful_write(throwaway_server, tmp_path):
    srv = throwaway_server
    async with FeedbackStore(url=srv.url, settings=settings(tmp_path)) as store:
        iid = await store.record_interaction(platform="slack", channel="C1", user_id="U9", question=QUESTION,
                                             answer=answer_for())
        srv.stop()
        try:
            assert await store.flag(iid, who="U9", where="C1", comment="replay on write") < 0
        finally:
            srv.start()
        assert store.spool.pending()
        await store.record_interaction(platform="slack", channel="C1", user_id="U9", question="next",
                                       answer=answer_for("next"))
        assert not store.spool.pending()
    assert await _count(srv.url, "SELECT count(*) FROM askdb.flags WHERE comment = 'replay on write'") == 1


async def test_store_starts_while_the_database_is_down(throwaway_server, tmp_path):
    srv = throwaway_server
    async with FeedbackStore(url=srv.url, settings=settings(tmp_path)) as store:
        iid = await store.record_interaction(platform="terminal", channel=None, user_id="me", question=QUESTION,
                                             answer=answer_for())
    srv.stop()
    try:
        async with FeedbackStore(url=srv.url, settings=settings(tmp_path)) as store:
            assert await store.flag(iid, who="me", where="terminal", comment="started down") < 0
    finally:
        srv.start()
    async with FeedbackStore(url=srv.url, settings=settings(tmp_path)):
        pass
    assert await _count(srv.url, "SELECT count(*) FROM askdb.flags WHERE comment = 'started down'") == 1


# -- review: correct, reject, export, prune ----------------------------------------------------------

async def test_a_correction_is_guarded_run_stored_and_learned_at_once(feedback_db, verifier, tmp_path):
    examples = ExampleStore([])
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path), verifier=verifier,
                             examples=examples) as store:
        iid, fid = await flag_one(store)
        with pytest.raises(UnsafeSql):
            await store.correct(fid, sql="DELETE FROM courses", who="ana")
        with pytest.raises(UnsafeSql):  # a denied column is refused like any other guard failure
            await store.correct(fid, sql="SELECT email FROM students", who="ana")
        with pytest.raises(QueryFailed):
            await store.correct(fid, sql="SELECT 1 / 0", who="ana")
        flag = await store.get_flag(fid)
        assert (flag.status, flag.corrected_sql, flag.reviewed_by) == ("open", None, None)
        assert examples.examples == []

        await store.correct(fid, sql=RIGHT_SQL, who="ana")
        flag = await store.get_flag(fid)
        assert flag.status == "corrected" and flag.reviewed_by == "ana" and flag.reviewed_at is not None
        assert "CS 2110" in flag.corrected_sql
        assert examples.nearest(QUESTION, 1)[0].sql == flag.corrected_sql
        assert fid in [f.id for f in await store.list_flags("corrected")]
        assert fid not in [f.id for f in await store.list_flags("open")]

        out = tmp_path / "data" / "course" / "corrections.jsonl"
        n, n_variants = await store.export_corrections(out, "course")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert n == len(rows) >= 1 and n_variants == 0
    mine = next(r for r in rows if r["flag_id"] == fid)
    assert mine == {"question": QUESTION, "sql": flag.corrected_sql, "source": "correction", "flag_id": fid,
                    "interaction_id": iid, "corrected_by": "ana", "corrected_at": flag.reviewed_at.isoformat(),
                    "db": "course"}
    assert ExampleStore.read_jsonl([out])  # the format the pipeline's few-shot store reads


async def test_a_correction_with_variants_teaches_its_form_at_once_and_in_the_export(feedback_db, verifier,
                                                                                    query_db_url, tmp_path):
    from finetune.variants import VariantMaker

    question = "How many credits is CS 2110, the one on data structures?"
    examples = ExampleStore([])
    async with open_pool(query_db_url, max_size=2) as pool:
        maker = VariantMaker(pool, seed=5)
        async with FeedbackStore(url=feedback_db, settings=settings(tmp_path), verifier=verifier, examples=examples,
                                 variants=lambda q, sql: maker.variants(q, sql, 2)) as store:
            _, fid = await flag_one(store, question=question)
            await store.correct(fid, sql=RIGHT_SQL, who="ana")
            # The live examples learn the correction and two siblings for other courses.
            learnt = [e for e in examples.examples if "credits" in e.question]
            assert len(learnt) == 3 and learnt[0].question == question
            for e in learnt[1:]:
                code = e.question.removeprefix("How many credits is ").split(",")[0]
                assert code != "CS 2110" and e.sql.endswith(f"code = '{code}'")
            out = tmp_path / "corrections.jsonl"
            n, n_variants = await store.export_corrections(out, "course")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    mine = [r for r in rows if r["flag_id"] == fid]
    assert [r["source"] for r in mine] == ["correction", "correction-variant", "correction-variant"]
    assert n_variants >= 2 and n + n_variants == len(rows)


async def test_rejected_flags_are_closed_and_not_exported(feedback_db, verifier, tmp_path):
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path), verifier=verifier) as store:
        _, fid = await flag_one(store, question="Is this a rejected one?")
        await store.reject(fid, who="ben")
        assert (await store.get_flag(fid)).status == "rejected"
        await store.export_corrections(tmp_path / "c.jsonl", "course")
        with pytest.raises(FeedbackNotFound, match="Unknown status"):
            await store.list_flags("pending")
    assert fid not in [json.loads(x)["flag_id"] for x in (tmp_path / "c.jsonl").read_text().splitlines()]


async def test_prune_keeps_answers_that_still_matter(feedback_db, tmp_path):
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path, retention_days=30)) as store:
        plain = await store.record_interaction(platform="t", channel=None, user_id=1, question="old plain",
                                               answer=answer_for())
        flagged_iid, _ = await flag_one(store, question="old flagged")
        rejected_iid, rejected_fid = await flag_one(store, question="old rejected")
        await store.reject(rejected_fid, who="x")
        recent = await store.record_interaction(platform="t", channel=None, user_id=1, question="recent",
                                                answer=answer_for())
        conn = await asyncpg.connect(feedback_db)
        try:
            await conn.execute("UPDATE askdb.interactions SET created_at = now() - interval '40 days'"
                               " WHERE id = ANY($1::bigint[])", [plain, flagged_iid, rejected_iid])
            assert await store.prune() >= 2
            left = {r["id"] for r in await conn.fetch(
                "SELECT id FROM askdb.interactions WHERE id = ANY($1::bigint[])",
                [plain, flagged_iid, rejected_iid, recent])}
        finally:
            await conn.close()
    assert left == {flagged_iid, recent}


async def test_review_refuses_a_correction_that_fails_the_guard(feedback_db, verifier, tmp_path):
    stdin = io.StringIO("DELETE FROM courses;\nSELECT email FROM students;\ns\n")
    stdout = io.StringIO()
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path), verifier=verifier) as store:
        _, fid = await flag_one(store)
        tally = await review_flags(store, verifier, [await store.get_flag(fid)], reviewer="ana",
                                   stdin=stdin, stdout=stdout)
        flag = await store.get_flag(fid)
    text = stdout.getvalue()
    assert text.count("Refused by the guard") == 2
    assert tally == {"corrected": 0, "rejected": 0, "skipped": 1}
    assert (flag.status, flag.corrected_sql) == ("open", None)


async def test_review_corrects_with_sql_typed_over_several_lines(feedback_db, verifier, tmp_path):
    # A stray line at the accept prompt is asked about again, never taken as a decision.
    stdin = io.StringIO("SELECT credits\nFROM courses\nWHERE code = 'CS 2110';\nSELECT 2\na\n")
    stdout = io.StringIO()
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path), verifier=verifier) as store:
        _, fid = await flag_one(store)
        tally = await review_flags(store, verifier, [await store.get_flag(fid)], reviewer="ana",
                                   stdin=stdin, stdout=stdout, suggest=_fixed_suggestions)
        flag = await store.get_flag(fid)
    assert tally["corrected"] == 1 and flag.status == "corrected" and "CS 2110" in flag.corrected_sql
    assert "(1 row)" in stdout.getvalue() and stdout.getvalue().count("[a]ccept") == 2


async def test_review_can_take_a_model_candidate(feedback_db, verifier, tmp_path):
    stdin = io.StringIO("?\n2\na\n")
    stdout = io.StringIO()
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path), verifier=verifier) as store:
        _, fid = await flag_one(store)
        await review_flags(store, verifier, [await store.get_flag(fid)], reviewer="ana", stdin=stdin, stdout=stdout,
                           suggest=_fixed_suggestions)
        flag = await store.get_flag(fid)
    assert "[1] DELETE FROM courses" in stdout.getvalue() and "Refused by the guard" in stdout.getvalue()
    assert flag.status == "corrected" and "CS 2110" in flag.corrected_sql


async def _fixed_suggestions(flag):
    # Stands in for the model: what is under test is how review shows, guards and uses candidates.
    return ["DELETE FROM courses", RIGHT_SQL]


async def test_variants_that_fail_do_not_fail_the_correction(feedback_db, verifier, tmp_path):
    async def broken(question, sql):
        raise OSError("connection reset")

    examples = ExampleStore([])
    async with FeedbackStore(url=feedback_db, settings=settings(tmp_path), verifier=verifier, examples=examples,
                             variants=broken) as store:
        _, fid = await flag_one(store, question="How many credits has CS 2110 got, again?")
        await store.correct(fid, sql=RIGHT_SQL, who="ana")
        assert (await store.get_flag(fid)).status == "corrected"
        assert [e.question for e in examples.examples] == ["How many credits has CS 2110 got, again?"]
        n, n_variants = await store.export_corrections(tmp_path / "c.jsonl", "course")
        assert n >= 1 and n_variants == 0
