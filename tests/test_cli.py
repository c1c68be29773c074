"""The askdb command as a user runs it: refusals exit 2 with the reason, data untouched."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import asyncpg
import pytest


@pytest.fixture(scope="module")
def cli(course_db_url, test_run_id, tmp_path_factory):
    """Run `askdb ...` against the test database as the test's query role."""
    cfg = tmp_path_factory.mktemp("cli") / "config.yaml"
    cfg.write_text(f"database:\n  query_role: askdb_q_{test_run_id}\n  statement_timeout_ms: 2000\n"
                   "guard:\n  denied_columns: [students.email, enrollments.grade]\n")
    env = {**os.environ, "ASKDB_QUERY_PASSWORD": "test-only", "HF_HUB_OFFLINE": "1"}

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "askdb.cli", *args, "--config", str(cfg), "--database", course_db_url],
                              capture_output=True, text=True, env=env, timeout=timeout)
    return run


def checksum(url: str) -> str:
    async def go():
        conn = await asyncpg.connect(url)
        try:
            parts = []
            for t in ("courses", "students", "enrollments", "course_topics", "sections"):
                parts.append(await conn.fetchval(f"SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM {t} x"))
            return ":".join(parts)
        finally:
            await conn.close()
    return asyncio.run(go())


@pytest.mark.parametrize("sql, reason", [
    ("DROP TABLE courses", "DROP"),
    ("DELETE FROM students", "DELETE"),
    ("SELECT pg_sleep(30)", "pg_sleep"),
    ("SELECT 1; DELETE FROM students", "one statement"),
    ("SELECT title FROM courses; DROP TABLE courses", "one statement"),
    ("SELECT first_name, email FROM students", "email"),
    ("UPDATE courses SET credits = 0", "UPDATE"),
])
def test_sql_refusals_exit_2_with_reason_and_data_untouched(cli, course_db_url, sql, reason):
    before = checksum(course_db_url)
    out = cli("sql", sql)
    assert out.returncode == 2, out.stderr
    assert "Refused" in out.stderr and reason.lower() in out.stderr.lower()
    assert "Traceback" not in out.stderr
    assert checksum(course_db_url) == before


def test_sql_runs_read_only_and_caps_rows(cli):
    out = cli("sql", "SELECT code, title FROM courses WHERE code = 'CE 4229'", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["rows"] == [["CE 4229", "Introduction to Cloud Computing"]]
    out = cli("sql", "SELECT g FROM generate_series(1, 1000000) g")
    assert out.returncode == 0 and "cut at the row cap" in out.stdout


def test_slow_query_is_cut_off_with_a_clear_message(cli):
    out = cli("sql", "SELECT count(*) FROM generate_series(1, 300000000) g")
    assert out.returncode == 1 and "took longer than 2 s" in out.stderr and "Traceback" not in out.stderr


def test_unreachable_database_is_a_clear_message(tmp_path):
    out = subprocess.run([sys.executable, "-m", "askdb.cli", "sql", "SELECT 1", "--database",
                          "postgresql://postgres@127.0.0.1:1/nowhere"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "not reachable" in out.stderr and "Traceback" not in out.stderr


def test_malformed_config_is_one_line_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("database:\n  statement_timeout: 5\n")
    out = subprocess.run([sys.executable, "-m", "askdb.cli", "sql", "SELECT 1", "--config", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "database.statement_timeout" in out.stderr and "Traceback" not in out.stderr


def test_db_info_shows_schema_without_denied_columns(cli):
    out = cli("db", "info")
    assert out.returncode == 0, out.stderr
    assert "TABLE course_topics" in out.stdout and "email" not in out.stdout.split("TABLE students")[1].split("TABLE")[0]


def test_db_info_on_an_empty_schema_says_what_to_do(course_db_url, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("database:\n  schema: nothing_here\n")
    out = subprocess.run([sys.executable, "-m", "askdb.cli", "db", "info", "--config", str(cfg), "--database",
                          course_db_url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "askdb db init" in out.stderr and "Traceback" not in out.stderr
