"""Examples shown asked with the question's own values (pipeline.slots.adapt_example) and what the linker names."""
from __future__ import annotations

from pipeline.linking import build_linker
from pipeline.prompt import Example
from pipeline.retrieval import ExampleStore
from pipeline.slots import adapt_example

from tests.test_linking import SCHEMA, VALUES

LINKER = build_linker(SCHEMA, VALUES)
TOPICS = Example("What are the topics of CS 2110?", "SELECT ct.topic FROM course_topics ct JOIN courses c "
                 "ON c.id = ct.course_id WHERE c.code = 'CS 2110' ORDER BY ct.week")


def test_the_linker_names_stored_values_by_column_and_free_numbers():
    values, numbers = LINKER.named_values("Which sections of ce 4229 had more than 30 students in Fall 2025?")
    # The stored spelling, not the question's, and the code's digits are no free number.
    assert values == {"courses.code": ["CE 4229"], "terms.name": ["Fall 2025"]}
    assert numbers == ["30"]
    assert LINKER.named_values("Who teaches Okafor and Chen's courses?")[0] == {"instructors.last_name": ["Okafor", "Chen"]}


def test_an_example_is_asked_with_the_questions_values():
    adapted = adapt_example(TOPICS, *LINKER.named_values("what are the major topics in ce 4229"))
    assert adapted == Example("What are the topics of CE 4229?", "SELECT ct.topic FROM course_topics AS ct JOIN courses "
                              "AS c ON c.id = ct.course_id WHERE c.code = 'CE 4229' ORDER BY ct.week")
    bounded = Example("courses with credits set to 3", "SELECT code, title FROM courses WHERE credits = 3 ORDER BY code")
    assert adapt_example(bounded, {}, ["4"]).sql.endswith("credits = 4 ORDER BY code")
    assert adapt_example(bounded, {}, ["4"]).question == "courses with credits set to 4"


def test_an_example_stays_as_it_is_where_the_values_do_not_pair_up():
    # The question names no course, or two for the example's one, or a number the example does not bound.
    assert adapt_example(TOPICS, {}, []) is TOPICS
    assert adapt_example(TOPICS, {"courses.code": ["CE 4229", "CS 2110"]}, []) is TOPICS
    assert adapt_example(TOPICS, {"courses.title": ["Linear Algebra"]}, ["3"]) is TOPICS
    # A value the example's question does not name belongs to its form: without the day, the term behind 'last fall'
    # is not known (tests/test_periods.py swaps it given the day).
    last_fall = Example("How many sections did CS 2110 have last fall?", "SELECT count(*) FROM sections s JOIN terms t "
                        "ON t.id = s.term_id JOIN courses c ON c.id = s.course_id WHERE t.name = 'Fall 2025' "
                        "AND c.code = 'CS 2110'")
    adapted = adapt_example(last_fall, {"terms.name": ["Fall 2026"], "courses.code": ["CE 4229"]}, [])
    assert "t.name = 'Fall 2025'" in adapted.sql and "c.code = 'CE 4229'" in adapted.sql
    assert adapt_example(Example("what?", "SELEC nonsense"), {"courses.code": ["CE 4229"]}, []).sql == "SELEC nonsense"


def test_the_store_shows_adapted_examples_only_when_asked():
    examples = [TOPICS, Example("What are the topics of Linear Algebra?", "SELECT ct.topic FROM course_topics ct JOIN "
                                "courses c ON c.id = ct.course_id WHERE c.title = 'Linear Algebra' ORDER BY ct.week")]
    question = "What are the topics of CE 4229?"
    assert ExampleStore(examples, linker=LINKER).nearest(question, 1) == [TOPICS]
    adapting = ExampleStore(examples, linker=LINKER, adapt=True)
    assert adapting.nearest(question, 1)[0].question == question
    # Two examples that become the same statement: the second is shown unadapted rather than twice.
    other = Example("topics of CS 1010", TOPICS.sql.replace("CS 2110", "CS 1010"))
    shown = ExampleStore([TOPICS, other], linker=LINKER, adapt=True).nearest(question, 2)
    assert [e.question for e in shown] == [question, "topics of CS 1010"]
    assert ExampleStore(examples, adapt=True).nearest(question, 1) == [TOPICS]  # no linker, nothing to adapt with


def test_values_the_model_misspells_are_grounded_only_when_one_stored_value_reads_the_same():
    sql = "SELECT last_name FROM instructors WHERE title = 'lecturers' AND last_name IN ('okafor', 'Nobody')"
    assert LINKER.ground_values(sql) == ("SELECT last_name FROM instructors WHERE title = 'Lecturer' "
                                         "AND last_name IN ('Okafor', 'Nobody')")
    exact = "SELECT code FROM courses AS c WHERE c.code = 'CS 2110' AND c.title ILIKE '%data%'"
    assert LINKER.ground_values(exact) is exact  # already stored, or a search: untouched
    assert LINKER.ground_values("SELEC nonsense") == "SELEC nonsense"
    # Two stored values that read the same: neither is guessed.
    twins = build_linker(SCHEMA, {("instructors", "title"): ["Lecturer", "lecturers"]})
    assert twins.ground_values("SELECT 1 FROM instructors WHERE title = 'LECTURER'").endswith("'LECTURER'")
    # A subquery's strings are grounded against their own column, not the IN's.
    nested = ("SELECT code FROM courses WHERE code IN (SELECT code FROM courses WHERE level = 'graduates') "
              "AND title = 'linear algebra'")
    assert LINKER.ground_values(nested).endswith("level = 'graduate') AND title = 'Linear Algebra'")
