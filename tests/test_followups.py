"""Follow-up questions: a thread's, reply chain's or private chat's last turns reach the real pipeline with the next
question (Discord through discord.py's Cog, Slack through bolt's app and its HTTP server, the terminal chat), never
another thread's or user's, and expire; the prompt, the mend rules and the generator read them."""
from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import random

import discord

from askdb.config import DiscordConfig
from bot.core import BotCore, Conversations
from bot.discord_bot import AskCog
from bot.terminal import run_terminal_chat
from finetune.dataset import read_pairs, sql_messages
from finetune.generator.followups import followup_candidates
from finetune.generator.values import sample_values
from finetune.generator.verify import verify_many
from pipeline.database import open_pool
from pipeline.executor import ExecLimits
from pipeline.guard import GuardPolicy
from pipeline.linking import load_linker
from pipeline.pipeline import Pipeline, PipelineSettings
from pipeline.prompt import Example, build_sql_prompt
from pipeline.retrieval import ExampleStore
from pipeline.schema import introspect_schema

from .fakes.answers import FakeAnswers
from .fakes_models import ScriptedModel
from .test_discord import FakeChannel, FakeInteraction, mention_message, standin_bot
from .test_slack import slack_server

FALL = ("SELECT count(*) FROM sections s JOIN courses c ON c.id = s.course_id JOIN terms t ON t.id = s.term_id "
        "WHERE c.code = 'CS 1010' AND t.name = 'Fall 2026'")
TODAY = dt.date(2026, 11, 24)


async def _pipeline(pool, model, *, linked=False):
    schema = await introspect_schema(pool)
    p = Pipeline(sql_model=model, pool=pool, schema=schema, policy=GuardPolicy.from_schema(schema),
                 settings=PipelineSettings(answer_with_model=False), clock=lambda: TODAY)
    if linked:
        p.store = ExampleStore([], linker=await load_linker(pool, p.schema))
    return p


def _user_text(prompt) -> str:
    return prompt[-1].content


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_follow_up_in_a_discord_thread_reaches_the_pipeline_with_the_previous_turn(query_db_url):
    model = ScriptedModel(FALL)
    async with open_pool(query_db_url) as pool:
        core = BotCore(answer=(await _pipeline(pool, model)).answer)
        bot = standin_bot()
        cog = AskCog(bot, core=core, settings=DiscordConfig())
        thread = FakeChannel(70, discord.ChannelType.public_thread)
        msg, replies = mention_message(bot.user, thread, "<@1> How many sections does CS 1010 have this semester?")
        await cog.on_message(msg)
        # another user, same thread: a thread is one conversation whoever asks
        msg, _ = mention_message(bot.user, thread, "<@1> and in spring 2026?", author_id=51, message_id=778)
        await cog.on_message(msg)
        # a different thread starts afresh
        msg, _ = mention_message(bot.user, FakeChannel(71, discord.ChannelType.public_thread), "<@1> and in fall 2025?",
                                 message_id=779)
        await cog.on_message(msg)
    first, follow, elsewhere = (_user_text(p) for p in model.prompts)
    assert "Previous question" not in first and replies and "3" in replies[0]["content"]
    assert "Previous question: How many sections does CS 1010 have this semester?\nPrevious SQL: SELECT" in follow
    ran = follow.split("Previous SQL: ")[1].split("\n")[0]  # the statement that ran, as the guard rendered it
    assert "'CS 1010'" in ran and "'Fall 2026'" in ran
    assert follow.index("Previous SQL") < follow.index("Question: and in spring 2026?")
    assert "Previous question" not in elsewhere


async def test_a_discord_reply_chain_continues_and_dms_are_kept_per_user():
    answers = FakeAnswers()
    core = BotCore(answer=answers)
    bot = standin_bot()
    cog = AskCog(bot, core=core, settings=DiscordConfig())
    channel = FakeChannel(7)
    msg, _ = mention_message(bot.user, channel, "<@1> list the CS courses", message_id=800, sent_id=9100)
    await cog.on_message(msg)
    msg, _ = mention_message(bot.user, channel, "<@1> only the graduate ones", message_id=801, reply_to=9100)
    await cog.on_message(msg)
    msg, _ = mention_message(bot.user, channel, "<@1> a new question", message_id=802)  # not a reply: no context
    await cog.on_message(msg)
    assert [len(p) for p in answers.previous] == [0, 1, 0]
    assert answers.previous[1][0] == Example("list the CS courses", answers.sql)

    # private chats: each user's own, through /ask as well as mentions
    dm_a, dm_b = FakeChannel(300, discord.ChannelType.private), FakeChannel(301, discord.ChannelType.private)
    await cog.ask.callback(cog, FakeInteraction(bot, user_id=42, channel=dm_a, interaction_id=5), question="q1")
    await cog.ask.callback(cog, FakeInteraction(bot, user_id=43, channel=dm_b, interaction_id=6), question="q2")
    await cog.ask.callback(cog, FakeInteraction(bot, user_id=42, channel=dm_a, interaction_id=7), question="q3")
    assert answers.previous[3:] == [(), (), (Example("q1", answers.sql),)]


async def test_slack_thread_follow_ups_stay_in_their_thread():
    def mention(text, ts, thread_ts=None, channel="C1", user="U1"):
        event = {"type": "app_mention", "user": user, "text": f"<@UBOT> {text}", "ts": ts, "channel": channel,
                 "event_ts": ts, **({"thread_ts": thread_ts} if thread_ts else {})}
        return json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                           "event_id": f"Ev{ts}", "event_time": 1700000000, "event": event,
                           "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]})

    answers = FakeAnswers()
    async with slack_server(answers) as (api, post, _):
        for body in (mention("how many CS courses?", "1700.1"),
                     mention("only the graduate ones", "1700.2", thread_ts="1700.1", user="U2"),
                     mention("sort them by code", "1700.5", thread_ts="1700.4"),  # another thread
                     mention("and in EE?", "1700.3", channel="C2", thread_ts="1700.1")):  # same ts, other channel
            await post(body, content_type="application/json")
            await api.wait_for(lambda n=len(answers.started): len(api.called("chat.postMessage")) == n)
    assert answers.started == ["how many CS courses?", "only the graduate ones", "sort them by code", "and in EE?"]
    assert [len(p) for p in answers.previous] == [0, 1, 0, 0]
    assert answers.previous[1][0].question == "how many CS courses?"
    assert api.called("chat.postMessage")[1]["thread_ts"] == "1700.1"


async def test_turns_expire_keep_the_last_few_and_skip_failed_answers():
    clock = Clock()
    memory = Conversations(turns=2, ttl_s=60, clock=clock)
    memory.add("t", Example("a", "SELECT 1"))
    memory.add("t", Example("b", "SELECT 2"))
    memory.add("t", Example("c", "SELECT 3"))
    assert [e.question for e in memory.recent("t")] == ["b", "c"] and memory.recent("other") == ()
    clock.now += 59
    assert len(memory.recent("t")) == 2
    clock.now += 1
    assert memory.recent("t") == ()

    answers = FakeAnswers()
    core = BotCore(answer=answers, conversations=Conversations(ttl_s=1800, clock=clock))
    bot = standin_bot()
    cog = AskCog(bot, core=core, settings=DiscordConfig())
    thread = FakeChannel(72, discord.ChannelType.public_thread)
    for i, wait in enumerate((0, 1799, 1800)):
        clock.now += wait
        msg, _ = mention_message(bot.user, thread, f"<@1> question {i}", message_id=900 + i)
        await cog.on_message(msg)
    assert [len(p) for p in answers.previous] == [0, 1, 0]  # 30 minutes of silence forget the thread


async def test_the_terminal_chat_follows_up_until_new(query_db_url):
    model = ScriptedModel(FALL)
    out = io.StringIO()
    lines = io.StringIO("How many sections does CS 1010 have this semester?\nand in spring 2026?\n/new\n"
                        "and in fall 2025?\nquit\n")
    async with open_pool(query_db_url) as pool:
        await run_terminal_chat(await _pipeline(pool, model), stdin=lines, stdout=out)
    prompts = [_user_text(p) for p in model.prompts]
    assert len(prompts) == 3 and "New conversation" in out.getvalue()
    assert "Previous question: How many sections does CS 1010 have this semester?" in prompts[1]
    assert "Previous question" not in prompts[0] and "Previous question" not in prompts[2]


async def test_a_follow_up_is_mended_with_its_conversation(query_db_url):
    # The model copies the previous statement; the follow-up's term replaces the one before, the course stays.
    async with open_pool(query_db_url) as pool:
        p = await _pipeline(pool, ScriptedModel(FALL), linked=True)
        follow = await p.answer("and in spring 2026?", previous=[Example(
            "How many sections does CS 1010 have this semester?", FALL)])
        spring = await pool.fetchval(FALL.replace("Fall 2026", "Spring 2026"))
    assert "'Spring 2026'" in follow.sql and "'CS 1010'" in follow.sql, follow.sql
    assert follow.rows == ((spring,),) and [c.rule for c in follow.mends] == ["ground_values"]


async def test_the_prompt_shows_the_previous_turn_and_its_tables(query_db_url):
    async with open_pool(query_db_url) as pool:
        schema = await introspect_schema(pool)
    prev = Example("Which students were admitted in 2025?", "SELECT first_name FROM students WHERE admit_year = 2025")
    text = build_sql_prompt("only the CS majors", schema, today=TODAY, budget_tokens=120, previous=[prev])[-1].content
    assert "students(" in text and text.endswith("Previous SQL: " + prev.sql + "\nQuestion: only the CS majors")
    bare = build_sql_prompt("only the CS majors", schema, today=TODAY, budget_tokens=120)[-1].content
    assert "Previous" not in bare


async def test_generated_follow_ups_run_and_train_with_their_previous_turn(query_db_url, tmp_path):
    base = [("Which Computer Science courses are there?", "SELECT c.code, c.title FROM courses c JOIN departments d "
             "ON d.id = c.department_id WHERE d.name = 'Computer Science' ORDER BY c.code"),
            ("Which instructors are lecturers?", "SELECT first_name, last_name, title FROM instructors "
             "WHERE title = 'Lecturer'")]
    async with open_pool(query_db_url) as pool:
        schema = await introspect_schema(pool)
        bank = await sample_values(pool, schema, denied=frozenset(), today=TODAY, limit=200, concurrency=2)
        made = [(q, s, *c) for q, s in base for c in followup_candidates(q, s, bank, random.Random(1))]
        verdicts = await verify_many(pool, [m[4] for m in made], GuardPolicy.from_schema(schema),
                                     ExecLimits(5000, 50, 20_000))
    kinds = {(q, kind) for q, _, kind, _, _ in made}
    assert {(base[0][0], "filter"), (base[0][0], "limit"), (base[0][0], "sort"), (base[1][0], "sort")} <= kinds
    assert all(v.ok for v in verdicts), verdicts
    for q, sql, kind, text, new in made:
        assert new != sql and text
        if kind == "filter":
            assert "'Computer Science'" not in new if q == base[0][0] else "'Lecturer'" not in new
        if kind == "limit":
            assert "LIMIT" in new
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"question": t, "sql": n, "previous": {"question": q, "sql": s}}) + "\n"
                            for q, s, _, t, n in made))
    pairs = read_pairs(path)
    assert pairs[0].previous == (Example(made[0][0], made[0][1]),)
    text = sql_messages(pairs[0].question, schema, today=TODAY, budget_tokens=700, previous=pairs[0].previous)[-1]
    assert f"Previous question: {made[0][0]}" in text.content
    assert ExampleStore.read_jsonl([path]) == []  # a follow-up is never shown as an example on its own
