"""The whole feedback loop: a flagged answer, a reviewer's correction typed on stdin, the export,
few-shot retrieval of the correction, and a short retrain that weights it."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import re
import sys

import asyncpg
import pytest

from askdb import cli
from pipeline.feedback_store import FeedbackSettings, FeedbackStore, migrate
from pipeline.pipeline import Answer
from pipeline.prompt import Example
from pipeline.retrieval import ExampleStore, MiniLMEmbedder

QUESTION = "Which courses are prerequisites for Introduction to Cloud Computing?"
WRONG_SQL = "SELECT title FROM courses WHERE title = 'Introduction to Cloud Computing'"
CORRECTION = ("SELECT p.code, p.title FROM prerequisites pr JOIN courses c ON c.id = pr.course_id\n"
              "JOIN courses p ON p.id = pr.prerequisite_id\nWHERE c.title = 'Introduction to Cloud Computing';\n")
# Hand-written pairs (never the dev set): distractors for retrieval and the rest of the tiny retrain.
PAIRS = [
    {"question": "How many departments are there?", "sql": "SELECT count(*) FROM departments"},
    {"question": "List the graduate courses.", "sql": "SELECT code, title FROM courses WHERE level = 'graduate'"},
    {"question": "Which building is the CS department in?", "sql": "SELECT building FROM departments WHERE code = 'CS'"},
    {"question": "What topics does CE 4229 cover?", "sql": "SELECT ct.topic FROM course_topics ct JOIN courses c "
                                                          "ON c.id = ct.course_id WHERE c.code = 'CE 4229'"},
]


@contextlib.contextmanager
def stdin_text(text: str):
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def run_cli(*argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    with stdin_text(stdin), contextlib.redirect_stdout(out):
        rc = cli.main(list(argv))
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def loop(course_db_url, test_run_id, tmp_path_factory, monkeypatch_module):
    """Flag an answer as a chat adapter would, then review and export it with the real CLI."""
    tmp = tmp_path_factory.mktemp("feedback-e2e")
    monkeypatch_module.setenv("ASKDB_QUERY_PASSWORD", "test-only")
    monkeypatch_module.delenv("ASKDB_DATABASE_URL", raising=False)
    config = tmp / "config.yaml"
    config.write_text(
        f"database:\n  url: {course_db_url}\n  query_role: askdb_q_{test_run_id}\n"
        f"feedback:\n  spool_file: {tmp / 'spool.jsonl'}\n"
        f"paths:\n  home: {tmp / 'home'}\n  cache: {tmp / 'cache'}\n"
        "sql:\n  today: '2026-10-01'\n")

    async def flag() -> int:
        conn = await asyncpg.connect(course_db_url)
        await migrate(conn)  # what `askdb db init` does
        await conn.close()
        settings = FeedbackSettings(spool_path=tmp / "spool.jsonl")
        async with FeedbackStore(url=course_db_url, settings=settings) as store:
            wrong = Answer(QUESTION, WRONG_SQL, ("title",), (("Introduction to Cloud Computing",),),
                           "Introduction to Cloud Computing.", timings_ms={"total": 900.0}, model="smollm2-135m")
            iid = await store.record_interaction(platform="slack", channel="C42", user_id="U7", question=QUESTION,
                                                 answer=wrong)
            return await store.flag(iid, who="U7", where="C42", comment="these are not prerequisites")

    flag_id = asyncio.run(flag())
    common = ("--config", str(config))
    review = run_cli("feedback", "review", str(flag_id), "--reviewer", "ana", *common, stdin=CORRECTION + "a\n")
    out = tmp / "data" / "course" / "corrections.jsonl"
    export = run_cli("feedback", "export", "--out", str(out), *common)
    listing = run_cli("feedback", "list", "--status", "corrected", *common)
    return {"flag_id": flag_id, "review": review, "export": export, "list": listing, "out": out, "tmp": tmp,
            "config": config}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_review_on_stdin_corrects_the_flag_and_export_writes_it(loop):
    rc, text = loop["review"]
    assert rc == 0
    assert QUESTION in text and WRONG_SQL in text and "these are not prerequisites" in text
    assert text.count(" row") >= 2  # the wrong SQL's result, then the correction's, before accepting
    assert f"Flag #{loop['flag_id']} corrected." in text and "1 corrected" in text

    rc, text = loop["export"]
    assert rc == 0 and re.search(r"Exported \d+ corrections? and \d+ variants? with other values", text)
    rows = [json.loads(x) for x in loop["out"].read_text().splitlines()]
    mine = next(r for r in rows if r["flag_id"] == loop["flag_id"])
    assert mine["question"] == QUESTION and mine["source"] == "correction" and mine["db"] == "course"
    assert "prerequisite_id" in mine["sql"] and mine["corrected_by"] == "ana"
    # Its variants: the same question and statement for other courses that have prerequisites.
    variants = [r for r in rows if r["source"] == "correction-variant" and r["flag_id"] == loop["flag_id"]]
    assert len(variants) == 3
    for r in variants:
        title = r["question"].removeprefix("Which courses are prerequisites for ").removesuffix("?")
        assert title != "Introduction to Cloud Computing" and f"c.title = '{title}'" in r["sql"]

    rc, text = loop["list"]
    assert rc == 0 and str(loop["flag_id"]) in text and "corrected" in text


def test_review_of_a_missing_flag_is_a_message_not_a_traceback(loop, capsys):
    assert cli.main(["feedback", "review", "987654321", "--config", str(loop["config"])]) == 1
    assert "There is no flag #987654321" in capsys.readouterr().err


def test_the_exported_correction_is_retrieved_for_the_same_question(loop):
    pairs = [Example(p["question"], p["sql"]) for p in PAIRS]
    store = ExampleStore(pairs + ExampleStore.read_jsonl([loop["out"]]), embedder=MiniLMEmbedder.bundled())
    best = store.nearest(QUESTION, 1)[0]
    assert best.question == QUESTION and "prerequisite_id" in best.sql


@pytest.mark.slow
def test_a_short_retrain_takes_the_exported_corrections(loop, query_db_url):
    train_mod = pytest.importorskip("finetune.train", reason="finetune/train.py has not landed yet")
    from finetune.dataset import Pair, merge_pairs, read_pairs
    from pipeline.schema import introspect_schema

    async def schema():
        conn = await asyncpg.connect(query_db_url)
        try:
            s = await introspect_schema(conn, schema="public")
        finally:
            await conn.close()
        return s.without_columns(frozenset({"students.email", "enrollments.grade"}))

    corrections = read_pairs(loop["out"], source="corrections")
    settings = train_mod.TrainSettings(max_steps=2, batch_size=2, epochs=1, warmup_steps=1, val_fraction=0.0,
                                       eval_every=100, checkpoint_every=100, lora_r=4, lora_alpha=8,
                                       target_modules=("q_proj", "v_proj"), max_seq_tokens=768)
    pairs = merge_pairs([Pair(p["question"], p["sql"]) for p in PAIRS], corrections, repeat=settings.correction_repeat)
    assert sum(p.question == QUESTION for p in pairs) == settings.correction_repeat  # corrections weigh more
    mine = {r["question"] for r in map(json.loads, loop["out"].read_text().splitlines())
            if r["flag_id"] == loop["flag_id"] and r["source"] == "correction-variant"}
    assert len(mine) == 3 and sorted(p.question for p in pairs if p.question in mine) == sorted(mine)  # once each
    out_dir = loop["tmp"] / "adapter"
    report = train_mod.train(pairs, asyncio.run(schema()), out_dir=out_dir, settings=settings, base_source="bundled",
                             cache_root=loop["tmp"] / "cache", today=dt.date(2026, 10, 1), budget_tokens=500)
    assert report["steps"] == 2 and report["n_train"] == len(pairs)

    from safetensors.torch import load_file

    weights = load_file(str(out_dir / "adapter_model.safetensors"))
    lora_b = [t for k, t in weights.items() if "lora_B" in k]
    assert lora_b and any(float(t.abs().sum()) > 0 for t in lora_b)  # B starts at zero: it trained
