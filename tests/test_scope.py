"""Questions a database cannot answer: told what it holds, never given a made-up query; through the pipeline, the
evaluation and the Discord, Slack and terminal adapters. The vocabulary is always read from a real database."""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import json

import pytest

from bot.core import BotCore, CoreLimits
from bot.terminal import run_terminal_chat
from pipeline.database import open_pool
from pipeline.guard import GuardPolicy
from pipeline.pipeline import Pipeline, PipelineSettings
from pipeline.schema import introspect_schema
from pipeline.scope import judge_scope, load_vocabulary

from .conftest import create_database, drop_database
from .fakes_models import ScriptedModel

SQL = "SELECT title FROM courses WHERE code = 'CS 2110'"
SHOP = """
CREATE TABLE customers (id serial PRIMARY KEY, full_name text, city text);
COMMENT ON COLUMN customers.city IS 'Where the customer lives.';
CREATE TABLE products (id serial PRIMARY KEY, name text, price numeric(8, 2));
COMMENT ON TABLE products IS 'What the shop sells.';
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers (id),
                     product_id int REFERENCES products (id), ordered_on date, quantity int);
INSERT INTO customers (full_name, city) VALUES ('Ada Byron', 'London'), ('Alan Turing', 'Manchester');
INSERT INTO products (name, price) VALUES ('Blue Mug', 9.50), ('Tea Towel', 4.00);
INSERT INTO orders (customer_id, product_id, ordered_on, quantity) VALUES (1, 1, '2026-01-05', 2);
"""


@pytest.fixture(scope="module")
def course_vocabulary(query_db_url):
    async def load():
        async with open_pool(query_db_url) as pool:
            return await load_vocabulary(pool, await introspect_schema(pool))
    return asyncio.run(load())


@pytest.mark.parametrize("question", [
    "What's the weather going to be like on Saturday?",
    "What is the wifi password of room ENG 210?",
    "Who will win the next election?",
    "What's my balance in the payroll system?",
])
def test_questions_the_course_database_cannot_answer_are_out_of_scope(course_vocabulary, question):
    scope = judge_scope(question, course_vocabulary)
    assert scope.verdict == "out_of_scope"
    assert "courses" in scope.reply and "instructors" in scope.reply and "SELECT" not in scope.reply


def test_the_reply_names_what_the_question_asked_that_the_database_lacks(course_vocabulary):
    scope = judge_scope("What is the wifi password of room ENG 210?", course_vocabulary)
    assert set(scope.unknown) == {"wifi", "password"} and "room" in scope.schema
    assert "'wifi'" in scope.reply and "'password'" in scope.reply


@pytest.mark.parametrize("question", [
    "how mnay credits is the electronics course",  # a typo of a plain word
    "wat building is the math dept in",  # a shortening of a schema word
    "Which courses cover dynamic programming?",  # words found only in stored topics
    "Who taught Data Structures in Fall 2025?",
    "What term is running on October 15, 2026?",
])
def test_questions_it_can_answer_go_on_to_the_model(course_vocabulary, question):
    assert judge_scope(question, course_vocabulary).answerable


def test_a_name_several_tables_store_and_nothing_else_gets_a_question_back(course_vocabulary):
    # 'Chen' is an instructor and a student of the course data.
    scope = judge_scope("Chen?", course_vocabulary)
    assert scope.verdict == "clarify"
    assert scope.reply.endswith("?") and "instructors" in scope.reply and "students" in scope.reply
    assert judge_scope("What is Professor Chen's email?", course_vocabulary).answerable


def test_a_question_of_no_content_words_is_asked_what_it_wants(course_vocabulary):
    scope = judge_scope("show me everything", course_vocabulary)
    assert scope.verdict == "clarify" and "departments" in scope.reply


async def test_another_database_has_its_own_scope(pg_admin_url, test_run_id):
    """Nothing is the course data's: a shop's questions pass there and the course questions do not."""
    name = f"askdb_scope_shop_{test_run_id}"
    url = await create_database(pg_admin_url, name, SHOP)
    try:
        async with open_pool(url) as pool:
            vocab = await load_vocabulary(pool, await introspect_schema(pool))
    finally:
        await drop_database(pg_admin_url, name)
    assert judge_scope("How much does the Blue Mug cost?", vocab).answerable  # a column comment's word and a value
    assert judge_scope("which customers live in London", vocab).answerable
    assert judge_scope("How many products does the shop sell?", vocab).answerable
    assert judge_scope("Who teaches CS 2110 this semester?", vocab).verdict == "out_of_scope"
    reply = judge_scope("What's the weather in London?", vocab).reply
    assert "customers, orders and products" in reply


async def _pipeline(pool, *, scope_check=True, replies=(SQL,), logprob=None):
    schema = await introspect_schema(pool)
    model = ScriptedModel(*replies, logprob=logprob)
    pipe = Pipeline(sql_model=model, pool=pool, schema=schema, policy=GuardPolicy.from_schema(schema),
                    settings=PipelineSettings(answer_with_model=False, scope_check=scope_check),
                    clock=lambda: dt.date(2026, 11, 24), vocabulary=await load_vocabulary(pool, schema))
    return pipe, model


async def test_the_pipeline_refuses_a_guess_without_running_it_and_answers_the_rest(query_db_url):
    async with open_pool(query_db_url) as pool:
        pipe, model = await _pipeline(pool, logprob=-0.4)  # a model that was unsure of what it wrote
        refused = await pipe.answer("What's the weather going to be like tomorrow?")
        answered = await pipe.answer("What is CS 2110 called?")
        off, _ = await _pipeline(pool, scope_check=False, logprob=-0.4)
        unchecked = await off.answer("What's the weather going to be like tomorrow?")
        silent, _ = await _pipeline(pool)  # a backend that reports no log-probabilities: the words decide
        refused_anyway = await silent.answer("What's the weather going to be like tomorrow?")
    assert refused.kind == "out_of_scope" and refused.sql == "" and refused.rows == () and refused.ok
    assert "courses" in refused.answer and refused.to_json()["kind"] == "out_of_scope"
    assert "generate" in refused.timings_ms and "execute" not in refused.timings_ms  # the guess never ran
    assert answered.kind == "answer" and answered.rows == (("Data Structures",),)
    assert unchecked.kind == "answer" and unchecked.sql  # scope_check off: the old behaviour, a made-up query
    assert refused_anyway.kind == "out_of_scope"


async def test_a_sure_model_answers_words_the_vocabulary_lacks_when_its_statement_runs(query_db_url):
    question = "What's the blurb of CS 2110?"  # 'blurb' is nowhere in the course database
    async with open_pool(query_db_url) as pool:
        sure, _ = await _pipeline(pool, logprob=-0.01)
        answered = await sure.answer(question)
        failing = "SELECT blurb FROM courses WHERE code = 'CS 2110'"
        sure_but_wrong, _ = await _pipeline(pool, replies=(failing,), logprob=-0.01)
        refused = await sure_but_wrong.answer(question)
    assert judge_scope(question, sure.vocabulary).verdict == "out_of_scope"
    assert answered.kind == "answer" and answered.rows == (("Data Structures",),)
    assert refused.kind == "out_of_scope" and refused.sql == "" and "'blurb'" in refused.answer


async def test_a_question_whose_unknown_words_only_fail_is_out_of_scope(query_db_url):
    # By its words answerable (a course, its instructor, 'park' a stored word), but 'lot' is nowhere and every
    # statement fails.
    question = "Where does the instructor of CS 2110 park, which parking lot?"
    failing = "SELECT parking_lot FROM instructors"
    async with open_pool(query_db_url) as pool:
        pipe, _ = await _pipeline(pool, replies=(failing,), logprob=-0.2)
        told = await pipe.answer(question)
        answerable, _ = await _pipeline(pool, replies=(failing,), logprob=-0.2)
        failed = await answerable.answer("Who teaches CS 2110?")  # nothing unknown: the error is the answer
    assert judge_scope(question, pipe.vocabulary).answerable
    assert told.kind == "out_of_scope" and "nothing about 'lot'" in told.answer
    assert failed.kind == "answer" and not failed.ok


async def test_a_follow_up_that_names_nothing_new_is_not_asked_back(query_db_url):
    from pipeline.prompt import Example

    async with open_pool(query_db_url) as pool:
        pipe, _ = await _pipeline(pool)
        alone = await pipe.answer("and what about it?")
        followed = await pipe.answer("and what about it?", previous=(Example("What is CS 2110 called?", SQL),))
    assert alone.kind == "clarify"
    assert followed.kind == "answer"


async def test_eval_reports_both_rates(query_db_url, tmp_path):
    from finetune.evaluate import evaluate, read_items

    path = tmp_path / "scope.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"question": "What is CS 2110 called?", "sql": SQL, "in_scope": True},
        {"question": "Which professor is the funniest?", "sql": SQL, "in_scope": True},  # refused: counted
        {"question": "What's the weather going to be like tomorrow?", "in_scope": False},
        {"question": "Who won the football game?", "in_scope": False},
    ]) + "\n")
    async with open_pool(query_db_url) as pool:
        pipe, _ = await _pipeline(pool)
        report = await evaluate(pipe, pool, read_items(path), label="scope", concurrency=1)
    d = report.to_json()
    assert d["scope"] == {"out_of_scope_n": 2, "out_of_scope_answered": 0, "out_of_scope_answered_rate": 0.0,
                          "in_scope_n": 2, "in_scope_refused": 1, "in_scope_refused_rate": 0.5}
    assert d["n"] == 2 and d["correct"] == 1 and d["failure_reasons"] == {"out of scope": 1}


async def test_discord_renders_the_reply_without_sql_or_feedback_buttons(query_db_url):
    from bot.core import Question
    from bot.discord_bot import render_reply

    async with open_pool(query_db_url) as pool:
        pipe, _ = await _pipeline(pool)
        reply = await BotCore(answer=pipe.answer).ask(
            Question("What's the wifi password of room ENG 210?", user="1", channel="7", platform="discord"))
    message = render_reply(reply, show_sql=True)
    assert reply.status == "out_of_scope" and not reply.ok
    assert message.content.startswith("Sorry, I can't answer that") and "courses" in message.content
    assert "```sql" not in message.content and message.view is None and message.files == ()


async def test_slack_responds_with_the_reply_and_no_sql_block(query_db_url):
    from askdb.config import SlackConfig

    from .test_slack import slack_server, slash

    async with open_pool(query_db_url) as pool:
        pipe, _ = await _pipeline(pool)
        async with slack_server(pipe.answer, settings=SlackConfig(response_type="in_channel")) as (api, post, _):
            await post(slash(api, "Is it going to rain during the final exam?"))
            await api.wait_for(lambda: api.responses)
    (block,) = api.responses[0]["blocks"]  # the text alone: no SQL context, no table, no Wrong answer button
    assert block["text"]["text"].startswith("Sorry, I can't answer that")
    assert "courses" in block["text"]["text"]


async def test_the_terminal_prints_the_reply(query_db_url):
    async with open_pool(query_db_url) as pool:
        pipe, _ = await _pipeline(pool)
        out = io.StringIO()
        core = BotCore(answer=pipe.answer, limits=CoreLimits(per_user_per_minute=0))
        await run_terminal_chat(pipe, stdin=io.StringIO("/sql\nTell me a joke about databases\n"), stdout=out,
                                core=core)
    text = out.getvalue()
    assert "Sorry, I can't answer that" in text and "SQL:" not in text
