"""Discord adapter (discord.py 2.x): /ask, @mentions, charts with a Table/Chart toggle, persistent feedback buttons,
👎 reactions, admin corrections.

Discord events become `Question`s and `Reply`s become messages under 2,000 characters; answering is `BotCore`'s.
"""
from __future__ import annotations

import asyncio
import functools
import io
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from pipeline.errors import ConfigError

from .charts import Chart, chart_for
from .core import PREVIEW_ROWS, BotCore, Question, Reply

log = logging.getLogger("askdb.bot.discord")

MESSAGE_LIMIT = 2000
THUMBS_DOWN = "👎"
THREADS = (discord.ChannelType.public_thread, discord.ChannelType.private_thread, discord.ChannelType.news_thread)
WRONG_ID = re.compile(r"askdb:wrong:(?P<iid>-?[0-9]+)")


@dataclass(frozen=True)
class DiscordMessage:
    content: str
    files: tuple[tuple[str, bytes], ...] = ()
    view: discord.ui.View | None = None

    def kwargs(self) -> dict:
        """Keyword arguments for send()/reply(); Files are made fresh because sending consumes them."""
        out: dict[str, Any] = {"content": self.content}
        if self.files:
            out["files"] = self._files()
        if self.view is not None:
            out["view"] = self.view
        return out

    def edit_kwargs(self) -> dict:
        """Keyword arguments for edit_message(): the attachments replace the message's old ones."""
        return {"content": self.content, "attachments": self._files(), "view": self.view}

    def _files(self) -> list[discord.File]:
        return [discord.File(io.BytesIO(data), filename=name) for name, data in self.files]


def render_reply(reply: Reply, *, show_sql: bool, chart: Chart | None = None, showing: str = "chart",
                 key: str | None = None) -> DiscordMessage:
    """A Reply as one Discord message: its chart attached (or, `showing="table"`, the rows as a table instead);
    long tables and long SQL move into attachments to stay under 2,000 chars. `key` names the chart's toggle."""
    files: list[tuple[str, bytes]] = []
    notes: list[str] = []
    if chart is not None and showing == "chart":
        files.append((chart.filename, chart.png))
    table = f"```\n{reply.preview_table()}\n```" if chart is not None and showing == "table" else ""
    sql_block = f"```sql\n{reply.sql}\n```" if show_sql and reply.sql else ""
    if reply.ok and len(reply.rows) > PREVIEW_ROWS:
        files.append(("result.csv", reply.csv_bytes()))
        notes.append(f"All {len(reply.rows)} rows are attached as result.csv.")
    if table and len(_join(reply.text, table, sql_block, *notes)) > MESSAGE_LIMIT:
        table = ""  # the rows are in result.csv (a table too wide to fit has more than PREVIEW_ROWS rows or long cells)
    if sql_block and len(_join(reply.text, table, sql_block, *notes)) > MESSAGE_LIMIT:
        files.append(("query.sql", reply.sql.encode()))
        notes.append("The SQL is attached as query.sql.")
        sql_block = ""
    text = reply.text
    room = MESSAGE_LIMIT - len(_join("", table, sql_block, *notes)) - 2
    if len(text) > room:
        if reply.rows and not any(name == "result.csv" for name, _ in files):
            files.append(("result.csv", reply.csv_bytes()))
            notes.append("The rows are attached as result.csv.")
            room = MESSAGE_LIMIT - len(_join("", table, sql_block, *notes)) - 2
        text = text[: room - 1] + "…"
    toggle = (showing, key) if chart is not None and key is not None else None
    return DiscordMessage(_join(text, table, sql_block, *notes), tuple(files),
                          answer_view(reply, show_sql=show_sql, toggle=toggle))


def answer_view(reply: Reply, *, show_sql: bool, toggle: tuple[str, str] | None = None) -> discord.ui.View | None:
    """The Table/Chart toggle (`toggle` is what shows now and the chart's key) and feedback buttons; their
    custom_ids carry what they act on, so they keep working after a restart."""
    items: list[discord.ui.Item] = []
    if toggle is not None:
        showing, key = toggle
        items.append(ChartToggleButton("table" if showing == "chart" else "chart", key))
    if reply.ok and reply.interaction_id is not None:
        items.append(WrongAnswerButton(reply.interaction_id))
        if reply.sql and not show_sql:
            items.append(ShowSqlButton(reply.interaction_id))
        items.append(CorrectSqlButton(reply.interaction_id))
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


class ChartToggleButton(discord.ui.DynamicItem[discord.ui.Button],
                        template=r"askdb:view:(?P<to>table|chart):(?P<key>[0-9a-f]+)"):
    """Switches an answer between its chart and its rows as a table, for everyone who sees the message."""

    def __init__(self, to: str, key: str):
        super().__init__(discord.ui.Button(label="Show table" if to == "table" else "Show chart",
                                           emoji="🔢" if to == "table" else "📊", style=discord.ButtonStyle.primary,
                                           custom_id=f"askdb:view:{to}:{key}"))
        self.to = to
        self.key = key

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(match["to"], match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        held = cog.chart_held(self.key)
        if held is None:
            await interaction.response.send_message("That answer is too old to switch; ask again to see it.",
                                                    ephemeral=True)
            return
        reply, chart = held
        msg = render_reply(reply, show_sql=cog.settings.show_sql, chart=chart, showing=self.to, key=self.key)
        await interaction.response.edit_message(**msg.edit_kwargs())


class WrongAnswerButton(discord.ui.DynamicItem[discord.ui.Button], template=WRONG_ID.pattern):
    def __init__(self, interaction_id: int):
        super().__init__(discord.ui.Button(label="Wrong answer", emoji=THUMBS_DOWN, style=discord.ButtonStyle.secondary,
                                           custom_id=f"askdb:wrong:{interaction_id}"))
        self.interaction_id = interaction_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["iid"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        result = await cog.core.flag(self.interaction_id, who=_who(interaction.user.id),
                                     where=_where(interaction.guild_id, interaction.channel_id, _message_id(interaction)))
        await interaction.response.send_message(result.text, ephemeral=True)


class ShowSqlButton(discord.ui.DynamicItem[discord.ui.Button], template=r"askdb:sql:(?P<iid>-?[0-9]+)"):
    def __init__(self, interaction_id: int):
        super().__init__(discord.ui.Button(label="Show SQL", style=discord.ButtonStyle.secondary,
                                           custom_id=f"askdb:sql:{interaction_id}"))
        self.interaction_id = interaction_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["iid"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        sql = _cog(interaction).sql_for(self.interaction_id)
        text = f"```sql\n{sql[:MESSAGE_LIMIT - 20]}\n```" if sql else "That answer is too old; its SQL is no longer at hand."
        await interaction.response.send_message(text, ephemeral=True)


class CorrectSqlButton(discord.ui.DynamicItem[discord.ui.Button], template=r"askdb:correct:(?P<iid>-?[0-9]+)"):
    def __init__(self, interaction_id: int):
        super().__init__(discord.ui.Button(label="Correct SQL", style=discord.ButtonStyle.secondary,
                                           custom_id=f"askdb:correct:{interaction_id}"))
        self.interaction_id = interaction_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["iid"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        if not cog.is_admin(interaction.user):
            await interaction.response.send_message(
                f"Only members with the {cog.settings.admin_role} role can correct answers; "
                "use Wrong answer to flag it.", ephemeral=True)
            return
        await interaction.response.send_modal(CorrectSqlModal(cog, self.interaction_id, cog.sql_for(self.interaction_id)))


class CorrectSqlModal(discord.ui.Modal, title="Correct the SQL"):
    sql = discord.ui.Label(text="The SQL that answers the question",
                           component=discord.ui.TextInput(style=discord.TextStyle.paragraph, max_length=4000))

    def __init__(self, cog: "AskCog", interaction_id: int, current_sql: str | None):
        super().__init__(timeout=600)
        self.cog = cog
        self.interaction_id = interaction_id
        if current_sql:
            self.sql.component.default = current_sql

    async def on_submit(self, interaction: discord.Interaction) -> None:
        # verification runs a query: think first so Discord's 3 s limit is not at stake
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.cog.core.correct(
            self.interaction_id, sql=self.sql.component.value.strip(), who=_who(interaction.user.id),
            where=_where(interaction.guild_id, interaction.channel_id, _message_id(interaction)))
        await interaction.followup.send(result.text, ephemeral=True)


class AskCog(commands.Cog):
    """/ask and @mentions through BotCore; remembers recent answers for 👎 reactions, Show SQL and the chart toggle."""

    def __init__(self, bot: commands.Bot, *, core: BotCore, settings: Any, memory: int = 2000,
                 chart_memory: int = 200):
        self.bot = bot
        self.core = core
        self.settings = settings
        self.memory = memory
        self.chart_memory = chart_memory  # PNGs are tens of kB each: fewer of them are kept
        self._by_message: dict[int, int] = {}
        self._sql: dict[int, str] = {}
        self._conversation_of: dict[int, str] = {}  # an answer's message -> its conversation, for replies to it
        self._charts: dict[str, tuple[Reply, Chart]] = {}

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(WrongAnswerButton, ShowSqlButton, CorrectSqlButton, ChartToggleButton)

    @app_commands.command(name="ask", description="Ask a question about the database")
    @app_commands.describe(question="Your question about the database, in plain words")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)  # first: Discord allows 3 s, answers take longer
        conversation = self.conversation_for(interaction.channel, user_id=interaction.user.id,
                                             started_by=f"ask:{interaction.id}")
        q = Question(question, user=str(interaction.user.id), channel=str(interaction.channel_id), platform="discord",
                     conversation=conversation)

        async def deliver(reply: Reply):
            await self.send_reply(functools.partial(interaction.followup.send, wait=True), reply,
                                  conversation=conversation)

        await self.core.handle(q, deliver)

    async def cog_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError):
        log.error("slash command failed: %s", type(getattr(error, "original", error)).__name__, exc_info=error)
        text = "Sorry, something went wrong while answering. The error has been logged."
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not self._wants(message):
            return
        text = " ".join(re.sub(rf"<@!?{self.bot.user.id}>", " ", message.content).split())
        if not text:
            await message.reply("Ask me a question about the database in plain words: `/ask <your question>`, or "
                                "mention me with it.", mention_author=False)
            return
        reference = message.reference
        conversation = self.conversation_for(message.channel, user_id=message.author.id,
                                             started_by=f"message:{message.id}",
                                             reply_to=reference.message_id if reference is not None else None)
        q = Question(text, user=str(message.author.id), channel=str(message.channel.id), platform="discord",
                     thread=str(message.id), conversation=conversation)

        async def deliver(reply: Reply):
            await self.send_reply(functools.partial(message.reply, mention_author=False), reply,
                                  conversation=conversation)

        async with message.channel.typing():
            await self.core.handle(q, deliver)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != THUMBS_DOWN or payload.user_id == self.bot.user.id:
            return
        iid = self._by_message.get(payload.message_id)
        if iid is None:
            iid = await self._interaction_from_message(payload.channel_id, payload.message_id)
        if iid is None:
            return
        await self.core.flag(iid, who=_who(payload.user_id),
                             where=_where(payload.guild_id, payload.channel_id, payload.message_id))

    def conversation_for(self, channel, *, user_id: int, started_by: str, reply_to: int | None = None) -> str:
        """The conversation a question continues: a private chat's (keyed by its user), a thread's, the reply chain
        of the answer it replies to, or else a new one, `started_by` the question."""
        if channel is not None and channel.type == discord.ChannelType.private:
            return f"discord:dm:{user_id}"
        if channel is not None and channel.type in THREADS:
            return f"discord:thread:{channel.id}"
        return self._conversation_of.get(reply_to) or f"discord:{started_by}"

    async def send_reply(self, send: Callable[..., Awaitable[discord.Message]], reply: Reply, *,
                         conversation: str | None = None) -> None:
        """Send a reply with its chart when one fits; a chart that cannot be drawn or sent never costs the text.
        A reply to the message sent continues `conversation`."""
        chart = await chart_for(reply)
        key = self._keep_chart(reply, chart) if chart is not None else None
        try:
            sent = await send(**render_reply(reply, show_sql=self.settings.show_sql, chart=chart, key=key).kwargs())
        except discord.HTTPException as exc:
            if chart is None:
                raise
            log.warning("the chart was refused (%s %s); sending the answer without it", exc.status, exc.text)
            sent = await send(**render_reply(reply, show_sql=self.settings.show_sql).kwargs())
        self.remember(sent.id, reply)
        if conversation is not None:
            self._conversation_of[sent.id] = conversation
            while len(self._conversation_of) > self.memory:
                self._conversation_of.pop(next(iter(self._conversation_of)))

    def chart_held(self, key: str) -> tuple[Reply, Chart] | None:
        return self._charts.get(key)

    def _keep_chart(self, reply: Reply, chart: Chart) -> str:
        key = secrets.token_hex(4)
        self._charts[key] = (reply, chart)
        while len(self._charts) > self.chart_memory:
            self._charts.pop(next(iter(self._charts)))
        return key

    def remember(self, message_id: int, reply: Reply) -> None:
        """Keep the message -> interaction link (for 👎) and the SQL (for Show SQL) of recent answers."""
        if reply.interaction_id is None:
            return
        self._by_message[message_id] = reply.interaction_id
        if reply.sql:
            self._sql[reply.interaction_id] = reply.sql
        for d in (self._by_message, self._sql):
            while len(d) > self.memory:
                d.pop(next(iter(d)))

    def sql_for(self, interaction_id: int) -> str | None:
        return self._sql.get(interaction_id)

    def is_admin(self, user: discord.abc.User) -> bool:
        roles = getattr(user, "roles", ())
        perms = getattr(user, "guild_permissions", None)
        return any(r.name == self.settings.admin_role for r in roles) or bool(perms and perms.administrator)

    def _wants(self, message: discord.Message) -> bool:
        if not self.settings.mentions or message.author.bot or self.bot.user is None:
            return False
        if not self.bot.user.mentioned_in(message) or message.mention_everyone:
            return False
        return not self.settings.channels or message.channel.id in self.settings.channels

    async def _interaction_from_message(self, channel_id: int, message_id: int) -> int | None:
        # after a restart the link is gone from memory; the message's own button still carries it
        channel = self.bot.get_channel(channel_id)
        if channel is None or not hasattr(channel, "fetch_message"):
            return None
        try:
            message = await channel.fetch_message(message_id)
        except discord.HTTPException:
            return None
        if message.author != self.bot.user:
            return None
        for row in message.components:
            for child in getattr(row, "children", ()):
                m = WRONG_ID.fullmatch(getattr(child, "custom_id", None) or "")
                if m:
                    return int(m["iid"])
        return None


class AskdbBot(commands.Bot):
    """The Discord client: adds AskCog and syncs /ask to the configured guild (instant) or globally."""

    def __init__(self, *, core: BotCore, settings: Any):
        intents = discord.Intents.default()
        # mentions need message text; Discord calls this a privileged intent (enable it in the Developer Portal)
        intents.message_content = bool(settings.mentions)
        super().__init__(command_prefix=[], intents=intents, help_command=None)
        self.core = core
        self.settings = settings

    async def setup_hook(self) -> None:
        await self.add_cog(AskCog(self, core=self.core, settings=self.settings))
        if self.settings.guild_id:
            guild = discord.Object(id=self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        pass  # no prefix commands: AskCog's listener handles mentions


async def run_discord(bot: AskdbBot, *, token: str, token_env: str, stop: asyncio.Event,
                      drain: Callable[[], Awaitable[None]]) -> None:
    """Log in and serve until `stop` is set; then drain() in-flight answers while still connected, and close."""
    async with bot:
        runner = asyncio.create_task(bot.start(token))
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                _raise_start_failure(runner, token_env)
                return
            await drain()
        finally:
            waiter.cancel()
            await bot.close()
            await asyncio.gather(runner, return_exceptions=True)


def _raise_start_failure(runner: asyncio.Task, token_env: str) -> None:
    try:
        runner.result()
    except discord.LoginFailure as exc:
        raise ConfigError(token_env, "Discord rejected this bot token") from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise ConfigError("discord.mentions", "answering mentions needs the Message Content intent: enable it "
                          "under Bot > Privileged Gateway Intents, or set discord.mentions: false") from exc
    except discord.Forbidden as exc:
        raise ConfigError("discord.guild_id", "Discord refused to register /ask; invite the bot with the "
                          "bot and applications.commands scopes (and check guild_id)") from exc


def _cog(interaction: discord.Interaction) -> AskCog:
    return interaction.client.get_cog("AskCog")


def _who(user_id: int) -> str:
    return f"discord:{user_id}"


def _where(guild_id: int | None, channel_id: int | None, message_id: int | None) -> str:
    return f"discord:{guild_id or 'dm'}/{channel_id}/{message_id}"


def _message_id(interaction: discord.Interaction) -> int | None:
    return interaction.message.id if interaction.message is not None else None


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)
