"""The aiohttp application factory: the composition root for everything served over HTTP.

``create_app`` only builds; ``bot.server`` runs. Each resource (database engine, Telegram) lives
in its own ``cleanup_ctx``, so a half-started resource is always torn down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Handler

from bot import keys, memory
from bot.console.app import add_console
from bot.console.metrics import refresh as refresh_content_metrics
from bot.console.views_review import publish_scheduled
from bot.conversation.core import Conversation
from bot.conversation.steps import StepStore
from bot.database import (
    DatabaseState,
    bootstrap_database,
    create_engine,
    describe_error,
    ping,
    session_factory,
)
from bot.escalations.metrics import CaseMetrics
from bot.escalations.relay import Relay
from bot.escalations.service import Cases
from bot.escalations.sweeper import Sweeper, sweep_forever
from bot.reminders.metrics import ReminderMetrics
from bot.reminders.service import Reminders
from bot.retention import purge_expired
from bot.seeding import seed_if_empty
from bot.settings import Settings
from bot.telegram.texts import SOMETHING_WENT_WRONG
from bot.web import chat
from bot.web.ask import ask
from bot.web.directory_api import add_routes
from bot.web.hardening import chinese_routing_errors, install_process_wide, secure_headers
from bot.web.metrics import HttpMetrics
from directory.service import Directory
from knowledge.matcher import KnowledgeIndex
from knowledge.service import KnowledgeBase

log = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place an unexpected failure becomes a calm answer; the traceback goes to the log."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("request failed", extra={"method": request.method, "path": request.path})
        return web.json_response(
            {"error": "internal_error", "message": SOMETHING_WENT_WRONG}, status=500
        )


async def healthz(request: web.Request) -> web.Response:
    engine = request.app[keys.ENGINE]
    state = request.app[keys.DATABASE_STATE]
    try:
        await ping(engine)
    except Exception as exc:
        return web.json_response(
            {"status": "unavailable", "database": "unreachable", "reason": describe_error(exc)},
            status=503,
        )
    if not state.migrated.is_set():
        return web.json_response(
            {
                "status": "starting",
                "database": "migrating",
                "reason": state.last_error or "applying database migrations",
            },
            status=503,
        )
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[keys.METRICS]
    if request.app[keys.DATABASE_STATE].migrated.is_set():
        try:
            await refresh_content_metrics(
                registry, request.app[keys.SESSIONS], datetime.now(request.app[keys.SETTINGS].tz)
            )
        except Exception:
            log.exception("content metrics could not be read; the request metrics still are")
    return registry.render()


def _database_context(
    migrate_on_start: bool,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(app[keys.SETTINGS].database_url)
        state = DatabaseState()
        app[keys.ENGINE] = engine
        app[keys.SESSIONS] = session_factory(engine)
        app[keys.DATABASE_STATE] = state
        if migrate_on_start:
            migrating = asyncio.create_task(bootstrap_database(engine, state), name="db-bootstrap")
        else:
            state.migrated.set()
        try:
            yield
        finally:
            if migrate_on_start:
                migrating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await migrating
            await engine.dispose()

    return database


# How often the server looks for content changed by another process (``kb import``, a replica).
CONTENT_POLL_S = 30.0


async def _keep_content_current(app: web.Application, poll_s: float) -> None:
    """Build the knowledge index and the directory once the database is ready, then rebuild
    each whenever its data changes."""
    knowledge = app[keys.KNOWLEDGE]
    directory = app[keys.DIRECTORY]
    await app[keys.DATABASE_STATE].migrated.wait()
    try:
        # A new installation answers from the first start: load the shipped content.
        await seed_if_empty(app[keys.ENGINE])
    except Exception:
        log.exception("loading the shipped content failed")
    first = True
    while True:
        try:
            await publish_scheduled(app[keys.SESSIONS], datetime.now(app[keys.SETTINGS].tz))
        except Exception:
            log.exception("publishing scheduled drafts failed; tried again at the next poll")
        try:
            await knowledge.rebuild_if_changed()
        except Exception:
            log.exception("knowledge index rebuild failed; the previous index stays in use")
        try:
            await directory.rebuild_if_changed()
        except Exception:
            log.exception("directory rebuild failed; the previous one stays in use")
        if first:
            # What start-up built lives as long as the process: move it out of the cycle
            # collector's sight, so full collections under load stay short.
            memory.settle()
            first = False
        await asyncio.sleep(poll_s)


def _purge(app: web.Application) -> Callable[[datetime], Awaitable[None]]:
    """The daily retention purge, run by the scheduler's leader (one replica, not each)."""
    settings = app[keys.SETTINGS]

    async def purge(now: datetime) -> None:
        purged = await purge_expired(
            app[keys.SESSIONS], keep_days=settings.question_log_days, now=now
        )
        log.info("retention purge done", extra=purged.as_dict())

    return purge


def _knowledge_context(poll_s: float) -> Callable[[web.Application], AsyncIterator[None]]:
    async def knowledge(app: web.Application) -> AsyncIterator[None]:
        app[keys.KNOWLEDGE] = KnowledgeBase(
            app[keys.SESSIONS],
            app[keys.SETTINGS].tz,
            build=memory.long_lived(KnowledgeIndex.build),
        )
        app[keys.DIRECTORY] = Directory(app[keys.SESSIONS])
        settings = app[keys.SETTINGS]
        keyring = app[keys.KEYRING] = settings.keyring()
        cases = app[keys.CASES] = Cases(
            keyring=keyring,
            desk_enabled=settings.telegram_enabled and settings.advisor_chat_id is not None,
            observer=CaseMetrics(app[keys.METRICS].registry),
            # Polling, this process alone receives Telegram's updates: its residents' steps
            # can be kept in memory. Webhooks may be spread over replicas: read every time.
            steps=StepStore(
                cached=frozenset({"telegram"})
                if settings.telegram_enabled and settings.telegram_mode == "polling"
                else frozenset()
            ),
        )
        # The desk and the residents' line are attached when Telegram connects.
        relay = app[keys.RELAY] = Relay(sessions=app[keys.SESSIONS], cases=cases, tz=settings.tz)
        app[keys.CONVERSATION] = Conversation(
            knowledge=app[keys.KNOWLEDGE],
            directory=app[keys.DIRECTORY],
            sessions=app[keys.SESSIONS],
            tz=settings.tz,
            cases=cases,
            office_hours=settings.office_hours,
            relay=relay,
            reminders_per_week=settings.reminders_per_week,
        )
        # The messenger is attached when Telegram connects (bot.telegram.lifecycle).
        reminders = app[keys.REMINDERS] = Reminders(
            engine=app[keys.ENGINE],
            sessions=app[keys.SESSIONS],
            tz=settings.tz,
            weekly_cap=settings.reminders_per_week,
            purge=_purge(app),
            observer=ReminderMetrics(app[keys.METRICS].registry),
        )
        reminders.start_when(app[keys.DATABASE_STATE].migrated)
        tasks = [
            asyncio.create_task(_keep_content_current(app, poll_s), name="content"),
            asyncio.create_task(
                sweep_forever(
                    app[keys.DATABASE_STATE].migrated, Sweeper(relay, settings.office_hours)
                ),
                name="escalations",
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await reminders.close()
            await app[keys.KNOWLEDGE].close()
            # The last questions asked, written before the database closes.
            await app[keys.CONVERSATION].close()

    return knowledge


def create_app(
    settings: Settings,
    *,
    migrate_on_start: bool = True,
    content_poll_s: float = CONTENT_POLL_S,
) -> web.Application:
    metrics_ = HttpMetrics()
    install_process_wide()
    app = web.Application(
        middlewares=[metrics_.middleware(), error_middleware, chinese_routing_errors]
    )
    app.on_response_prepare.append(secure_headers)
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = metrics_
    app.cleanup_ctx.append(_database_context(migrate_on_start))
    app.cleanup_ctx.append(_knowledge_context(content_poll_s))
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/ask", ask)
    add_routes(app)
    chat.add_routes(app)
    add_console(app)
    app.router.add_get("/metrics", metrics)
    if settings.telegram_enabled:
        # Imported only when needed: python-telegram-bot costs start time and memory.
        from bot.telegram.lifecycle import WEBHOOK_PATH, telegram_context, webhook

        app.cleanup_ctx.append(telegram_context)
        if settings.telegram_mode == "webhook":
            app.router.add_post(WEBHOOK_PATH, webhook)
    else:
        log.info("Telegram is off: MINZHENG_TELEGRAM_TOKEN is not set; the web service runs alone")
    return app
