"""Schema linking: what a question names, what a statement uses, and retrieval re-ranked by the match."""
from __future__ import annotations

import pytest

from pipeline.database import open_pool
from pipeline.linking import build_linker, contradictions, link_score, load_linker, sql_links
from pipeline.prompt import Example
from pipeline.retrieval import ExampleStore
from pipeline.schema import Column, ForeignKey, Schema, Table, introspect_schema

SCHEMA = Schema((
    Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text"),
                      Column("credits", "integer"), Column("level", "text"))),
    Table("instructors", (Column("id", "integer"), Column("first_name", "text"), Column("last_name", "text"),
                          Column("title", "text"))),
    Table("terms", (Column("id", "integer"), Column("name", "text"), Column("starts_on", "date"))),
    Table("sections", (Column("id", "integer"), Column("course_id", "integer"), Column("term_id", "integer"),
                       Column("section_number", "text"), Column("instructor_id", "integer")),
          foreign_keys=(ForeignKey(("course_id",), "courses", ("id",)), ForeignKey(("term_id",), "terms", ("id",)))),
))
VALUES = {
    ("courses", "code"): ["CS 2110", "CE 4229"], ("courses", "title"): ["Data Structures", "Linear Algebra"],
    ("courses", "level"): ["graduate", "undergraduate"], ("instructors", "title"): ["Lecturer", "Professor"],
    ("instructors", "last_name"): ["Okafor", "Chen"], ("departments", "code"): ["CS", "CE"], ("terms", "name"): ["Fall 2025", "Spring 2026", "Fall 2026"],
}


@pytest.fixture(scope="module")
def linker():
    return build_linker(SCHEMA, VALUES)


def test_a_question_names_values_columns_and_tables(linker):
    links = linker.question_links("how many credits is cs 2110?")
    assert {"val:courses.code", "col:courses.credits"} <= links
    # Longest match first: the 'cs' of a course code is not the CS department, but 'CS courses' names it.
    assert "val:departments.code" not in links
    assert "val:departments.code" in linker.question_links("what are the week 1 topics for CS courses")
    # A plural finds the stored singular; a multi-word value is found whole.
    assert "val:instructors.title" in linker.question_links("Which instructors are lecturers?")
    assert "tab:instructors" in linker.question_links("Which instructors are lecturers?")
    assert "val:courses.title" in linker.question_links("what is covered in week 1 of data structures")
    assert "val:courses.title" not in linker.question_links("what is covered in week 1 of data")


def test_relative_periods_name_the_period_value(linker):
    assert "val:terms.name" in linker.question_links("Which courses did Professor Chen teach last fall?")
    assert "val:terms.name" in linker.question_links("Who teaches CE 4229 this semester?")  # semester = term
    assert "val:terms.name" not in linker.question_links("Who teaches CE 4229?")


def test_what_a_question_asks_for_is_linked_to_the_statements_aggregates(linker):
    asks = linker.question_links("How many sections does Data Structures have?")
    assert "agg:count" in asks
    assert "agg:count" in linker.question_links("# of sections of Data Structures?")
    # 'how many credits' asks for a stored number, not a count.
    assert "agg:count" not in linker.question_links("how many credits is CS 2110?")
    assert {"agg:rank", "agg:group"} <= linker.question_links("Which course has the most sections in each term?")
    assert "agg:count" in sql_links("SELECT count(*) FROM courses")
    assert "agg:rank" in sql_links("SELECT code FROM courses ORDER BY credits DESC LIMIT 1")
    listing = sql_links("SELECT s.id FROM sections s JOIN courses c ON c.id = s.course_id WHERE c.title = 'Algebra'")
    counting = sql_links("SELECT count(*) FROM sections s JOIN courses c ON c.id = s.course_id WHERE c.title = 'Algebra'")
    assert link_score(asks, counting) > link_score(asks, listing)
    names = linker.question_links("sections of Data Structures")
    assert link_score(names, listing) > link_score(names, counting)


def test_contradictions_are_values_the_question_does_not_name_or_names_and_the_statement_skips(linker):
    asked = linker.question_links("Who teaches CE 4229 this semester?")
    invented = sql_links("SELECT i.last_name FROM sections s JOIN courses c ON c.id = s.course_id JOIN instructors i "
                         "ON i.id = s.instructor_id WHERE c.code = 'CE 4229' AND i.last_name = 'Chen'")
    assert contradictions(asked, invented) == {"val:instructors.last_name", "val:terms.name"}
    right = sql_links("SELECT i.last_name FROM sections s JOIN courses c ON c.id = s.course_id JOIN terms t ON "
                      "t.id = s.term_id JOIN instructors i ON i.id = s.instructor_id "
                      "WHERE c.code = 'CE 4229' AND t.name = 'Fall 2026'")
    assert not contradictions(asked, right)
    # An aggregate is no contradiction ('the most topics' counts): only values, bounds and value lists are.
    assert not contradictions(linker.question_links("how many credits is CS 2110?"),
                              sql_links("SELECT count(*) FROM courses WHERE code = 'CS 2110'"))
    assert contradictions(linker.question_links("Which courses are worth 4 credits?"),
                          sql_links("SELECT code FROM courses WHERE credits <= 4")) == {"cmp:lt"}


def test_statement_links_resolve_aliases_and_value_filters():
    links = sql_links("SELECT i.first_name FROM sections AS s JOIN instructors AS i ON i.id = s.instructor_id "
                      "JOIN courses c ON c.id = s.course_id WHERE c.code = 'CE 4229' AND c.credits > 3")
    assert {"tab:sections", "tab:instructors", "tab:courses", "col:instructors.first_name",
            "val:courses.code", "col:courses.credits"} <= links
    assert "val:courses.credits" not in links  # a number is not a named value
    assert not any(item.endswith("_id") for item in links)  # keys say nothing about the question
    # A pattern is a word searched for, not a stored value.
    searched = sql_links("SELECT code FROM courses WHERE title ILIKE '%data%'")
    assert "word:data" in searched and "val:courses.title" not in searched
    assert "many:courses.code" in sql_links("SELECT credits FROM courses WHERE code IN ('CS 2110', 'CE 4229')")
    assert "many:courses.code" not in links
    assert "cmp:gt" in links  # credits > 3
    assert "cmp:lt" in sql_links("SELECT code FROM courses WHERE 4 > credits")
    assert "cmp:gt" in sql_links("SELECT course_id FROM sections GROUP BY course_id HAVING count(*) > 2")
    ranged = sql_links("SELECT name FROM terms WHERE starts_on >= '2026-01-01' AND starts_on < '2027-01-01'")
    assert "cmp:range" in ranged and not {"cmp:lt", "cmp:gt"} & ranged
    assert sql_links("SELEC nonsense FROM") == frozenset()


def test_questions_ask_for_bounds_several_values_and_searched_words(linker):
    assert "cmp:lt" in linker.question_links("Which terms end before 2026-06-01?")
    assert "cmp:lt" in linker.question_links("sections with fewer students than 20")
    assert "cmp:gt" in linker.question_links("Courses with more credits than the average")
    assert "cmp:range" in linker.question_links("Which terms started in 2026?")
    assert not any(i.startswith("cmp:") for i in linker.question_links("Which courses are worth 4 credits?"))
    assert "many:courses.code" in linker.question_links("credits of CS 2110 and CE 4229")
    assert "many:courses.code" not in linker.question_links("credits of CS 2110")
    # A word naming nothing stored may be searched for; a column word or a value is not a search.
    asked = linker.question_links("Which courses have a topic about security?")
    assert "word:security" in asked and "word:course" not in asked
    assert "word:credit" not in linker.question_links("how many credits is CS 2110?")
    search = sql_links("SELECT c.code FROM courses c JOIN course_topics t ON t.course_id = c.id "
                       "WHERE t.topic ILIKE '%security%'")
    other = sql_links("SELECT c.code FROM courses c JOIN course_topics t ON t.course_id = c.id "
                      "WHERE t.topic ILIKE '%kubernetes%'")
    assert link_score(asked, search) > link_score(asked, other)
    four = linker.question_links("Which courses are worth 4 credits?")
    assert link_score(four, sql_links("SELECT code FROM courses WHERE credits = 4")) > link_score(
        four, sql_links("SELECT code FROM courses WHERE credits < 4"))
    one = linker.question_links("how many credits is CS 2110?")
    assert link_score(one, sql_links("SELECT credits FROM courses WHERE code = 'CE 4229'")) > link_score(
        one, sql_links("SELECT code, credits FROM courses WHERE code IN ('CS 3200', 'CE 4229', 'EE 1000')"))


def test_a_column_word_means_the_named_table_and_a_period_word_no_column(linker):
    # 'title' is a course's and an instructor's; the course code says which.
    links = linker.question_links("What's the title of CE 4229?")
    assert "col:courses.title" in links and "col:instructors.title" not in links
    assert {"col:courses.title", "col:instructors.title"} <= linker.question_links("list every title")
    # The 'last' of 'last fall' is no last_name; 'last name' is.
    assert "col:instructors.last_name" not in linker.question_links("Who taught CE 4229 last fall?")
    assert "col:instructors.last_name" in linker.question_links("instructors by last name")
    # A table noun names the table, not its columns, and a count of it ('how many sections') is a count.
    sections = linker.question_links("How many sections are offered in Fall 2026?")
    assert "agg:count" in sections and not any(i.startswith("col:sections") for i in sections)


def test_score_prefers_the_statement_on_what_was_named_and_penalises_other_filters(linker):
    asked = linker.question_links("how many credits is CS 2110?")
    right = sql_links("SELECT credits FROM courses WHERE code = 'CS 2110'")
    count = sql_links("SELECT count(*) FROM sections s JOIN courses c ON c.id = s.course_id WHERE c.code = 'CS 2110'")
    other = sql_links("SELECT credits FROM courses WHERE code = 'CS 2110' AND level = 'graduate'")
    assert link_score(asked, right) > link_score(asked, count)
    assert link_score(asked, right) > link_score(asked, other)
    assert link_score(frozenset(), right) == 0.0


def test_store_reranks_similar_examples_by_the_schema_they_use(linker):
    # Word overlap alone puts the count first ('how many ... is'); the linker knows 'credits' is a column.
    examples = [Example("how many sections is CS 1010 split into", "SELECT count(*) FROM sections s JOIN courses c "
                        "ON c.id = s.course_id WHERE c.code = 'CS 1010'"),
                Example("how many hours is CE 4229 worth", "SELECT credits FROM courses WHERE code = 'CE 4229'")]
    question = "how many credits is CS 2110?"
    assert ExampleStore(examples).nearest(question, 1)[0].question.startswith("how many sections")
    assert ExampleStore(examples, linker=linker, link_weight=0).nearest(question, 1)[0].question.startswith("how many")
    linked = ExampleStore(examples, linker=linker, link_weight=1.0)
    assert linked.nearest(question, 1)[0].question == "how many hours is CE 4229 worth"
    # Examples added while serving (corrections) are linked too.
    linked.add_many([Example("how many credits does Linear Algebra carry", "SELECT credits FROM courses "
                                                                          "WHERE title = 'Linear Algebra'")])
    assert linked.nearest("how many credits does Data Structures carry", 1)[0].sql.endswith("'Linear Algebra'")


async def test_linker_reads_the_values_the_query_role_may_see(query_db_url):
    async with open_pool(query_db_url) as pool:
        schema = (await introspect_schema(pool, samples_per_column=0)).without_columns(
            frozenset({"students.email", "enrollments.grade"}))
        linker = await load_linker(pool, schema)
        # A column the role cannot read (here a table that is gone) is left out, not an error at startup.
        ghost = Schema(schema.tables + (Table("ghost_table", (Column("label", "text"),)),))
        assert (await load_linker(pool, ghost)).values == linker.values
    assert "val:courses.code" in linker.question_links("What's the title of CE 3310?")
    assert "val:departments.code" in linker.question_links("Show me all the math courses")
    assert "val:instructors.last_name" in linker.question_links("email for professor okafor")
    items = {i for v in linker.values.values() for i in v}
    assert not {"val:students.email", "val:enrollments.grade"} & items


def test_training_prompts_can_retrieve_with_the_same_linking(linker, tmp_path):
    from finetune.dataset import Pair
    from finetune.train import example_store

    pairs = [Pair("how many sections is CS 1010 split into", "SELECT count(*) FROM sections s JOIN courses c "
                  "ON c.id = s.course_id WHERE c.code = 'CS 1010'"),
             Pair("how many hours is CE 4229 worth", "SELECT credits FROM courses WHERE code = 'CE 4229'")]
    question = "how many credits is CS 2110?"
    plain = example_store(pairs, tmp_path)
    linked = example_store(pairs, tmp_path, linker=linker, link_weight=1.0)
    # Same embedder and store as the runtime; only the order of the near ones changes.
    assert {e.sql for e in plain.nearest(question, 2)} == {e.sql for e in linked.nearest(question, 2)}
    assert linked.nearest(question, 1)[0].sql == "SELECT credits FROM courses WHERE code = 'CE 4229'"
    # train.adapt_examples: the training prompt's examples asked with the pair's own values, as served.
    adapted = example_store(pairs, tmp_path, linker=linker, link_weight=1.0, adapt=True)
    assert adapted.nearest(question, 1)[0] == Example("how many hours is CS 2110 worth",
                                                      "SELECT credits FROM courses WHERE code = 'CS 2110'")


async def test_the_linker_knows_which_columns_it_read_completely(query_db_url):
    async with open_pool(query_db_url) as pool:
        schema = await introspect_schema(pool)
        whole = await load_linker(pool, schema)
        sampled = await load_linker(pool, schema, scan_rows=100)
        capped = await load_linker(pool, schema, per_column=3)
    assert {"courses.title", "instructors.first_name", "terms.name"} <= whole.complete
    # students has 480 rows: the first 100 are not all of them; a cap on values leaves a column incomplete too.
    assert "students.first_name" in whole.complete and "students.first_name" not in sampled.complete
    assert "terms.name" in sampled.complete and "courses.title" not in capped.complete


async def test_columns_with_type_modifiers_count_by_their_base_type(course_db_url):
    # varchar(40) is text and numeric(6,1) a number, for sample values, linking and the mends alike.
    async with open_pool(course_db_url) as pool:
        await pool.execute("CREATE SCHEMA IF NOT EXISTS typed; CREATE TABLE IF NOT EXISTS typed.rooms "
                           "(id int PRIMARY KEY, label varchar(40), seats numeric(6,1)); INSERT INTO typed.rooms "
                           "VALUES (1, 'Lab A', 30), (2, 'Hall B', 120) ON CONFLICT DO NOTHING")
        schema = await introspect_schema(pool, schema="typed")
        linker = await load_linker(pool, schema)
        course = await load_linker(pool, await introspect_schema(pool, samples_per_column=0))
    label = schema.table("rooms").column("label")
    assert label.base_type == "character varying" and set(label.samples) == {"Lab A", "Hall B"}
    assert "val:rooms.label" in linker.question_links("how many seats does Hall B have")
    assert "col:rooms.seats" in linker.numeric and "col:assessments.weight_percent" in course.numeric
