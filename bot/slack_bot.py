"""Slack adapter (slack-bolt AsyncApp): /ask, @mentions, Block Kit answers, charts uploaded into the thread with a
Table/Chart toggle, and a "Wrong answer" modal.

Slack events become `Question`s and `Reply`s become Block Kit; the answering itself is `BotCore`'s.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from typing import Any, Awaitable, Callable

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from pipeline.errors import ConfigError

from .charts import Chart, chart_for
from .core import BotCore, Question, Reply

log = logging.getLogger("askdb.bot.slack")

WRONG_ACTION = "askdb_wrong"
VIEW_ACTION = "askdb_view"
FLAG_VIEW = "askdb_flag"
# No example question: askdb serves whatever database it is given, and a course example misleads a shop's staff.
USAGE = "Ask me a question about the database in plain words: `/ask <your question>`, or mention me with it."
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def reply_blocks(reply: Reply, *, chart_key: str | None = None, chart_file: str | None = None,
                 chart_alt: str = "A chart of the rows") -> list[dict]:
    """Block Kit for a Reply: the answer, the SQL as a code span, a rows preview (or, given `chart_file`, the
    uploaded chart in its place), a Table/Chart toggle when `chart_key` names a chart, and a Wrong answer button."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": _clip(_escape(reply.text), 2900)}}]
    if reply.sql:
        sql = _clip(" ".join(reply.sql.split()).replace("`", "'"), 1900)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"SQL: `{_escape(sql)}`"}]})
    if chart_file is not None:
        blocks.append({"type": "image", "slack_file": {"id": chart_file}, "alt_text": _clip(chart_alt, 2000),
                       "title": {"type": "plain_text", "text": _clip(reply.question or "Chart", 2000)}})
    elif reply.ok and len(reply.rows) > 1:
        table = _clip(reply.preview_table(), 2880)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{_escape(table)}```"}})
    buttons = []
    if chart_key is not None:
        to = "table" if chart_file is not None else "chart"
        buttons.append({"type": "button", "action_id": VIEW_ACTION, "value": f"{to}:{chart_key}",
                        "text": {"type": "plain_text", "text": f"Show {to}"}})
    if reply.ok and reply.interaction_id is not None:
        buttons.append({"type": "button", "action_id": WRONG_ACTION, "value": str(reply.interaction_id),
                        "text": {"type": "plain_text", "text": "Wrong answer"}})
    if buttons:
        blocks.append({"type": "actions", "block_id": "askdb_feedback", "elements": buttons})
    return blocks


def flag_modal(interaction_id: int, *, channel: str, response_url: str | None, admin: bool) -> dict:
    """The modal a "Wrong answer" click opens: an optional comment, plus corrected SQL for admins."""
    blocks = [{"type": "input", "block_id": "comment", "optional": True,
               "label": {"type": "plain_text", "text": "What should the answer be? (optional)"},
               "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                           "max_length": 1000}}]
    if admin:
        blocks.append({"type": "input", "block_id": "sql", "optional": True,
                       "label": {"type": "plain_text", "text": "Corrected SQL (admins; optional)"},
                       "element": {"type": "plain_text_input", "action_id": "value", "multiline": True,
                                   "max_length": 2900}})
    meta = {"interaction": interaction_id, "channel": channel, "response_url": response_url}
    return {"type": "modal", "callback_id": FLAG_VIEW, "private_metadata": json.dumps(meta),
            "title": {"type": "plain_text", "text": "Flag this answer"},
            "submit": {"type": "plain_text", "text": "Flag"}, "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": blocks}


def conversation_for(channel: str, user: str, thread: str | None = None) -> str:
    """The conversation a question continues: a private chat's, keyed by its user, or the thread's (a mention
    outside one starts the thread its answer goes to)."""
    return f"slack:dm:{user}" if _private(channel) else f"slack:{channel}:{thread}"


def _private(channel: str) -> bool:
    return channel.startswith("D")  # Slack's ids: D... a direct message, C... a channel, G... a private group


def strip_mention(text: str) -> str:
    """The question in an @mention, without the mention itself."""
    return " ".join(_MENTION.sub(" ", text or "").split())


class SlackAdapter:
    """Registers askdb's listeners on a bolt AsyncApp; `settings` is the `slack` config section."""

    def __init__(self, *, core: BotCore, settings: Any, chart_memory: int = 500):
        self.core = core
        self.settings = settings
        self.chart_memory = chart_memory
        # toggle key -> the reply, the chart's alt text and its Slack file id once uploaded (Slack keeps the PNG)
        self._charts: dict[str, tuple[Reply, str, str | None]] = {}

    def register(self, app: AsyncApp) -> AsyncApp:
        # ack within Slack's 3 s, answer in a lazy listener (bolt's lazy_async_modals pattern)
        app.command("/ask")(ack=self.ack_ask, lazy=[self.answer_ask])
        app.event("app_mention")(self.on_mention)
        app.action(WRONG_ACTION)(self.on_wrong_answer)
        app.action(VIEW_ACTION)(self.on_view_toggle)
        app.view(FLAG_VIEW)(self.on_flag_submitted)
        return app

    async def ack_ask(self, ack, command) -> None:
        if not (command.get("text") or "").strip():
            await ack(text=USAGE)
        else:
            await ack(text="Looking that up...")

    async def answer_ask(self, command, respond, client: AsyncWebClient) -> None:
        text = (command.get("text") or "").strip()
        if not text:
            return
        channel = command.get("channel_id", "")
        # /ask has no thread: only a private chat's follow-ups have a turn to continue
        q = Question(text=text, user=command["user_id"], channel=channel, platform="slack",
                     conversation=conversation_for(channel, command["user_id"]) if _private(channel) else None)
        # an ephemeral answer gets no chart: uploading one would show the channel what only the asker may see
        public = self.settings.response_type == "in_channel"

        async def deliver(reply: Reply):
            chart = await chart_for(reply) if public else None
            key = self._keep_chart(reply, chart) if chart is not None else None
            await respond(text=reply.text, blocks=reply_blocks(reply, chart_key=key),
                          response_type=self.settings.response_type, replace_original=False)
            if chart is not None:
                await self._upload_chart(client, key, reply, chart, channel=channel, thread_ts=None)

        await self.core.handle(q, deliver)

    async def on_mention(self, event, say, client: AsyncWebClient) -> None:
        text = strip_mention(event.get("text", ""))
        thread = event.get("thread_ts") or event.get("ts")
        if not text:
            await say(text=USAGE, thread_ts=thread)
            return
        q = Question(text=text, user=event.get("user", ""), channel=event.get("channel", ""), platform="slack",
                     thread=thread, conversation=conversation_for(event.get("channel", ""), event.get("user", ""), thread))

        async def deliver(reply: Reply):
            chart = await chart_for(reply)
            key = self._keep_chart(reply, chart) if chart is not None else None
            await say(text=reply.text, blocks=reply_blocks(reply, chart_key=key), thread_ts=thread)
            if chart is not None:
                await self._upload_chart(client, key, reply, chart, channel=q.channel, thread_ts=thread)

        await self.core.handle(q, deliver)

    async def on_view_toggle(self, ack, body, respond) -> None:
        """Table/Chart: the answer message is redrawn with the uploaded chart, or the rows, in the middle."""
        await ack()
        to, _, key = body["actions"][0]["value"].partition(":")
        held = self._charts.get(key)
        if held is None or held[2] is None:
            text = ("That chart is no longer at hand; ask again to see it." if held is None else
                    "That chart isn't available: it is still uploading, or it could not be shared here.")
            await respond(text=text, response_type="ephemeral", replace_original=False)
            return
        reply, alt, file_id = held
        await respond(text=reply.text, replace_original=True,
                      blocks=reply_blocks(reply, chart_key=key, chart_file=file_id if to == "chart" else None,
                                          chart_alt=alt))

    async def _upload_chart(self, client: AsyncWebClient, key: str, reply: Reply, chart: Chart, *, channel: str,
                            thread_ts: str | None) -> None:
        # after the text has gone out: a failed upload costs the picture, never the answer
        try:
            uploaded = await client.files_upload_v2(file=chart.png, filename=chart.filename, channel=channel,
                                                    thread_ts=thread_ts, title=_clip(reply.question or "Chart", 250),
                                                    alt_txt=chart.plan.alt_text)
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
            log.warning(json.dumps({"event": "chart_upload_failed", "error_kind": type(exc).__name__, "error": error}))
            return
        if key in self._charts:
            self._charts[key] = (reply, chart.plan.alt_text, (uploaded.get("file") or {}).get("id"))

    def _keep_chart(self, reply: Reply, chart: Chart) -> str:
        key = secrets.token_hex(4)
        self._charts[key] = (reply, chart.plan.alt_text, None)
        while len(self._charts) > self.chart_memory:
            self._charts.pop(next(iter(self._charts)))
        return key

    async def on_wrong_answer(self, ack, body, client: AsyncWebClient) -> None:
        await ack()
        action = body["actions"][0]
        view = flag_modal(int(action["value"]), channel=(body.get("channel") or {}).get("id", ""),
                          response_url=body.get("response_url"),
                          admin=body["user"]["id"] in self.settings.admin_users)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def on_flag_submitted(self, ack, body, view, client: AsyncWebClient) -> None:
        await ack()
        meta = json.loads(view.get("private_metadata") or "{}")
        values = view.get("state", {}).get("values", {})
        comment = ((values.get("comment") or {}).get("value") or {}).get("value")
        sql = ((values.get("sql") or {}).get("value") or {}).get("value")
        user = body["user"]["id"]
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        who, where = f"slack:{user}", f"slack:{team}/{meta.get('channel', '')}"
        if sql and sql.strip() and user in self.settings.admin_users:
            result = await self.core.correct(meta.get("interaction"), sql=sql.strip(), who=who, where=where)
        else:
            result = await self.core.flag(meta.get("interaction"), who=who, where=where, comment=comment)
        await _tell(client, meta, user, result.text)


async def _tell(client: AsyncWebClient, meta: dict, user: str, text: str) -> None:
    # the response_url works even in channels the bot hasn't joined; chat.postEphemeral is the fallback
    if meta.get("response_url"):
        await AsyncWebhookClient(meta["response_url"], session=client.session).send(
            text=text, response_type="ephemeral", replace_original=False)
    elif meta.get("channel"):
        await client.chat_postEphemeral(channel=meta["channel"], user=user, text=text)


def build_slack_app(*, core: BotCore, settings: Any, client: AsyncWebClient, signing_secret: str | None) -> AsyncApp:
    """An AsyncApp with askdb's listeners; request signatures are verified when a signing secret is given."""
    app = AsyncApp(client=client, signing_secret=signing_secret or "",
                   request_verification_enabled=signing_secret is not None)
    return SlackAdapter(core=core, settings=settings).register(app)


async def run_slack(app: AsyncApp, *, settings: Any, app_token: str | None, stop: asyncio.Event,
                    drain: Callable[[], Awaitable[None]]) -> None:
    """Serve `app` in Socket Mode or over HTTP (settings.mode) until `stop`; drain() runs while still connected."""
    await _check_token(app.client, settings.bot_token_env)
    if settings.mode == "socket":
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(app, app_token)
        try:
            await handler.connect_async()
        except SlackApiError as exc:
            raise ConfigError(settings.app_token_env, f"Slack rejected the app-level token "
                                                      f"({exc.response.get('error')}); it needs connections:write") from exc
        try:
            await stop.wait()
            await drain()
        finally:
            await handler.close_async()
        return
    from aiohttp import web

    runner = web.AppRunner(app.web_app(path="/slack/events", port=settings.port))
    await runner.setup()
    try:
        await web.TCPSite(runner, port=settings.port).start()
        await stop.wait()
        await drain()
    finally:
        await runner.cleanup()


async def _check_token(client: AsyncWebClient, env_var: str) -> None:
    # fail at startup with the variable's name, not at the first question with a traceback
    try:
        await client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(env_var, f"Slack rejected the bot token ({exc.response.get('error')})") from exc


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
