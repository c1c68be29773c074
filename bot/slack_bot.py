"""Slack adapter (slack-bolt AsyncApp): /ask, @mentions, Block Kit answers and a "Wrong answer" modal.

Slack events become `Question`s and `Reply`s become Block Kit; the answering itself is `BotCore`'s.
"""
from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from pipeline.errors import ConfigError

from .core import BotCore, Question, Reply

WRONG_ACTION = "askdb_wrong"
FLAG_VIEW = "askdb_flag"
USAGE = "Ask me about the database, e.g. `/ask Which courses does the CS department offer?`"
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def reply_blocks(reply: Reply) -> list[dict]:
    """Block Kit for a Reply: the answer, the SQL as a code span, a rows preview and a Wrong answer button."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": _clip(_escape(reply.text), 2900)}}]
    if reply.sql:
        sql = _clip(" ".join(reply.sql.split()).replace("`", "'"), 1900)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"SQL: `{_escape(sql)}`"}]})
    if reply.ok and len(reply.rows) > 1:
        table = _clip(reply.preview_table(), 2880)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{_escape(table)}```"}})
    if reply.ok and reply.interaction_id is not None:
        blocks.append({"type": "actions", "block_id": "askdb_feedback", "elements": [
            {"type": "button", "action_id": WRONG_ACTION, "value": str(reply.interaction_id),
             "text": {"type": "plain_text", "text": "Wrong answer"}}]})
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


def strip_mention(text: str) -> str:
    """The question in an @mention, without the mention itself."""
    return " ".join(_MENTION.sub(" ", text or "").split())


class SlackAdapter:
    """Registers askdb's listeners on a bolt AsyncApp; `settings` is the `slack` config section."""

    def __init__(self, *, core: BotCore, settings: Any):
        self.core = core
        self.settings = settings

    def register(self, app: AsyncApp) -> AsyncApp:
        # ack within Slack's 3 s, answer in a lazy listener (bolt's lazy_async_modals pattern)
        app.command("/ask")(ack=self.ack_ask, lazy=[self.answer_ask])
        app.event("app_mention")(self.on_mention)
        app.action(WRONG_ACTION)(self.on_wrong_answer)
        app.view(FLAG_VIEW)(self.on_flag_submitted)
        return app

    async def ack_ask(self, ack, command) -> None:
        if not (command.get("text") or "").strip():
            await ack(text=USAGE)
        else:
            await ack(text="Looking that up...")

    async def answer_ask(self, command, respond) -> None:
        text = (command.get("text") or "").strip()
        if not text:
            return
        q = Question(text=text, user=command["user_id"], channel=command.get("channel_id", ""), platform="slack")

        async def deliver(reply: Reply):
            await respond(text=reply.text, blocks=reply_blocks(reply), response_type=self.settings.response_type,
                          replace_original=False)

        await self.core.handle(q, deliver)

    async def on_mention(self, event, say) -> None:
        text = strip_mention(event.get("text", ""))
        thread = event.get("thread_ts") or event.get("ts")
        if not text:
            await say(text=USAGE, thread_ts=thread)
            return
        q = Question(text=text, user=event.get("user", ""), channel=event.get("channel", ""), platform="slack",
                     thread=thread)

        async def deliver(reply: Reply):
            await say(text=reply.text, blocks=reply_blocks(reply), thread_ts=thread)

        await self.core.handle(q, deliver)

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
