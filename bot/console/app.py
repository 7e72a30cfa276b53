"""The staff console: an aiohttp sub-application mounted at ``/admin``.

Server-rendered pages (aiohttp-jinja2, autoescaping on), no script, no outside font or CDN;
shared state comes from the parent application through ``request.config_dict``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.console import (
    views_admin,
    views_auth,
    views_data,
    views_escalation_case,
    views_escalations,
    views_kb,
    views_reminder_history,
    views_reminders,
    views_review,
    views_test,
    views_unanswered,
    views_vocabulary,
)
from bot.console.accounts import aware
from bot.console.web import guard, route

STATIC = Path(__file__).with_name("static")


async def stylesheet(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        STATIC / "console.css", headers={"Cache-Control": "public, max-age=3600"}
    )


def _local_time(value: object, tz: object = None) -> str:
    """A stored time as staff read it: in the service's time zone, to the minute."""
    if not isinstance(value, datetime):
        return ""
    value = aware(value)
    if isinstance(tz, ZoneInfo):
        value = value.astimezone(tz)
    return f"{value:%Y-%m-%d %H:%M}"


def create_console() -> web.Application:
    console = web.Application(middlewares=[guard])
    environment = aiohttp_jinja2.setup(
        console,
        loader=jinja2.PackageLoader("bot.console", "templates"),
        autoescape=True,
    )
    environment.filters["when"] = _local_time
    route(console, "GET", "/static/console.css", stylesheet, public=True)
    views_auth.add_routes(console)
    # views_kb before views_review: /kb/{id}/edit is matched before /kb/{id}/{action}.
    views_kb.add_routes(console)
    views_review.add_routes(console)
    views_test.add_routes(console)
    views_vocabulary.add_routes(console)
    views_unanswered.add_routes(console)
    views_data.add_routes(console)
    views_admin.add_routes(console)
    views_escalations.add_routes(console)
    views_escalation_case.add_routes(console)
    views_reminders.add_routes(console)
    views_reminder_history.add_routes(console)
    return console


async def to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/admin/")


def add_console(app: web.Application) -> None:
    app.router.add_get("/admin", to_console)
    app.add_subapp("/admin/", create_console())
