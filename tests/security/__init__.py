"""The security suite: attacks as data, and a checksum of everything an attack could change."""
from __future__ import annotations

from pathlib import Path

import asyncpg
import yaml

DENIED_COLUMNS = frozenset({"students.email", "enrollments.grade"})
COURSE_TABLES = (
    "departments", "instructors", "courses", "course_topics", "prerequisites",
    "terms", "sections", "students", "enrollments", "assessments",
)
# What the query role must refuse on its own for each category; "harmless" may run but must change nothing.
ROLE_EXPECTATION = {
    "write": "fails", "ddl": "fails", "nested_cte_write": "fails", "denied_column": "fails",
    "foreign_schema": "fails", "file_access": "fails", "sleep": "fails", "select_into_lock": "fails",
}


def load_attacks(path: Path = Path(__file__).with_name("attacks.yaml")) -> list[dict]:
    """The attack cases: each {id, sql, category} plus `db` (fails | harmless | guard_only)."""
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    for case in cases:
        case.setdefault("db", ROLE_EXPECTATION.get(case["category"], "harmless"))
    return cases


async def data_checksum(superuser_url: str, run_id: str) -> str:
    """md5 over every course table, askdb's table, the relation list, large objects and role settings."""
    conn = await asyncpg.connect(superuser_url)
    try:
        parts = []
        for table in (*COURSE_TABLES, "askdb.feedback"):
            row = await conn.fetchrow(
                f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM {table} t")
            parts.append(f"{table}:{row['n']}:{row['h']}")
        parts.append(str(await conn.fetch(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2")))
        parts.append(str(await conn.fetchval("SELECT count(*) FROM pg_largeobject_metadata")))
        parts.append(str(await conn.fetch(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname LIKE '%\\_' || $1 ORDER BY 1", run_id)))
        return "\n".join(parts)
    finally:
        await conn.close()
