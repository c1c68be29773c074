"""The llama.cpp backend with the real bundled GGUF: protocol, schema grammar, LoRA adapter conversion, chat text."""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from finetune.lora_gguf import convert_adapter, gguf_adapter_path, merged_model  # noqa: E402
from pipeline.grammar import defined_names, schema_grammar  # noqa: E402
from pipeline.models.base import CandidateModel, GrammarModel, Message, TextModel  # noqa: E402
from pipeline.models.bundled import bundled_gguf  # noqa: E402
from pipeline.models.llamacpp_backend import LlamaCppModel  # noqa: E402
from pipeline.schema import Column, Schema, Table  # noqa: E402

pytestmark = pytest.mark.slow

SCHEMA = Schema((
    Table("courses", (Column("id", "integer"), Column("code", "text"), Column("title", "text"),
                      Column("department_id", "integer"))),
    Table("departments", (Column("id", "integer"), Column("name", "text"))),
))
PROMPT = [Message("system", "You write PostgreSQL."), Message("user", "How many courses are there?")]
COURSE_ADAPTER = "profiles/course/adapter"


@pytest.fixture(scope="module")
def grammar() -> str:
    return schema_grammar(SCHEMA, defined_names=["course_count"]).text


@pytest.fixture
async def base():
    model = await LlamaCppModel.load(bundled_gguf(), threads=1)
    yield model
    await model.aclose()


async def test_backend_speaks_the_model_protocols(base):
    assert isinstance(base, TextModel) and isinstance(base, CandidateModel) and isinstance(base, GrammarModel)
    one = await base.complete(PROMPT, max_tokens=12)
    assert one.text.strip() and 0 < one.tokens <= 12
    # how sure it was of each token: the scope check's signal (pipeline/scope.py)
    assert len(one.token_logprobs) == one.tokens and all(lp <= 0 for lp in one.token_logprobs)
    again = await base.complete(PROMPT, max_tokens=12)
    assert again.text == one.text  # greedy: the cached prefix changes nothing


async def test_concurrent_askers_queue_without_blocking_the_event_loop(base):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    outs = await base.complete_many([PROMPT] * 4, max_tokens=16)
    tick.cancel()
    assert len({o.text for o in outs}) == 1 and outs[0].text.strip()
    assert ticks > 5  # the loop kept running while llama.cpp worked in its thread


async def test_a_cancelled_asker_does_not_stop_the_others(base):
    slow = asyncio.create_task(base.complete(PROMPT, max_tokens=60))
    await asyncio.sleep(0)
    slow.cancel()
    out = await base.complete(PROMPT, max_tokens=8)
    assert out.text.strip()
    with pytest.raises(asyncio.CancelledError):
        await slow


def test_grammar_refuses_missing_names_and_allows_real_ones(base, grammar):
    allows = base.grammar_allows
    assert allows(grammar, "SELECT title FROM courses WHERE code = 'CE 4229'")
    assert allows(grammar, "SELECT d.name, COUNT(*) AS course_count FROM courses AS c JOIN departments AS d "
                           "ON c.department_id = d.id GROUP BY d.name ORDER BY course_count DESC LIMIT 3;")
    assert allows(grammar, "select courses.title from courses")
    assert not allows(grammar, "SELECT name FROM courses WHERE room_wifi = 'x'")  # no column room_wifi
    assert not allows(grammar, "SELECT c.room_wifi FROM courses c")  # no table has room_wifi
    assert not allows(grammar, "SELECT title FROM rooms")  # no table rooms
    assert not allows(grammar, "SELECT courses.name FROM courses")  # name is a column of departments only
    assert not allows(grammar, "DELETE FROM courses")
    assert not allows(grammar, "SELECT title FROM courses; DROP TABLE courses")
    assert not allows(grammar, "SELECT code FROM courses This query lists the codes.")


async def test_grammar_holds_the_model_to_the_schema(base, grammar):
    ask = [Message("system", "Answer with one SQL statement."),
           Message("user", "Copy this statement exactly: SELECT c.room_wifi FROM classrooms c")]
    free = await base.complete(ask, max_tokens=30)
    held = await base.complete_grammar(ask, grammar=grammar, max_tokens=30)
    assert held.text.strip().upper().startswith(("SELECT", "WITH"))
    assert "room_wifi" not in held.text and "classrooms" not in held.text
    assert base.grammar_allows(grammar, held.text)
    assert held.text != free.text


def test_defined_names_come_from_the_statements():
    names = defined_names(["SELECT COUNT(*) AS n_courses FROM courses AS c",
                           "WITH RECURSIVE chain AS (SELECT 1) SELECT * FROM chain"])
    assert {"n_courses", "c", "chain"} <= names and "select" not in {n.lower() for n in names}


async def test_converted_adapter_changes_output_as_in_transformers(tmp_path, base):
    from pipeline.models.transformers_backend import TransformersModel

    adapter = tmp_path / "adapter"
    shutil.copytree(COURSE_ADAPTER, adapter, ignore=shutil.ignore_patterns("*.gguf"))
    converted = convert_adapter(adapter, base_gguf=bundled_gguf())
    assert converted.path == gguf_adapter_path(adapter) and converted.tensors == 30 * 7 * 2
    merged = merged_model(adapter, base_gguf=bundled_gguf())  # what the runtime loads
    question = [Message("system", "Write PostgreSQL for the question."),
                Message("user", "Schema: courses(id, code, title)\nQuestion: How many courses are there?")]
    replies, sure = {}, {}
    for label, opened in (("lora", LlamaCppModel.load(bundled_gguf(), adapter=str(adapter),
                                                      adapter_gguf=converted.path, threads=1)),
                          ("merged", LlamaCppModel.load(merged, adapter=str(adapter), threads=1)),
                          ("torch", TransformersModel.load("bundled", cache_root=tmp_path / "cache",
                                                           adapter=str(adapter)))):
        model = await opened
        try:
            done = await model.complete(question, max_tokens=24)
            replies[label], sure[label] = done.text, done.token_logprobs
        finally:
            await model.aclose()
    plain = (await base.complete(question, max_tokens=24)).text
    assert replies["lora"] != plain
    # The same tuned model three ways: the runtimes agree on its reply (up to float rounding at the end).
    words = [replies[k].split() for k in ("lora", "torch", "merged")]
    n = min(6, *map(len, words))
    assert n >= 4 and words[0][:n] == words[1][:n] == words[2][:n], replies
    # and are as sure of it: the same log-probabilities for the first tokens, up to rounding
    assert all(abs(a - b) < 0.1 for a, b in zip(sure["merged"][:4], sure["torch"][:4])), sure


async def test_chat_text_is_the_one_transformers_renders(tmp_path, base):
    from pipeline.models.bundled import load_weights
    from pipeline.models.transformers_backend import render_chat

    loaded = await asyncio.to_thread(load_weights, "bundled", cache_root=tmp_path)
    for messages in (PROMPT, PROMPT[1:], PROMPT + [Message("assistant", "SELECT 1"), Message("user", "and 2?")]):
        assert base.template.render(messages) == render_chat(loaded.tokenizer, messages)


async def test_every_dev_gold_statement_is_within_its_schema_grammar(base, course_db_url):
    # Recall: a grammar that refused correct SQL would cost accuracy. The dev set's 95 gold statements use the kinds
    # of SQL people ask for (NOT EXISTS, FILTER, arithmetic on columns, ORDER BY an output name).
    import asyncpg

    from pipeline.retrieval import ExampleStore
    from pipeline.schema import introspect_schema

    conn = await asyncpg.connect(course_db_url)
    try:
        schema = await introspect_schema(conn)
    finally:
        await conn.close()
    learned = ExampleStore.read_jsonl([Path("profiles/course/samples.jsonl")])
    grammar = schema_grammar(schema, defined_names=defined_names(e.sql for e in learned)).text
    gold = [json.loads(line)["sql"] for line in Path("finetune/eval/course_dev.jsonl").read_text().splitlines()
            if line.strip()]
    refused = [sql for sql in gold if not base.grammar_allows(grammar, sql)]
    assert len(gold) == 95 and refused == []


async def test_beam_search_gives_distinct_candidates_and_leaves_the_cache_as_it_was(base, grammar):
    greedy = await base.complete(PROMPT, max_tokens=16)
    assert [c.text for c in await base.complete_candidates(PROMPT, n=1, max_tokens=16)] == [greedy.text]
    candidates = await base.complete_candidates(PROMPT, n=3, max_tokens=16)
    texts = [c.text.strip() for c in candidates]
    assert 2 <= len(texts) <= 3 and len(set(texts)) == len(texts) and all(texts)
    held = await base.complete_candidates(PROMPT, n=3, max_tokens=40, grammar=grammar)
    assert held and all(base.grammar_allows(grammar, c.text.strip()) for c in held)
    again = await base.complete(PROMPT, max_tokens=16)
    assert again.text == greedy.text and base.reused_tokens > 0  # the beams' sequences are gone, the prompt stays
