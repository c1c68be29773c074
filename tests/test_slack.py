"""The Slack adapter through bolt's real AsyncApp and aiohttp server, with signed requests and a loopback Web API."""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import time
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from PIL import Image
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from askdb.config import SlackConfig
from bot.core import BotCore, CoreLimits
from bot.slack_bot import VIEW_ACTION, WRONG_ACTION, build_slack_app, reply_blocks, strip_mention

from .fakes.answers import FakeAnswers, RecordingFeedback
from .fakes.slack_api import FakeSlackApi, free_port
from .fakes_models import ScriptedModel

SECRET = "test-signing-secret"


@contextlib.asynccontextmanager
async def slack_server(answer, *, feedback=None, settings=SlackConfig(admin_users=["UADMIN"]), limits=CoreLimits()):
    """The bolt app on an aiohttp server at 127.0.0.1:<free port>, its Web API pointed at FakeSlackApi."""
    async with FakeSlackApi() as api:
        core = BotCore(answer=answer, feedback=feedback, limits=limits)
        client = AsyncWebClient(token="xoxb-test-token", base_url=api.base_url)
        app = build_slack_app(core=core, settings=settings, client=client, signing_secret=SECRET)
        port = free_port()
        runner = web.AppRunner(app.web_app(path="/slack/events", port=port))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        async with aiohttp.ClientSession() as http:
            async def post(body: str, *, secret=SECRET, content_type="application/x-www-form-urlencoded"):
                ts = str(int(time.time()))
                headers = {"X-Slack-Request-Timestamp": ts, "Content-Type": content_type,
                           "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}
                async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=headers) as r:
                    return r.status, await r.text()
            try:
                async with asyncio.timeout(60):  # a bound against hangs, not a timing assertion
                    yield api, post, core
            finally:
                await core.shutdown(grace_s=5)
                await runner.cleanup()


def slash(api, text, user="U1"):
    return urlencode({"token": "legacy", "team_id": "T1", "team_domain": "course", "channel_id": "C1",
                      "channel_name": "general", "user_id": user, "user_name": "student", "command": "/ask",
                      "text": text, "api_app_id": "A1", "response_url": api.response_url("cmd"), "trigger_id": "1.2.3"})


def payload(obj) -> str:
    return urlencode({"payload": json.dumps(obj)})


def button_click(api, interaction_id, user="U2"):
    return payload({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user, "team_id": "T1"},
                    "api_app_id": "A1", "trigger_id": "9.8.7", "channel": {"id": "C1"},
                    "response_url": api.response_url("button"), "container": {"type": "message"},
                    "actions": [{"type": "button", "action_id": WRONG_ACTION, "block_id": "askdb_feedback",
                                 "value": str(interaction_id), "action_ts": "1.1"}]})


def submission(view, user="U2", comment=None, sql=None):
    values = {"comment": {"value": {"type": "plain_text_input", "value": comment}}}
    if sql is not None:
        values["sql"] = {"value": {"type": "plain_text_input", "value": sql}}
    return payload({"type": "view_submission", "team": {"id": "T1"}, "user": {"id": user, "team_id": "T1"},
                    "api_app_id": "A1", "trigger_id": "5.5.5",
                    "view": {**view, "id": "V1", "state": {"values": values}}})


async def test_slash_command_acks_before_the_answer_then_responds_with_blocks():
    gate = asyncio.Event()
    answers = FakeAnswers(gate=gate, rows=[(w, f"topic {w}") for w in range(1, 4)])
    async with slack_server(answers, feedback=RecordingFeedback()) as (api, post, core):
        status, body = await post(slash(api, "What are the topics of CE 4229?"))
        # the HTTP ack came back while the answer was still blocked on the gate
        assert status == 200 and "Looking that up" in body
        await answers.entered.wait()
        assert not gate.is_set() and core.active > 0 and api.responses == []
        gate.set()
        await api.wait_for(lambda: api.responses)
    resp = api.responses[0]
    assert resp["_name"] == "cmd" and resp["response_type"] == "ephemeral"
    kinds = [b["type"] for b in resp["blocks"]]
    assert kinds == ["section", "context", "section", "actions"]
    assert "3 rows" in resp["blocks"][0]["text"]["text"]
    assert resp["blocks"][1]["elements"][0]["text"] == "SQL: `SELECT week, topic FROM course_topics`"
    assert "topic 3" in resp["blocks"][2]["text"]["text"]
    button = resp["blocks"][3]["elements"][0]
    assert button["action_id"] == WRONG_ACTION and button["value"] == "1"
    assert api.called("auth.test")  # bolt's own authorization ran against the loopback API


async def test_bad_signature_is_rejected_without_answering():
    answers = FakeAnswers()
    async with slack_server(answers) as (api, post, _):
        status, _ = await post(slash(api, "how many courses?"), secret="not-the-secret")
    assert status == 401 and answers.started == []


async def test_empty_command_gets_usage_and_no_answer():
    answers = FakeAnswers()
    async with slack_server(answers) as (api, post, _):
        status, body = await post(slash(api, "   "))
    assert status == 200 and "/ask <your question>" in body and answers.started == []


async def test_rate_limited_user_is_told_in_the_response():
    async with slack_server(FakeAnswers(), limits=CoreLimits(per_user_per_minute=1)) as (api, post, _):
        await post(slash(api, "first"))
        await post(slash(api, "second"))
        await api.wait_for(lambda: len(api.responses) == 2)
    texts = sorted(r["text"] for r in api.responses)
    assert any("please wait" in t for t in texts)
    limited = next(r for r in api.responses if "please wait" in r["text"])
    assert [b["type"] for b in limited["blocks"]] == ["section"]  # no Wrong answer button on a refusal


async def test_wrong_answer_button_opens_a_modal_and_submission_flags_with_the_comment():
    feedback = RecordingFeedback()
    async with slack_server(FakeAnswers(), feedback=feedback) as (api, post, _):
        await post(slash(api, "how many courses?"))
        await api.wait_for(lambda: api.responses)
        status, _ = await post(button_click(api, 1))
        assert status == 200
        await api.wait_for(lambda: api.called("views.open"))
        opened = api.called("views.open")[0]
        view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
        assert opened["trigger_id"] == "9.8.7" and view["callback_id"] == "askdb_flag"
        assert [b["block_id"] for b in view["blocks"]] == ["comment"]  # not an admin: no SQL field
        status, _ = await post(submission(view, comment="It should be 42"))
        assert status == 200
        await api.wait_for(lambda: len(api.responses) == 2)
    assert feedback.flags == [dict(interaction_id=1, who="slack:U2", where="slack:T1/C1", comment="It should be 42")]
    thanks = api.responses[1]
    assert thanks["_name"] == "button" and thanks["response_type"] == "ephemeral" and "flag #101" in thanks["text"]


async def test_admin_submission_with_sql_saves_a_correction():
    feedback = RecordingFeedback()
    async with slack_server(FakeAnswers(), feedback=feedback) as (api, post, _):
        await post(slash(api, "how many courses?"))
        await api.wait_for(lambda: api.responses)
        await post(button_click(api, 1, user="UADMIN"))
        await api.wait_for(lambda: api.called("views.open"))
        view = api.called("views.open")[0]["view"]
        view = view if isinstance(view, dict) else json.loads(view)
        assert [b["block_id"] for b in view["blocks"]] == ["comment", "sql"]
        await post(submission(view, user="UADMIN", sql="SELECT count(*) FROM courses"))
        await api.wait_for(lambda: len(api.responses) == 2)
    assert feedback.corrections == [dict(flag_id=101, sql="SELECT count(*) FROM courses", who="slack:UADMIN")]
    assert "Saved your corrected SQL" in api.responses[1]["text"]


async def test_mention_answers_in_the_thread():
    event = {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "Ev1",
             "event_time": 1700000000, "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
             "event": {"type": "app_mention", "user": "U1", "text": "<@UBOT> how many courses?", "ts": "1700.1",
                       "channel": "C1", "event_ts": "1700.1"}}
    answers = FakeAnswers()
    async with slack_server(answers) as (api, post, _):
        status, _ = await post(json.dumps(event), content_type="application/json")
        assert status == 200
        await api.wait_for(lambda: api.called("chat.postMessage"))
    msg = api.called("chat.postMessage")[0]
    assert answers.started == ["how many courses?"]
    assert msg["channel"] == "C1" and msg["thread_ts"] == "1700.1" and "1 rows" in msg["text"]


def test_blocks_escape_and_clip():
    from bot.core import Reply

    reply = Reply("a < b & c" + "x" * 5000, sql="SELECT `x`\n  FROM t", interaction_id=None)
    blocks = reply_blocks(reply)
    assert blocks[0]["text"]["text"].startswith("a &lt; b &amp; c") and len(blocks[0]["text"]["text"]) <= 2900
    assert blocks[1]["elements"][0]["text"] == "SQL: `SELECT 'x' FROM t`"
    assert strip_mention("<@U123> what is <@U9|bob> doing?") == "what is doing?"


async def test_real_pipeline_end_to_end_on_the_course_database(query_db_url):
    from pipeline.database import open_pool
    from pipeline.guard import GuardPolicy
    from pipeline.pipeline import Pipeline, PipelineSettings
    from pipeline.schema import introspect_schema

    sql = "SELECT title FROM courses WHERE code = 'CS 2110'"
    async with open_pool(query_db_url) as pool:
        schema = await introspect_schema(pool)
        pipe = Pipeline(sql_model=ScriptedModel(sql), pool=pool, schema=schema, policy=GuardPolicy.from_schema(schema),
                        settings=PipelineSettings(answer_with_model=False), clock=lambda: dt.date(2026, 11, 24))
        feedback = RecordingFeedback()
        settings = SlackConfig(response_type="in_channel")
        async with slack_server(pipe.answer, feedback=feedback, settings=settings) as (api, post, _):
            await post(slash(api, "What is CS 2110 called?"))
            await api.wait_for(lambda: api.responses)
    resp = api.responses[0]
    assert resp["response_type"] == "in_channel"
    assert "Data Structures" in resp["blocks"][0]["text"]["text"]
    assert "courses" in resp["blocks"][1]["elements"][0]["text"]
    assert feedback.interactions[0]["answer"].rows == (("Data Structures",),)


async def test_http_mode_drains_in_flight_answers_before_stopping():
    from bot.slack_bot import run_slack

    gate = asyncio.Event()
    answers = FakeAnswers(gate=gate)
    settings = SlackConfig(mode="http", port=free_port())
    async with FakeSlackApi() as api, aiohttp.ClientSession() as http:
        core = BotCore(answer=answers)
        app = build_slack_app(core=core, settings=settings, signing_secret=SECRET,
                              client=AsyncWebClient(token="xoxb-test-token", base_url=api.base_url))
        stop = asyncio.Event()
        async with asyncio.timeout(60):
            serving = asyncio.create_task(run_slack(app, settings=settings, app_token=None, stop=stop,
                                                    drain=lambda: core.shutdown(grace_s=30)))
            body = slash(api, "slow question")
            ts = str(int(time.time()))
            headers = {"X-Slack-Request-Timestamp": ts, "Content-Type": "application/x-www-form-urlencoded",
                       "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}
            while True:  # the server is up once it answers
                try:
                    async with http.post(f"http://127.0.0.1:{settings.port}/slack/events", data=body,
                                         headers=headers) as r:
                        assert r.status == 200
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            await answers.entered.wait()
            stop.set()
            await asyncio.sleep(0)
            assert not serving.done()  # still connected: the in-flight answer is owed a reply
            gate.set()
            await serving
    assert len(api.responses) == 1 and "slow question" in api.responses[0]["text"]
    assert api.called("auth.test")  # the token was checked at startup


def test_serve_slack_without_tokens_exits_cleanly_naming_the_variable(monkeypatch, capsys):
    from askdb.cli import main

    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    # an unreachable database proves the token check comes before anything slow
    assert main(["serve", "slack", "--database", "postgresql://nobody@127.0.0.1:1/none"]) == 1
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err and "Traceback" not in err
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    assert main(["serve", "slack", "--database", "postgresql://nobody@127.0.0.1:1/none"]) == 1
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err


async def test_logs_carry_no_tokens_or_user_ids(caplog):
    import logging

    from askdb.commands.serve import _setup_logging

    caplog.set_level(logging.INFO)
    _setup_logging()  # what `askdb serve` does: askdb.bot at INFO, HTTP client loggers at WARNING or above
    async with slack_server(FakeAnswers(), feedback=RecordingFeedback()) as (api, post, _):
        await post(slash(api, "how many courses?", user="U0SECRETUSER"))
        await api.wait_for(lambda: api.responses)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "askdb.bot"]
    assert [line["outcome"] for line in lines] == ["ok"] and lines[0]["platform"] == "slack"
    assert "xoxb-test-token" not in caplog.text and SECRET not in caplog.text and "U0SECRETUSER" not in caplog.text


DEPARTMENT_ROWS = (("Mathematics", 305), ("Computer Science", 294), ("Computer Engineering", 239), ("Physics", 202))


def department_answers():
    return FakeAnswers(rows=DEPARTMENT_ROWS, columns=("department", "students"),
                       sql="SELECT d.name AS department, count(*) AS students FROM ...")


def mention(text="<@UBOT> how many students per department?"):
    return json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": "Ev2", "event_time": 1700000000,
                       "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
                       "event": {"type": "app_mention", "user": "U1", "text": text, "ts": "1700.1", "channel": "C1",
                                 "event_ts": "1700.1"}})


def toggle_click(api, value, user="U2"):
    return payload({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user, "team_id": "T1"},
                    "api_app_id": "A1", "trigger_id": "9.8.6", "channel": {"id": "C1"},
                    "response_url": api.response_url("toggle"), "container": {"type": "message"},
                    "actions": [{"type": "button", "action_id": VIEW_ACTION, "block_id": "askdb_feedback",
                                 "value": value, "action_ts": "1.2"}]})


async def test_a_mention_gets_its_chart_uploaded_into_the_thread_and_a_working_toggle():
    async with slack_server(department_answers(), feedback=RecordingFeedback()) as (api, post, _):
        status, _ = await post(mention(), content_type="application/json")
        assert status == 200
        await api.wait_for(lambda: api.called("files.completeUploadExternal"))
        (msg,) = api.called("chat.postMessage")
        toggle, wrong = msg["blocks"][-1]["elements"]
        assert toggle["action_id"] == VIEW_ACTION and toggle["value"].startswith("chart:") and wrong["value"] == "1"
        assert "Computer Engineering" in msg["blocks"][2]["text"]["text"]  # the table until the toggle is pressed

        (asked,) = api.called("files.getUploadURLExternal")
        (done,) = api.called("files.completeUploadExternal")
        assert asked["filename"] == "chart.png" and int(asked["length"]) == len(api.uploads["F00001"])
        assert done["channel_id"] == "C1" and done["thread_ts"] == "1700.1"
        assert json.loads(done["files"]) == [{"id": "F00001", "title": "how many students per department?"}]
        image = Image.open(io.BytesIO(api.uploads["F00001"]))
        image.load()
        assert image.format == "PNG"

        await post(toggle_click(api, toggle["value"]))
        await api.wait_for(lambda: api.responses)
        shown = api.responses[0]
        assert shown["_name"] == "toggle" and shown["replace_original"] is True
        image_block = shown["blocks"][2]
        assert image_block["type"] == "image" and image_block["slack_file"] == {"id": "F00001"}
        assert image_block["alt_text"] == "Bar chart of students by department"
        assert shown["blocks"][-1]["elements"][0]["value"] == toggle["value"].replace("chart:", "table:")

        await post(toggle_click(api, shown["blocks"][-1]["elements"][0]["value"]))
        await api.wait_for(lambda: len(api.responses) == 2)
        table = api.responses[1]
        assert table["blocks"][2]["type"] == "section" and "Computer Engineering" in table["blocks"][2]["text"]["text"]
        assert table["blocks"][-1]["elements"][0]["value"] == toggle["value"]


async def test_an_ephemeral_answer_uploads_no_chart_and_an_in_channel_one_does():
    async with slack_server(department_answers()) as (api, post, _):
        await post(slash(api, "students per department?"))
        await api.wait_for(lambda: api.responses)
    assert not api.called("files.getUploadURLExternal") and api.responses[0]["blocks"][-1]["type"] != "actions"

    async with slack_server(department_answers(), settings=SlackConfig(response_type="in_channel")) as (api, post, _):
        await post(slash(api, "students per department?"))
        await api.wait_for(lambda: api.called("files.completeUploadExternal"))
    (done,) = api.called("files.completeUploadExternal")
    assert done["channel_id"] == "C1" and "thread_ts" not in done
    assert api.responses[0]["blocks"][-1]["elements"][0]["action_id"] == VIEW_ACTION


async def test_a_failed_upload_or_drawing_never_costs_the_answer(monkeypatch, caplog):
    import logging

    caplog.set_level(logging.WARNING)
    async with slack_server(department_answers()) as (api, post, _):
        api.errors["files.completeUploadExternal"] = "not_in_channel"
        await post(mention(), content_type="application/json")
        await api.wait_for(lambda: api.called("files.completeUploadExternal"))
        await asyncio.sleep(0.05)
        (msg,) = api.called("chat.postMessage")
        assert "4 rows" in msg["text"]
        toggle = msg["blocks"][-1]["elements"][0]
        await post(toggle_click(api, toggle["value"]))
        await api.wait_for(lambda: api.responses)
    told = api.responses[0]
    assert told["response_type"] == "ephemeral" and told["replace_original"] is False
    assert "isn't available" in told["text"]
    assert any("not_in_channel" in r.getMessage() for r in caplog.records if r.name == "askdb.bot.slack")

    def broken(plan, *, title):
        raise ValueError("bad font")

    monkeypatch.setattr("bot.charts.draw_chart", broken)
    async with slack_server(department_answers()) as (api, post, _):
        await post(mention(), content_type="application/json")
        await api.wait_for(lambda: api.called("chat.postMessage"))
    (msg,) = api.called("chat.postMessage")
    assert "4 rows" in msg["text"] and not api.called("files.getUploadURLExternal")
