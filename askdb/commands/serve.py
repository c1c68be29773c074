"""askdb serve discord / serve slack: the chat bot, tokens from the environment, stopped cleanly by Ctrl-C or SIGTERM."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import AsyncIterator, Mapping

import aiohttp
import asyncpg

from bot.core import BotCore, Conversations, CoreLimits
from pipeline.errors import ConfigError

from ..config import Config
from ..runtime import open_app, resolve_adapter
from .common import add_common, config_from


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the chat bot on Discord or Slack")
    psub = p.add_subparsers(dest="platform", required=True)
    for name, run in (("discord", serve_discord), ("slack", serve_slack)):
        q = psub.add_parser(name, help=f"answer questions on {name.title()} (tokens from the environment)")
        q.add_argument("--adapter", help="LoRA adapter directory (default: model.adapter when present)")
        q.add_argument("--no-feedback", action="store_true", help="don't record answers or accept flags")
        add_common(q)
        q.set_defaults(func=run)


def require_env(key: str, var: str, what: str, env: Mapping[str, str] = os.environ) -> str:
    """The secret in $var, or a ConfigError naming the variable (and the config key that names it)."""
    value = (env.get(var) or "").strip()
    if not value:
        raise ConfigError(key, f"the environment variable {var} is not set; export it with {what}")
    return value


def conversations(cfg: Config) -> Conversations:
    """The follow-up memory the config asks for."""
    return Conversations(turns=cfg.limits.conversation_turns, ttl_s=cfg.limits.conversation_minutes * 60)


def core_limits(cfg: Config) -> CoreLimits:
    return CoreLimits(per_user_per_minute=cfg.limits.per_user_per_minute, max_concurrent=cfg.limits.max_concurrent,
                      max_queue=cfg.limits.max_queue, max_question_chars=cfg.limits.max_question_chars)


def serve_discord(args) -> int:
    cfg = config_from(args)
    # tokens are checked before anything slow (database, model) starts
    token = require_env("discord.token_env", cfg.discord.token_env, "the bot token (Developer Portal > Bot > Token)")
    return asyncio.run(_serve(cfg, args, "Discord", lambda core, stop, drain: _run_discord(cfg, core, token, stop, drain)))


def serve_slack(args) -> int:
    cfg = config_from(args)
    bot_token = require_env("slack.bot_token_env", cfg.slack.bot_token_env, "the Bot User OAuth Token (xoxb-...)")
    app_token = secret = None
    if cfg.slack.mode == "socket":
        app_token = require_env("slack.app_token_env", cfg.slack.app_token_env,
                                "an app-level token with connections:write (xapp-...)")
    else:
        secret = require_env("slack.signing_secret_env", cfg.slack.signing_secret_env,
                             "the app's Signing Secret (Basic Information)")
    return asyncio.run(_serve(cfg, args, "Slack",
                              lambda core, stop, drain: _run_slack(cfg, core, bot_token, app_token, secret, stop, drain)))


async def _serve(cfg: Config, args, platform: str, run) -> int:
    _setup_logging()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_core(cfg, args) as core:
            print(f"askdb: connecting to {platform} (Ctrl-C stops; in-flight questions get "
                  f"{cfg.limits.shutdown_grace_s:g} s to finish)", file=sys.stderr, flush=True)
            await run(core, stop, lambda: core.shutdown(grace_s=cfg.limits.shutdown_grace_s))
    except (aiohttp.ClientError, OSError) as exc:
        print(f"askdb: cannot reach {platform}: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("askdb: stopped", file=sys.stderr)
    return 0


@contextlib.asynccontextmanager
async def open_core(cfg: Config, args) -> AsyncIterator[BotCore]:
    """The pipeline (and, unless --no-feedback, the feedback store) behind one BotCore."""
    async with open_app(cfg, database=args.database, adapter=args.adapter) as app:
        if args.no_feedback:
            yield BotCore(answer=app.pipeline.answer, limits=core_limits(cfg), conversations=conversations(cfg))
            return
        from pipeline.feedback_store import migrate

        from .feedback import correction_variants, open_feedback

        conn = await asyncpg.connect(app.owner_url, timeout=cfg.database.connect_timeout_s)
        try:
            await migrate(conn, schema=cfg.feedback.schema)  # idempotent; a missing table would lose every flag
        finally:
            await conn.close()
        # A correction made in chat answers its siblings at once: it joins the examples with its variants.
        async with open_feedback(cfg, app.owner_url, verifier=app.pipeline, examples=app.pipeline.store,
                                 variants=correction_variants(cfg, app.pool),
                                 adapter=resolve_adapter(cfg, args.adapter) or "") as store:
            yield BotCore(answer=app.pipeline.answer, feedback=store, limits=core_limits(cfg),
                          conversations=conversations(cfg))


async def _run_discord(cfg: Config, core: BotCore, token: str, stop: asyncio.Event, drain) -> None:
    from bot.discord_bot import AskdbBot, run_discord

    bot = AskdbBot(core=core, settings=cfg.discord)
    await run_discord(bot, token=token, token_env=cfg.discord.token_env, stop=stop, drain=drain)


async def _run_slack(cfg: Config, core: BotCore, bot_token: str, app_token: str | None, secret: str | None,
                     stop: asyncio.Event, drain) -> None:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack_bot import build_slack_app, run_slack

    app = build_slack_app(core=core, settings=cfg.slack, client=AsyncWebClient(token=bot_token), signing_secret=secret)
    await run_slack(app, settings=cfg.slack, app_token=app_token, stop=stop, drain=drain)


def _setup_logging() -> None:
    # one JSON line per question is the point of serving; HTTP-level debug logs could carry tokens, so never those
    logging.getLogger("askdb.bot").setLevel(logging.INFO)
    for name in ("slack_sdk", "discord.http", "discord.gateway", "aiohttp.client"):
        logging.getLogger(name).setLevel(max(logging.getLogger(name).getEffectiveLevel(), logging.WARNING))
