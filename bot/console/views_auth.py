"""Signing in and out, the home page, and one's own account."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque

from aiohttp import web

from bot import keys
from bot.console import accounts, audit, staff_sessions
from bot.console.models import Role
from bot.console.web import (
    COOKIE,
    EVERYONE,
    LOGIN_COOKIE,
    STAFF,
    STALE_FORM,
    _safe_next,
    form,
    now,
    page,
    redirect,
    render,
    route,
    set_session_cookie,
)
from bot.escalations import advisors, queries

# Failed sign-ins from one address are slowed down, whichever accounts they try.
IP_WINDOW_S = 15 * 60
IP_FREE_FAILURES = 3
IP_MAX_DELAY_S = 8.0
IP_FAILURES: web.AppKey[dict[str, deque[float]]] = web.AppKey("ip_failures", dict)


def _delay(app: web.Application, ip: str, moment: float) -> float:
    failures = app[IP_FAILURES].get(ip)
    if not failures:
        return 0.0
    while failures and failures[0] < moment - IP_WINDOW_S:
        failures.popleft()
    extra = len(failures) - IP_FREE_FAILURES
    return 0.0 if extra < 0 else min(0.5 * 2**extra, IP_MAX_DELAY_S)


def _failed(app: web.Application, ip: str, moment: float) -> None:
    table = app[IP_FAILURES]
    if len(table) > 10_000:
        table.clear()
    table.setdefault(ip, deque(maxlen=64)).append(moment)


def _login_page(request: web.Request, *, error: str | None = None, name: str = "") -> web.Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"error": error, "name": name, "login_csrf": token, "next": request.query.get("next", "")},
        status=200 if error is None else 401,
    )
    response.set_cookie(
        LOGIN_COOKIE, token, path="/admin", httponly=True, samesite="Strict", max_age=3600
    )
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    fields = await form(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if (
        fields is None
        or not expected
        or not staff_sessions.csrf_matches(expected, fields.get("login_csrf"))
    ):
        return page(request, 403, STALE_FORM, title="无法登录")
    name, password = fields.get("name", "").strip(), fields.get("password", "")
    if not name or not password:
        return _login_page(request, error="请填写账号和密码。", name=name)
    ip = request.remote or "unknown"
    delay = _delay(request.app, ip, time.monotonic())
    if delay:
        await asyncio.sleep(delay)
    async with request.config_dict[keys.SESSIONS]() as session, session.begin():
        result = await accounts.authenticate(
            session, name=name[:64], password=password[:1024], ip=ip, now=now(request)
        )
        token = (
            await staff_sessions.start(session, result.user, now(request)) if result.user else ""
        )
    if result.user is None:
        _failed(request.app, ip, time.monotonic())
        return _login_page(request, error=result.refusal, name=name[:64])
    response = redirect(_safe_next(fields.get("next")))
    set_session_cookie(request, response, token)
    response.del_cookie(LOGIN_COOKIE, path="/admin")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    everywhere = request.path.endswith("everywhere")
    async with request.config_dict[keys.SESSIONS]() as session, session.begin():
        if everywhere:
            await staff_sessions.end_all(session, staff.user_id)
        else:
            await staff_sessions.end(session, staff.session_id)
        audit.record(
            session,
            actor=staff.name,
            action="logout_everywhere" if everywhere else "logout",
            target_type="user",
            target_id=staff.name,
        )
    response = redirect("/admin/login")
    response.del_cookie(COOKIE, path="/admin")
    return response


async def home(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    async with request.config_dict[keys.SESSIONS]() as session:
        counted = await queries.counts(session, staff.user_id)
    return render(
        request,
        "home.html",
        {
            "waiting": counted[queries.View.waiting],
            "mine": counted[queries.View.mine],
            "is_advisor": staff.role == Role.advisor,
        },
    )


# Who links a Telegram account: those the advisors' group takes answers from.
LINKING = frozenset(advisors.ROLES)


async def _account_page(
    request: web.Request,
    *,
    error: str | None = None,
    link_code: str | None = None,
    status: int = 200,
) -> web.Response:
    staff = request[STAFF]
    async with request.config_dict[keys.SESSIONS]() as session:
        user = await accounts.by_name(session, staff.name)
    response = render(
        request,
        "account.html",
        {
            "error": error,
            "may_link": staff.role in LINKING,
            "telegram_linked": user is not None and user.telegram_user_id is not None,
            "link_code": link_code,
        },
        status=status,
    )
    if link_code is not None:
        # Shown once: not kept in the browser's cache.
        response.headers["Cache-Control"] = "no-store"
    return response


async def account(request: web.Request) -> web.StreamResponse:
    return await _account_page(request)


async def link_telegram(request: web.Request) -> web.StreamResponse:
    """A one-time code the advisor sends to the bot from their own Telegram account."""
    staff = request[STAFF]
    moment = now(request)
    async with request.config_dict[keys.SESSIONS]() as session, session.begin():
        user = await accounts.by_name(session, staff.name)
        if user is None:
            return page(request, 403, STALE_FORM, title="请先登录")
        code = await advisors.create_link_code(session, user, now=moment)
        audit.record(
            session,
            actor=staff.name,
            action="advisor_link_code",
            target_type="staff_user",
            target_id=staff.name,
            note="15 分钟内有效",
            at=moment,
        )
    return await _account_page(request, link_code=code)


async def change_password(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    fields = await form(request) or {}
    current, new, again = (fields.get(k, "") for k in ("current", "new", "again"))
    async with request.config_dict[keys.SESSIONS]() as session, session.begin():
        user = await accounts.by_name(session, staff.name)
        if user is None or not await accounts.verify_password(user, current):
            problem: str | None = "现在的密码不对。"
        elif new != again:
            problem = "两次输入的新密码不一样。"
        else:
            problem = accounts.password_problem(new)
        if problem is None:
            await accounts.set_password(
                session, name=staff.name, password=new, actor=staff.name, own=True
            )
    if problem is not None:
        return await _account_page(request, error=problem, status=400)
    # Changing the password ends every session, this one too: sign in again with the new one.
    response = redirect("/admin/login?next=/admin/account")
    response.del_cookie(COOKIE, path="/admin")
    return response


def add_routes(app: web.Application) -> None:
    app[IP_FAILURES] = {}
    route(app, "GET", "/login", login_form, public=True)
    route(app, "POST", "/login", login, public=True)
    route(app, "POST", "/logout", logout, roles=EVERYONE)
    route(app, "POST", "/logout-everywhere", logout, roles=EVERYONE)
    route(app, "GET", "/", home, roles=EVERYONE)
    route(app, "GET", "/account", account, roles=EVERYONE)
    route(app, "POST", "/account/password", change_password, roles=EVERYONE)
    route(app, "POST", "/account/telegram", link_telegram, roles=LINKING)
