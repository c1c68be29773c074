"""The Discord adapter through discord.py's own Cog, command, DynamicItem and Modal objects.

Only the Interaction (response/followup), the gateway message and the reaction payload are recording stand-ins.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
from types import SimpleNamespace

import discord
from PIL import Image

from askdb.config import DiscordConfig
from bot.core import BUSY_TEXT, BotCore, CoreLimits, Question, Reply
from bot.discord_bot import (MESSAGE_LIMIT, AskCog, AskdbBot, ChartToggleButton, CorrectSqlButton, CorrectSqlModal,
                             ShowSqlButton, WrongAnswerButton, render_reply)
from pipeline.errors import UnsafeSql

from .fakes.answers import FakeAnswers, RecordingFeedback


class FakeInteraction:
    """Records response/followup calls in order; everything else is plain data."""

    def __init__(self, client, *, user_id=42, roles=(), message_id=555, channel=None, interaction_id=1):
        self.client = client
        self.id = interaction_id
        self.channel = channel or FakeChannel(7)
        self.events: list[tuple[str, dict]] = []
        self.user = SimpleNamespace(id=user_id, roles=[SimpleNamespace(name=r) for r in roles],
                                    guild_permissions=SimpleNamespace(administrator=False))
        self.guild_id, self.channel_id = 9, 7
        self.message = SimpleNamespace(id=message_id)
        self.response = SimpleNamespace(defer=self._defer, send_message=self._send_message,
                                        send_modal=self._send_modal, edit_message=self._edit_message,
                                        is_done=lambda: bool(self.events))
        self.followup = SimpleNamespace(send=self._followup)

    async def _defer(self, **kw):
        self.events.append(("defer", kw))

    async def _send_message(self, content=None, **kw):
        self.events.append(("send_message", {"content": content, **kw}))

    async def _edit_message(self, **kw):
        self.events.append(("edit_message", kw))

    async def _send_modal(self, modal):
        self.events.append(("send_modal", {"modal": modal}))

    async def _followup(self, content=None, **kw):
        self.events.append(("followup", {"content": content, **kw}))
        return SimpleNamespace(id=1000 + len(self.events))

    def last(self, kind):
        return [kw for k, kw in self.events if k == kind][-1]


async def make_cog(answer, *, feedback=None, limits=CoreLimits(), **settings):
    cfg = DiscordConfig(**settings)
    core = BotCore(answer=answer, feedback=feedback, limits=limits)
    bot = AskdbBot(core=core, settings=cfg)
    cog = AskCog(bot, core=core, settings=cfg)
    await bot.add_cog(cog)  # runs cog_load: the persistent buttons are registered
    return bot, cog


async def test_ask_defers_first_then_follows_up_with_answer_sql_and_buttons():
    gate = asyncio.Event()
    answers = FakeAnswers(gate=gate)
    bot, cog = await make_cog(answers, feedback=RecordingFeedback())
    inter = FakeInteraction(bot)
    task = asyncio.create_task(cog.ask.callback(cog, inter, question="What are the topics of CE 4229?"))
    await answers.entered.wait()
    assert [k for k, _ in inter.events] == ["defer"] and inter.events[0][1]["thinking"]  # deferred while answering
    gate.set()
    await task
    sent = inter.last("followup")
    assert len(sent["content"]) <= MESSAGE_LIMIT and sent["wait"] is True
    assert "1 rows" in sent["content"] and "```sql\nSELECT week, topic FROM course_topics\n```" in sent["content"]
    assert [c.custom_id for c in sent["view"].children] == ["askdb:wrong:1", "askdb:correct:1"]
    assert sent["view"].timeout is None and sent["view"].is_persistent()
    assert "files" not in sent


async def test_long_table_is_attached_as_csv_and_long_text_fits():
    rows = [(i, f"topic number {i}") for i in range(40)]
    bot, cog = await make_cog(FakeAnswers(rows=rows), feedback=RecordingFeedback())
    inter = FakeInteraction(bot)
    await cog.ask.callback(cog, inter, question="list every topic")
    sent = inter.last("followup")
    (csv_file,) = sent["files"]
    assert csv_file.filename == "result.csv" and "40 rows" in sent["content"]
    lines = list(csv.reader(io.StringIO(csv_file.fp.read().decode())))
    assert lines[0] == ["week", "topic"] and len(lines) == 41


async def test_oversized_answer_and_sql_stay_under_the_limit():
    reply = Reply("x" * 3000, sql="SELECT " + ", ".join(f"c{i}" for i in range(400)) + " FROM t",
                  columns=("a",), rows=((1,), (2,)), interaction_id=3)
    msg = render_reply(reply, show_sql=True)
    assert len(msg.content) <= MESSAGE_LIMIT and msg.content.rstrip().count("…") >= 1
    assert [name for name, _ in msg.files] == ["query.sql", "result.csv"]


async def test_sql_behind_a_button_when_show_sql_is_off():
    bot, cog = await make_cog(FakeAnswers(), feedback=RecordingFeedback(), show_sql=False)
    inter = FakeInteraction(bot)
    await cog.ask.callback(cog, inter, question="topics?")
    sent = inter.last("followup")
    assert "SELECT" not in sent["content"]
    assert [c.custom_id for c in sent["view"].children] == ["askdb:wrong:1", "askdb:sql:1", "askdb:correct:1"]
    click = FakeInteraction(bot)
    await ShowSqlButton(1).callback(click)
    shown = click.last("send_message")
    assert shown["ephemeral"] and "SELECT week, topic FROM course_topics" in shown["content"]


async def test_buttons_survive_a_restart_through_their_custom_ids():
    bot, _ = await make_cog(FakeAnswers())
    registered = set(bot._connection._view_store._dynamic_items.values())
    assert {WrongAnswerButton, ShowSqlButton, CorrectSqlButton} <= registered
    item = WrongAnswerButton(77)
    rebuilt = await WrongAnswerButton.from_custom_id(FakeInteraction(bot), item.item, item.template.match(item.custom_id))
    assert rebuilt.interaction_id == 77 and rebuilt.custom_id == "askdb:wrong:77"


async def test_wrong_answer_button_flags_with_who_and_where():
    feedback = RecordingFeedback()
    bot, _ = await make_cog(FakeAnswers(), feedback=feedback)
    click = FakeInteraction(bot, user_id=31)
    await WrongAnswerButton(5).callback(click)
    assert feedback.flags == [dict(interaction_id=5, who="discord:31", where="discord:9/7/555", comment=None)]
    thanks = click.last("send_message")
    assert thanks["ephemeral"] and "flag #101" in thanks["content"]


async def test_correct_sql_is_admin_only_and_goes_through_the_modal():
    feedback = RecordingFeedback()
    bot, cog = await make_cog(FakeAnswers(), feedback=feedback)
    student = FakeInteraction(bot)
    await CorrectSqlButton(5).callback(student)
    assert "askdb-admin" in student.last("send_message")["content"] and not feedback.flags
    admin = FakeInteraction(bot, user_id=8, roles=("askdb-admin",))
    await CorrectSqlButton(5).callback(admin)
    modal = admin.last("send_modal")["modal"]
    assert isinstance(modal, CorrectSqlModal)
    modal.sql.component._value = "SELECT count(*) FROM courses"  # what Discord fills in on submit
    submit = FakeInteraction(bot, user_id=8, roles=("askdb-admin",))
    await modal.on_submit(submit)
    assert submit.events[0][0] == "defer"
    assert feedback.corrections == [dict(flag_id=101, sql="SELECT count(*) FROM courses", who="discord:8")]
    assert "Saved" in submit.last("followup")["content"]


async def test_refused_correction_is_explained():
    feedback = RecordingFeedback(correct_error=UnsafeSql("only SELECT statements are allowed"))
    bot, cog = await make_cog(FakeAnswers(), feedback=feedback)
    modal = CorrectSqlModal(cog, 5, None)
    modal.sql.component._value = "DROP TABLE courses"
    submit = FakeInteraction(bot, roles=("askdb-admin",))
    await modal.on_submit(submit)
    assert "only SELECT statements are allowed" in submit.last("followup")["content"]


async def test_busy_bot_says_so():
    gate = asyncio.Event()
    bot, cog = await make_cog(FakeAnswers(gate=gate), limits=CoreLimits(max_concurrent=1, max_queue=0))
    first = FakeInteraction(bot)
    running = asyncio.create_task(cog.ask.callback(cog, first, question="slow one"))
    await asyncio.sleep(0)
    while cog.core.active == 0:
        await asyncio.sleep(0)
    second = FakeInteraction(bot, user_id=43)
    await cog.ask.callback(cog, second, question="another")
    assert second.last("followup")["content"] == BUSY_TEXT and "view" not in second.last("followup")
    gate.set()
    await running


class FakeChannel:
    def __init__(self, channel_id, kind=discord.ChannelType.text):
        self.id = channel_id
        self.type = kind
        self.typed = 0

    def typing(self):
        channel = self

        class Typing:
            async def __aenter__(self):
                channel.typed += 1

            async def __aexit__(self, *exc):
                pass
        return Typing()


def mention_message(bot_user, channel, text, author_id=50, message_id=777, reply_to=None, sent_id=9000):
    replies = []

    async def reply(content=None, **kw):
        replies.append({"content": content, **kw})
        return SimpleNamespace(id=sent_id)
    reference = discord.MessageReference(message_id=reply_to, channel_id=channel.id) if reply_to else None
    msg = SimpleNamespace(author=SimpleNamespace(id=author_id, bot=False), channel=channel, id=message_id,
                          content=text, mention_everyone=False, mentions=[bot_user], reply=reply, reference=reference)
    return msg, replies


def standin_bot():
    user = SimpleNamespace(id=1)
    user.mentioned_in = lambda message: user in message.mentions
    return SimpleNamespace(user=user, get_channel=lambda cid: None)


async def test_mentions_in_configured_channels_get_a_reply_with_typing():
    feedback = RecordingFeedback()
    answers = FakeAnswers()
    core = BotCore(answer=answers, feedback=feedback)
    bot = standin_bot()
    cog = AskCog(bot, core=core, settings=DiscordConfig(channels=[7]))
    elsewhere = FakeChannel(8)
    msg, replies = mention_message(bot.user, elsewhere, "<@1> how many courses?")
    await cog.on_message(msg)
    assert replies == [] and answers.started == []
    here = FakeChannel(7)
    msg, replies = mention_message(bot.user, here, "<@1> how many courses?")
    await cog.on_message(msg)
    assert answers.started == ["how many courses?"] and here.typed == 1
    assert len(replies) == 1 and replies[0]["mention_author"] is False and "1 rows" in replies[0]["content"]

    # a 👎 on that reply flags the interaction it answered
    payload = discord.RawReactionActionEvent({"message_id": 9000, "channel_id": 7, "user_id": 60, "guild_id": 9, "type": 0},
                                             discord.PartialEmoji(name="👎"), "REACTION_ADD")
    await cog.on_raw_reaction_add(payload)
    assert feedback.flags == [dict(interaction_id=1, who="discord:60", where="discord:9/7/9000", comment=None)]
    other = discord.RawReactionActionEvent({"message_id": 9000, "channel_id": 7, "user_id": 60, "guild_id": 9, "type": 0},
                                           discord.PartialEmoji(name="👍"), "REACTION_ADD")
    await cog.on_raw_reaction_add(other)
    assert len(feedback.flags) == 1


async def test_intents_follow_the_mentions_setting():
    core = BotCore(answer=FakeAnswers())
    assert AskdbBot(core=core, settings=DiscordConfig()).intents.message_content
    quiet = AskdbBot(core=core, settings=DiscordConfig(mentions=False))
    assert not quiet.intents.message_content and quiet.intents.guild_reactions


async def test_negative_spooled_interaction_ids_still_make_buttons():
    reply = Reply("ok", sql="SELECT 1", interaction_id=-4503599627370495)
    view = render_reply(reply, show_sql=True).view
    assert view.children[0].custom_id == "askdb:wrong:-4503599627370495"


def test_serve_discord_without_a_token_exits_cleanly(monkeypatch, capsys):
    from askdb.cli import main

    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert main(["serve", "discord", "--database", "postgresql://nobody@127.0.0.1:1/none"]) == 1
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN" in err and "discord.token_env" in err and "Traceback" not in err


async def test_thumbs_down_after_a_restart_reads_the_id_from_the_message_button():
    from discord.components import ActionRow

    feedback = RecordingFeedback()
    bot = standin_bot()
    row = ActionRow({"type": 1, "components": [
        {"type": 2, "style": 2, "custom_id": "askdb:wrong:12", "label": "Wrong answer"}]})
    old_message = SimpleNamespace(author=bot.user, components=[row])

    async def fetch_message(message_id):
        assert message_id == 4242
        return old_message
    bot.get_channel = lambda cid: SimpleNamespace(fetch_message=fetch_message)
    cog = AskCog(bot, core=BotCore(answer=FakeAnswers(), feedback=feedback), settings=DiscordConfig())
    payload = discord.RawReactionActionEvent({"message_id": 4242, "channel_id": 7, "user_id": 60, "guild_id": 9,
                                              "type": 0}, discord.PartialEmoji(name="👎"), "REACTION_ADD")
    await cog.on_raw_reaction_add(payload)
    assert feedback.flags == [dict(interaction_id=12, who="discord:60", where="discord:9/7/4242", comment=None)]


DEPARTMENT_ROWS = (("Mathematics", 305), ("Computer Science", 294), ("Computer Engineering", 239), ("Physics", 202))


def department_answers():
    return FakeAnswers(rows=DEPARTMENT_ROWS, columns=("department", "students"),
                       sql="SELECT d.name AS department, count(*) AS students FROM ...")


def png_of(file: discord.File) -> Image.Image:
    file.fp.seek(0)
    image = Image.open(io.BytesIO(file.fp.read()))
    image.load()
    return image


async def test_a_chart_is_attached_to_the_follow_up_with_a_table_toggle():
    bot, cog = await make_cog(department_answers(), feedback=RecordingFeedback())
    inter = FakeInteraction(bot)
    await cog.ask.callback(cog, inter, question="How many students per department?")
    sent = inter.last("followup")
    (chart,) = sent["files"]
    assert chart.filename == "chart.png" and png_of(chart).format == "PNG"
    assert "305" not in sent["content"]  # the rows are in the picture, not also as a table
    toggle = sent["view"].children[0]
    assert toggle.custom_id.startswith("askdb:view:table:") and toggle.item.label == "Show table"
    assert [c.custom_id for c in sent["view"].children[1:]] == ["askdb:wrong:1", "askdb:correct:1"]
    assert sent["view"].is_persistent()
    assert ChartToggleButton in set(bot._connection._view_store._dynamic_items.values())

    # what discord.py's Webhook.send (the follow-up) turns these keyword arguments into: a multipart upload
    kwargs = {k: v for k, v in sent.items() if k not in ("wait",)}
    for f in kwargs["files"]:
        f.reset()
    with discord.http.handle_message_parameters(**kwargs) as params:
        payload = json.loads(params.multipart[0]["value"])
        assert payload["attachments"] == [{"id": 0, "filename": "chart.png"}]
        assert payload["components"][0]["components"][0]["custom_id"] == toggle.custom_id
        (part,) = [p for p in params.multipart if p["name"] == "files[0]"]
        assert part["filename"] == "chart.png" and part["value"].read(8) == b"\x89PNG\r\n\x1a\n"


async def test_the_toggle_switches_the_message_between_chart_and_table():
    bot, cog = await make_cog(department_answers())  # no feedback: the toggle alone makes the view
    inter = FakeInteraction(bot)
    await cog.ask.callback(cog, inter, question="How many students per department?")
    (toggle,) = inter.last("followup")["view"].children
    rebuilt = await ChartToggleButton.from_custom_id(inter, toggle.item, toggle.template.match(toggle.custom_id))

    click = FakeInteraction(bot)
    await rebuilt.callback(click)
    shown = click.last("edit_message")
    assert shown["attachments"] == [] and "```\ndepartment" in shown["content"]
    assert [line.split() for line in shown["content"].splitlines() if "Engineering" in line] == [
        ["Computer", "Engineering", "239"]]
    (back,) = shown["view"].children
    assert back.custom_id == toggle.custom_id.replace(":table:", ":chart:") and back.item.label == "Show chart"

    click = FakeInteraction(bot)
    await back.callback(click)
    again = click.last("edit_message")
    assert [f.filename for f in again["attachments"]] == ["chart.png"] and png_of(again["attachments"][0])
    assert "Computer Engineering" not in again["content"]
    assert again["view"].children[0].custom_id == toggle.custom_id


async def test_a_toggle_for_a_forgotten_chart_says_so():
    bot, _ = await make_cog(department_answers())
    click = FakeInteraction(bot)
    await ChartToggleButton("table", "0badc0de").callback(click)
    told = click.last("send_message")
    assert told["ephemeral"] and "too old" in told["content"]
    assert [k for k, _ in click.events] == ["send_message"]


async def test_a_chart_that_fails_to_draw_still_sends_the_text(monkeypatch):
    def broken(plan, *, title):
        raise RuntimeError("Agg ran out of memory")

    monkeypatch.setattr("bot.charts.draw_chart", broken)
    bot, cog = await make_cog(department_answers(), feedback=RecordingFeedback())
    inter = FakeInteraction(bot)
    await cog.ask.callback(cog, inter, question="How many students per department?")
    sent = inter.last("followup")
    assert "4 rows" in sent["content"] and "files" not in sent
    assert [c.custom_id for c in sent["view"].children] == ["askdb:wrong:1", "askdb:correct:1"]


async def test_a_refused_attachment_falls_back_to_the_text():
    bot, cog = await make_cog(department_answers())
    sent = []

    async def send(**kw):
        if "files" in kw:
            raise discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"), "Missing Permissions")
        sent.append(kw)
        return SimpleNamespace(id=1)

    reply = await cog.core.ask(Question("How many students per department?", user="1", channel="7",
                                        platform="discord"))
    await cog.send_reply(send, reply)
    assert len(sent) == 1 and "4 rows" in sent[0]["content"]


async def test_a_mention_gets_the_chart_too():
    core = BotCore(answer=department_answers())
    bot = standin_bot()
    cog = AskCog(bot, core=core, settings=DiscordConfig())
    msg, replies = mention_message(bot.user, FakeChannel(7), "<@1> students per department?")
    await cog.on_message(msg)
    (reply,) = replies
    assert [f.filename for f in reply["files"]] == ["chart.png"] and reply["mention_author"] is False
