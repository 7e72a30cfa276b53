"""python-telegram-bot inside the aiohttp event loop.

``telegram_context`` is an aiohttp ``cleanup_ctx``: it builds the PTB ``Application`` and starts it
in the background, so a Telegram outage never stops the web server; Telegram is retried with
backoff, and a token Telegram rejects is logged once and not retried. On the way out it stops
exactly what was started.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
)

from bot import keys
from bot.escalations.relay import Relay
from bot.reminders.service import Reminders
from bot.reminders.telegram import TelegramMessenger
from bot.settings import Settings
from bot.telegram.desk import TelegramDesk, TelegramLine
from bot.telegram.handlers import COMMANDS, MinzhengContext, register_handlers
from bot.telegram.ratelimit import SendBudget, SharedRateLimiter
from bot.telegram.services import SERVICES, BotServices
from bot.telegram.transport import AiohttpRequest

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_TIMEOUT_S = 10


def build_application(settings: Settings) -> Application:
    if settings.telegram_token is None:
        raise ValueError("Telegram is off: MINZHENG_TELEGRAM_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .context_types(ContextTypes(context=MinzhengContext))
        # Different residents at once; one resident's messages in order (a lock per chat).
        .concurrent_updates(True)
        # Bot API calls over aiohttp's client: half to a fifth of the CPU httpx takes a call.
        .request(AiohttpRequest())
        # The long poll has a connection of its own, so sends never wait behind it.
        .get_updates_request(AiohttpRequest(slots=1))
        # One budget for replies and reminders, replies first; a 429 is retried after
        # Telegram's retry_after, up to three times.
        .rate_limiter(SharedRateLimiter(SendBudget(settings.send_rate), max_retries=3))
    )
    if settings.telegram_api_base_url:
        base = settings.telegram_api_base_url
        builder = builder.base_url(base)
        if base.endswith("/bot"):
            builder = builder.base_file_url(base[: -len("/bot")] + "/file/bot")
    if settings.telegram_mode == "webhook":
        # Updates arrive on our own aiohttp route; PTB's updater would start a second server.
        builder = builder.updater(None)
    application = builder.build()
    register_handlers(application, settings.advisor_chat_id)
    return application


async def _attach_desk(application: Application, settings: Settings, relay: Relay) -> None:
    """Cases reach advisors through the bot once it is connected: the residents' line always,
    the advisors' group when one is configured and the bot is in it."""
    relay.line = TelegramLine(application.bot)
    if settings.advisor_chat_id is None:
        return
    try:
        chat = await application.bot.get_chat(settings.advisor_chat_id)
        member = await application.bot.get_chat_member(chat.id, application.bot.id)
    except TelegramError as exc:
        log.error(
            "the advisors' group cannot be reached; cases wait in the console inbox",
            extra={"reason": str(exc)},
        )
        return
    forum = bool(chat.is_forum)
    if forum and not getattr(member, "can_manage_topics", False):
        log.warning("the bot may not manage topics in the advisors' group; make it an admin")
    relay.desk = TelegramDesk(application.bot, chat.id, forum=forum)
    log.info("advisors' group on", extra={"forum": forum})


async def _connect(
    application: Application, settings: Settings, relay: Relay, reminders: Reminders
) -> None:
    delay = 1.0
    while True:
        try:
            await application.initialize()
            break
        except InvalidToken:
            raise
        except (NetworkError, TelegramError, OSError) as exc:
            log.warning(
                "Telegram unreachable; retrying",
                extra={"reason": f"{type(exc).__name__}: {exc}", "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
    await application.bot.set_my_commands(COMMANDS)
    if settings.telegram_mode == "webhook":
        assert settings.webhook_url is not None and settings.webhook_secret is not None
        await application.bot.set_webhook(
            settings.webhook_url, secret_token=settings.webhook_secret.get_secret_value()
        )
    else:
        assert application.updater is not None
        await application.bot.delete_webhook()
        await application.updater.start_polling(
            timeout=POLL_TIMEOUT_S, error_callback=_log_polling_error
        )
    await application.start()
    await _attach_desk(application, settings, relay)
    reminders.attach(
        TelegramMessenger(
            application.bot, sessions=relay.sessions, keyring=relay.cases.keyring, tz=settings.tz
        )
    )
    log.info(
        "Telegram on",
        extra={"bot": application.bot.username, "mode": settings.telegram_mode},
    )


def _log_polling_error(error: TelegramError) -> None:
    log.warning("Telegram polling failed; PTB retries", extra={"reason": str(error)})


async def _start(
    application: Application,
    settings: Settings,
    database_ready: asyncio.Event,
    relay: Relay,
    reminders: Reminders,
) -> None:
    # Residents' messages need the database: take none before its migrations are done.
    await database_ready.wait()
    try:
        # Polling, this process alone has Telegram's updates: the steps kept so far, read once.
        kept = await relay.cases.steps.preload(relay.sessions, "telegram")
        log.info("telegram residents' steps read", extra={"steps": kept})
    except Exception:
        log.exception("could not read the residents' steps; each is read when they write")
    try:
        await _connect(application, settings, relay, reminders)
    except InvalidToken:
        log.error("Telegram rejected MINZHENG_TELEGRAM_TOKEN; Telegram stays off until restart")


async def _stop(application: Application) -> None:
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    # shutdown() is a no-op for an application that never initialised.
    await application.shutdown()


async def telegram_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    application = build_application(settings)
    relay = app[keys.RELAY]
    application.bot_data[SERVICES] = BotServices(
        conversation=app[keys.CONVERSATION],
        keyring=app[keys.KEYRING],
        sessions=app[keys.SESSIONS],
        cases=app[keys.CASES],
        relay=relay,
        tz=settings.tz,
        advisor_chat_id=settings.advisor_chat_id,
    )
    app[keys.TELEGRAM] = application
    starting = asyncio.create_task(
        _start(
            application, settings, app[keys.DATABASE_STATE].migrated, relay, app[keys.REMINDERS]
        ),
        name="telegram-start",
    )
    try:
        yield
    finally:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        relay.desk = relay.line = None
        await app[keys.REMINDERS].detach()
        await _stop(application)


async def webhook(request: web.Request) -> web.Response:
    """Check Telegram's secret header and hand the update to PTB's queue; nothing more."""
    settings = request.app[keys.SETTINGS]
    application = request.app[keys.TELEGRAM]
    if not application.running:
        raise web.HTTPServiceUnavailable(text="Telegram is still starting")
    assert settings.webhook_secret is not None
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), settings.webhook_secret.get_secret_value().encode()):
        raise web.HTTPForbidden(text="wrong secret token")
    try:
        update = Update.de_json(await request.json(), application.bot)
    except (ValueError, TypeError, KeyError) as exc:
        raise web.HTTPBadRequest(text="not a Telegram update") from exc
    await application.update_queue.put(update)
    return web.Response(text="ok")
