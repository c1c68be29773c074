"""Faults for real: Postgres restarted under load, model backends down or hanging, malformed config."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import asyncpg
import pytest
from aiohttp import web

import askdb.embedded  # noqa: F401 - gives pgserver a private runtime dir
from askdb.coursedb.seed import load_course_database
from pipeline.database import open_pool
from pipeline.executor import ExecLimits
from pipeline.guard import GuardPolicy
from pipeline.models.base import Completion
from pipeline.models.ollama_backend import OllamaModel
from pipeline.models.openai_backend import OpenAIModel
from pipeline.pipeline import Pipeline, PipelineSettings
from pipeline.roles import QueryRole, grant_query_role
from pipeline.schema import introspect_schema

from .fakes_models import ScriptedModel

SLOW_SQL = "SELECT count(*) FROM generate_series(1, 2000000000) g"  # minutes of CPU, no pg_sleep
QUICK = {
    "How many courses are there?": "SELECT count(*) FROM courses",
    "What is CS 2110 called?": "SELECT title FROM courses WHERE code = 'CS 2110'",
    "How many credits is CS 2110?": "SELECT credits FROM courses WHERE code = 'CS 2110'",
}
SLOW_QUESTION = "Count to two billion please"
DENIED = frozenset({"students.email", "enrollments.grade"})


class RoutedModel:
    """A SQL model that answers each question with its scripted SQL, whatever the order of concurrent calls."""

    name = "routed"

    def __init__(self, routes: dict[str, str]):
        self.routes = routes

    async def complete(self, messages, *, max_tokens=160, stop=()) -> Completion:
        question = messages[-1].content.rsplit("Question:", 1)[-1].strip().splitlines()[0]
        sql = self.routes[question]
        return Completion(sql, len(sql.split()), 1.0)

    async def complete_many(self, batch, *, max_tokens=160, stop=()):
        return [await self.complete(m, max_tokens=max_tokens, stop=stop) for m in batch]

    async def aclose(self) -> None:
        pass


class Throwaway:
    """A PostgreSQL server of our own (pgserver runs it as a non-root user) that we can stop and start."""

    def __init__(self):
        import pgserver

        self._pg = pgserver
        self.home = tempfile.mkdtemp(prefix="askdb-faults-")
        self.server = pgserver.get_server(os.path.join(self.home, "pgdata"), cleanup_mode="delete")
        self.socket_dir = self.server.get_postmaster_info().socket_dir
        self.url = self.server.get_uri()

    def ctl(self, *args: str) -> None:
        self._pg.pg_ctl(["-w", *args], pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def restart(self) -> None:
        # fast: what systemd and Docker do; in-flight sessions are terminated, not waited for.
        self.ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop")

    def start(self) -> None:
        self.ctl("-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start")

    def url_for(self, user: str, password: str, database: str = "postgres") -> str:
        return f"postgresql://{user}:{password}@/{database}?host={self.socket_dir}"


@pytest.fixture(scope="module")
def pg():
    """A throwaway server holding the course data and a read-only query role; deleted afterwards."""
    server = Throwaway()

    async def setup():
        conn = await asyncpg.connect(server.url)
        await load_course_database(conn)
        await grant_query_role(conn, QueryRole(name="askdb_faults", password="faults", denied_columns=tuple(DENIED)))
        await conn.close()

    asyncio.run(setup())
    server.query_url = server.url_for("askdb_faults", "faults")
    yield server
    # pgserver only stops the postmaster it started itself, and ours was restarted.
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped by a failed test
        server.stop()
    server.server.cleanup()
    shutil.rmtree(server.home, ignore_errors=True)


async def _pipeline(pool, sql_model, answer_model=None, **settings) -> Pipeline:
    schema = await introspect_schema(pool)
    return Pipeline(sql_model=sql_model, answer_model=answer_model, pool=pool, schema=schema,
                    policy=GuardPolicy.from_schema(schema, denied_columns=DENIED),
                    settings=PipelineSettings(**{"answer_with_model": answer_model is not None, **settings}),
                    clock=lambda: dt.date(2026, 11, 24))


async def _wait_for_running(url: str, tasks: list[asyncio.Task]) -> None:
    """Until every task's slow query is executing on the server (or a task ended early)."""
    conn = await asyncpg.connect(url)
    try:
        while await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                  "AND query LIKE '%2000000000%' AND pid <> pg_backend_pid()") < len(tasks):
            if any(t.done() for t in tasks):
                pytest.fail(f"a slow question ended before the restart: {[t.result() for t in tasks if t.done()]}")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def test_restart_mid_run_fails_in_flight_questions_clearly_and_the_pool_recovers(pg):
    routes = {**QUICK, SLOW_QUESTION: SLOW_SQL}
    async with open_pool(pg.query_url, min_size=4, max_size=4) as pool:
        p = await _pipeline(pool, RoutedModel(routes), limits=ExecLimits(statement_timeout_ms=120_000))
        before = await p.answer("How many courses are there?")
        assert before.ok, before.error
        in_flight = [asyncio.create_task(p.answer(SLOW_QUESTION)) for _ in range(3)]
        await _wait_for_running(pg.url, in_flight)
        await asyncio.to_thread(pg.restart)
        answers = await asyncio.wait_for(asyncio.gather(*in_flight), 60)  # a hang guard, not a timing claim
        for ans in answers:
            assert ans.error_kind == "DatabaseUnavailable", ans
            assert ans.answer.startswith("Sorry, the database is not reachable") and not ans.rows
        # Every pooled connection died with the server: the very next question must still succeed, and so
        # must more questions than the pool holds (each dead connection is replaced).
        first = await p.answer("What is CS 2110 called?")
        after = await asyncio.gather(*(p.answer(q) for q in list(QUICK) * 3))
    assert first.ok and first.rows == (("Data Structures",),), first.error
    assert all(a.ok for a in after), [a.error for a in after if not a.ok]
    assert after[0].rows == before.rows


async def test_server_down_is_a_clear_message_and_questions_work_once_it_is_back(pg):
    async with open_pool(pg.query_url, min_size=2, max_size=2) as pool:
        p = await _pipeline(pool, RoutedModel(QUICK))
        assert (await p.answer("What is CS 2110 called?")).ok
        await asyncio.to_thread(pg.stop)
        try:
            down = await asyncio.wait_for(p.answer("What is CS 2110 called?"), 60)
        finally:
            await asyncio.to_thread(pg.start)
        assert down.error_kind == "DatabaseUnavailable" and down.answer.startswith("Sorry, the database is not reachable")
        back = await p.answer("What is CS 2110 called?")
    assert back.ok and back.rows == (("Data Structures",),), back.error


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def hanging_server():
    """A loopback HTTP server that accepts requests and never answers them."""
    never = asyncio.Event()

    async def hang(request):
        await never.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    never.set()
    await runner.cleanup()


@pytest.mark.parametrize("backend", ["openai", "ollama"])
async def test_sql_model_down_names_host_and_model(query_db_url, backend):
    port = _closed_port()
    model = (OpenAIModel(base_url=f"http://127.0.0.1:{port}/v1", model="sqlcoder-down", timeout_s=5) if backend == "openai"
             else OllamaModel(host=f"http://127.0.0.1:{port}", model="sqlcoder-down", timeout_s=5))
    async with open_pool(query_db_url) as pool:
        p = await _pipeline(pool, model)
        ans = await asyncio.wait_for(p.answer("What is CS 2110 called?"), 60)
    await model.aclose()
    assert ans.error_kind == "ModelUnavailable" and not ans.rows
    assert f"127.0.0.1:{port}" in ans.answer and "sqlcoder-down" in ans.answer and "Traceback" not in ans.answer


async def test_sql_model_hanging_times_out_with_the_configured_timeout(query_db_url, hanging_server):
    model = OpenAIModel(base_url=hanging_server + "/v1", model="sqlcoder-slow", timeout_s=0.5)
    async with open_pool(query_db_url) as pool:
        p = await _pipeline(pool, model)
        ans = await asyncio.wait_for(p.answer("What is CS 2110 called?"), 60)  # a hang guard
    await model.aclose()
    assert ans.error_kind == "ModelTimeout"
    assert "sqlcoder-slow" in ans.answer and "no answer within 0.5 s" in ans.answer


async def test_answer_model_down_falls_back_to_the_rows(query_db_url):
    answer_model = OpenAIModel(base_url=f"http://127.0.0.1:{_closed_port()}/v1", model="phraser", timeout_s=5)
    sql = "SELECT code FROM courses WHERE department_id = (SELECT id FROM departments WHERE code = 'CS') ORDER BY code"
    async with open_pool(query_db_url) as pool:
        p = await _pipeline(pool, ScriptedModel(sql), answer_model=answer_model)
        ans = await p.answer("Which courses does the CS department offer?")
    await answer_model.aclose()
    assert ans.ok and ans.answer_source == "fallback", ans.error
    assert "CS 2110" in ans.answer and ("CS 2110",) in ans.rows


async def test_answer_model_hanging_falls_back_within_answer_timeout(query_db_url, hanging_server):
    answer_model = OllamaModel(host=hanging_server, model="phraser", timeout_s=60)  # its own timeout is long
    async with open_pool(query_db_url) as pool:
        p = await _pipeline(pool, ScriptedModel("SELECT title FROM courses WHERE code = 'CS 2110'"),
                            answer_model=answer_model, answer_timeout_s=0.3)
        ans = await asyncio.wait_for(p.answer("What is CS 2110 called?"), 30)  # a hang guard
    await answer_model.aclose()
    assert ans.ok and ans.answer_source == "fallback"
    assert ans.answer == "The answer is Data Structures."


ASK = ("ask", "How many courses are there?")


@pytest.mark.parametrize("command, text, key", [
    (ASK, "model:\n  backend: gpt4\n", "model.backend"),
    (ASK, "answer:\n  timeout_s: soon\n", "answer.timeout_s"),
    (ASK, "model:\n  openai:\n    base_uri: http://x\n", "model.openai.base_uri"),
    (("serve", "slack"), "slack:\n  mode: carrier-pigeon\n", "slack.mode"),
    (("serve", "slack"), "limits:\n  max_concurrent: 0\n", "limits.max_concurrent"),
    (("serve", "discord"), "discord:\n  channels: general\n", "discord.channels"),
])
def test_malformed_config_stops_the_cli_with_one_line_naming_the_key(tmp_path, text, key, command):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    out = subprocess.run([sys.executable, "-m", "askdb.cli", *command, "--config", str(bad)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 1, out.stderr
    assert key in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
