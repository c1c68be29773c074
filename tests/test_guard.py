"""The SQL guard, rule by rule (the adversarial suite is in tests/security/)."""
from __future__ import annotations

import pytest

from pipeline.errors import UnsafeSql
from pipeline.guard import DEFAULT_DENIED_FUNCTIONS, CheckedSql, GuardPolicy, check_sql
from pipeline.schema import Column, Schema, Table

TABLES = {
    "courses": ("id", "code", "title", "credits", "department_id"),
    "sections": ("id", "course_id", "term_id", "instructor_id"),
    "students": ("id", "first_name", "last_name", "email"),
    "enrollments": ("student_id", "section_id", "status", "grade"),
    "instructors": ("id", "first_name", "last_name", "email"),
    "terms": ("id", "name"),
}
POLICY = GuardPolicy(table_columns=TABLES, denied_columns=frozenset({"students.email", "enrollments.grade"}))


def refused(sql: str, policy: GuardPolicy = POLICY) -> str:
    with pytest.raises(UnsafeSql) as e:
        check_sql(sql, policy)
    return e.value.reason


@pytest.mark.parametrize("sql", [
    "SELECT title FROM courses",
    "select TITLE from COURSES where CREDITS >= 3 order by title limit 10",
    "SELECT c.title, count(*) AS n FROM courses c JOIN sections s ON s.course_id = c.id GROUP BY c.title HAVING count(*) > 1",
    "SELECT c.title FROM courses c LEFT JOIN sections s ON s.course_id = c.id WHERE s.id IS NULL",
    "WITH per_course AS (SELECT course_id, count(*) AS n FROM sections GROUP BY course_id) "
    "SELECT c.title, p.n FROM per_course p JOIN courses c ON c.id = p.course_id",
    "SELECT title, rank() OVER (PARTITION BY department_id ORDER BY credits DESC) FROM courses",
    "SELECT title FROM courses UNION SELECT name FROM terms",
    "SELECT id FROM courses INTERSECT SELECT course_id FROM sections EXCEPT SELECT 1",
    "SELECT title FROM courses WHERE id IN (SELECT course_id FROM sections WHERE term_id = 3)",
    "SELECT t.n FROM (SELECT count(*) AS n FROM enrollments) t",
    "SELECT first_name FROM students s WHERE EXISTS (SELECT 1 FROM enrollments e WHERE e.student_id = s.id)",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r",
    "SELECT g FROM generate_series(1, 10) AS g",
    "SELECT count(*) FROM students",
    "SELECT e.status, count(*) FROM enrollments e GROUP BY e.status",
    "SELECT i.email FROM instructors i JOIN sections x ON x.instructor_id = i.id",
    "SELECT * FROM courses c JOIN sections s ON s.course_id = c.id",
    "SELECT version()",
    "SELECT title FROM courses WHERE title = 'Café Économie';",
    "SELECT title FROM courses; -- the end",
    "SELECT $$it's$$ AS quote",
])
def test_allows_plain_reads(sql):
    assert isinstance(check_sql(sql, POLICY), CheckedSql)


def test_output_is_normalised_and_stable():
    checked = check_sql("select  title /* why */ from courses -- note\n ;", POLICY)
    assert checked.sql == "SELECT title FROM courses"
    assert check_sql(checked.sql, POLICY).sql == checked.sql


def test_hidden_text_in_comments_never_reaches_the_database():
    checked = check_sql("SELECT 1 /* /* nested */ ; DELETE FROM courses; */", POLICY)
    assert checked.sql == "SELECT 1"


def test_tables_are_the_base_tables_read_sorted():
    checked = check_sql(
        "WITH x AS (SELECT course_id FROM sections) SELECT t.name FROM terms t, courses c JOIN x ON x.course_id = c.id",
        POLICY)
    assert checked.tables == ("courses", "sections", "terms")
    assert check_sql("SELECT 1", POLICY).tables == ()


@pytest.mark.parametrize("sql, expected", [
    ("SELECT title FROM courses ORDER BY title", True),
    ("SELECT title FROM courses", False),
    ("SELECT t FROM (SELECT title AS t FROM courses ORDER BY title LIMIT 3) x", False),
    ("SELECT title FROM courses UNION SELECT name FROM terms ORDER BY 1", True),
    ("SELECT rank() OVER (ORDER BY credits) FROM courses", False),
])
def test_has_order_by_is_top_level_only(sql, expected):
    assert check_sql(sql, POLICY).has_order_by is expected


@pytest.mark.parametrize("sql, words", [
    ("SELECT 1; SELECT 2", "one statement"),
    ("DELETE FROM courses", "only select"),
    ("SHOW statement_timeout", "SHOW"),
    ("WITH d AS (DELETE FROM terms RETURNING id) SELECT id FROM d", "DELETE"),
    ("SELECT title INTO loot FROM courses", "SELECT INTO"),
    ("SELECT id FROM courses FOR UPDATE", "locking"),
    ("SELEC title FROM courses", "could not parse"),
    ("", "empty"),
])
def test_refuses_anything_but_one_select(sql, words):
    assert words.lower() in refused(sql).lower()


@pytest.mark.parametrize("sql", [
    "SELECT pg_sleep(1)", "SELECT PG_SLEEP_FOR('1s')", "SELECT pg_catalog.pg_sleep(1)", 'SELECT "pg_sleep"(1)',
    "SELECT lo_import('/etc/passwd')", "SELECT dblink_exec('x', 'y')", "SELECT pg_try_advisory_lock(1)",
    "SELECT current_setting('search_path')", "SELECT nextval('s')", "SELECT title FROM courses WHERE pg_sleep(1) IS NULL",
])
def test_refuses_denied_functions_anywhere(sql):
    assert "function" in refused(sql)


def test_denied_functions_come_from_the_policy():
    policy = GuardPolicy(denied_functions=frozenset({"upper"}))
    assert "upper" in refused("SELECT upper('x')", policy)
    assert check_sql("SELECT pg_sleep(1)", policy)
    assert {"pg_sleep", "lo_", "dblink", "pg_advisory", "set_config"} <= DEFAULT_DENIED_FUNCTIONS


@pytest.mark.parametrize("sql", [
    "SELECT * FROM pg_shadow", "SELECT rolname FROM pg_catalog.pg_roles", "SELECT * FROM information_schema.tables",
    'SELECT * FROM "PG_CATALOG".pg_class',
])
def test_refuses_system_catalogs_unless_allowed(sql):
    assert "system catalog" in refused(sql, GuardPolicy())
    assert check_sql(sql, GuardPolicy(allow_system_catalogs=True))


def test_tables_must_be_allowed():
    assert "not available" in refused("SELECT * FROM payroll")
    assert "schema askdb" in refused("SELECT * FROM askdb.feedback")
    assert "database-qualified" in refused("SELECT * FROM other.public.courses")
    assert check_sql("SELECT * FROM public.courses", POLICY)
    only_courses = GuardPolicy(allowed_tables=frozenset({"courses"}))
    assert "terms" in refused("SELECT * FROM terms", only_courses)
    assert "courses" in refused("SELECT * FROM courses", GuardPolicy(denied_tables=frozenset({"courses"})))
    assert check_sql("SELECT * FROM anything_at_all", GuardPolicy())  # no table list: any table of the schema


def test_cte_names_only_shadow_tables_where_visible():
    assert check_sql("WITH loot AS (SELECT 1 AS x) SELECT x FROM loot", POLICY)
    assert "loot" in refused("SELECT * FROM (WITH loot AS (SELECT 1) SELECT * FROM loot) a, loot")
    assert "loot" in refused("WITH a AS (SELECT * FROM loot), loot AS (SELECT 1) SELECT * FROM a")


@pytest.mark.parametrize("sql", [
    "SELECT email FROM students",
    "SELECT s.email FROM students s",
    "SELECT id FROM students WHERE email LIKE '%x%'",
    "SELECT e.grade FROM courses c JOIN sections x ON x.course_id = c.id JOIN enrollments e ON e.section_id = x.id",
    "SELECT g FROM (SELECT grade AS g FROM enrollments) t",
    "WITH t AS (SELECT grade FROM enrollments) SELECT * FROM t",
    "SELECT * FROM students",
    "SELECT s.* FROM students s",
    "SELECT * FROM (SELECT * FROM enrollments) t",
    "SELECT * FROM (students s JOIN terms t ON true)",
    "SELECT row_to_json(s) FROM students s",
    "SELECT to_json(students) FROM students",
    "SELECT json_agg(e) FROM enrollments e",
    "SELECT s::text FROM students s",
    "SELECT ROW(s.*) FROM students s",
    "SELECT (s).email FROM students s",
    "SELECT s.x FROM students AS s(a, b, c, x)",
    "SELECT s.id FROM students s JOIN instructors i USING (email)",
    "SELECT s.id FROM students s NATURAL JOIN instructors i",
])
def test_refuses_restricted_columns_however_reached(sql):
    assert "restricted" in refused(sql)


def test_restricted_columns_of_other_tables_stay_readable():
    assert check_sql("SELECT i.email FROM instructors i", POLICY)
    assert check_sql("SELECT s.id, s.first_name FROM students s JOIN enrollments e ON e.student_id = s.id", POLICY)
    assert check_sql("SELECT x.* FROM (SELECT id, first_name FROM students) x", POLICY)


@pytest.mark.parametrize("sql", ["ＳＥＬＥＣＴ 1", "SELECT\u200b1", 'SELECT U&"pg_sl\\0065ep"(1)', "SEL\u0415CT 1"])
def test_refuses_look_alikes_and_escapes(sql):
    assert refused(sql)


def test_refuses_long_statements_and_never_crashes():
    assert "longer than" in refused("SELECT 1" + " " * 30, GuardPolicy(max_sql_chars=20))
    assert refused("SELECT " + "(" * 3000 + "1" + ")" * 3000)
    assert refused("SELECT * FROM courses WHERE title = 'unterminated")


def test_refusal_keeps_the_model_sql():
    with pytest.raises(UnsafeSql) as e:
        check_sql("DROP TABLE courses", POLICY)
    assert e.value.sql == "DROP TABLE courses"
    assert str(e.value).startswith("Refused: ")


def test_policy_from_schema_lists_every_table_and_takes_overrides():
    schema = Schema((Table("courses", (Column("id", "integer"), Column("title", "text"))),
                     Table("terms", (Column("id", "integer"),))), name="uni")
    policy = GuardPolicy.from_schema(schema, denied_columns=frozenset({"courses.title"}))
    assert policy.schemas == ("uni",)
    assert dict(policy.table_columns) == {"courses": ("id", "title"), "terms": ("id",)}
    assert check_sql("SELECT id FROM uni.terms", policy)
    assert "not available" in refused("SELECT * FROM students", policy)
    assert "restricted" in refused("SELECT title FROM courses", policy)


def test_order_by_output_alias_named_like_a_restricted_table_is_not_a_whole_row():
    from pipeline.guard import GuardPolicy, check_sql
    from pipeline.errors import UnsafeSql
    import pytest as _pytest

    policy = GuardPolicy(table_columns={"students": ("id", "email", "major_department_id"), "departments": ("id", "name")},
                         denied_columns=frozenset({"students.email"}))
    ok = ("SELECT d.name, count(*) AS students FROM students s JOIN departments d ON d.id = s.major_department_id "
          "GROUP BY d.name ORDER BY students DESC")
    check_sql(ok, policy)
    with _pytest.raises(UnsafeSql):  # an expression is not an output name: it is the whole row
        check_sql("SELECT count(*) AS students FROM students GROUP BY students.id ORDER BY students::text", policy)
