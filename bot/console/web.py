"""The console's web plumbing: who is signed in, what their role may reach, CSRF, rendering.

Access is declared where a route is added (``route(..., roles=...)``); the guard middleware
signs people in from the session cookie, sends the signed-out to the sign-in page, refuses
roles without the right, and refuses any POST without our origin and the form's CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from bot import keys
from bot.console import staff_sessions
from bot.console.models import ROLE_NAMES, Role
from bot.console.staff_sessions import Staff
from bot.web.origin import same_origin

log = logging.getLogger(__name__)

COOKIE = "mz_console"
LOGIN_COOKIE = "mz_login"
STAFF = web.RequestKey("staff", Staff)
EVERYONE = frozenset(Role)
CONTENT = frozenset({Role.staff, Role.admin})
ADMIN = frozenset({Role.admin})
MAX_FORM_BYTES = 256 * 1024
# The console runs no script at all; its styles come from its own file.
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
FORBIDDEN = "您的账号没有权限打开这个页面。"
STALE_FORM = "这个页面已过期，或不是从本系统打开的。请刷新页面后再提交一次。"
BAD_FORM = "提交的内容无法读取，请回到上一页重新填写。"

View = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Views registered as public (no sign-in): the sign-in page and the style sheet.
_PUBLIC: set[View] = set()
# What each view requires: the roles that may open it.
_ROLES: dict[View, frozenset[Role]] = {}

# Nav items in the order staff read them: (path, label, roles that see it). Pages are listed
# here as they are built.
NAV: tuple[tuple[str, str, frozenset[Role]], ...] = (
    # First: residents are waiting there (and it is the advisors' only page).
    ("/admin/escalations", "人工服务", frozenset({Role.advisor, Role.staff, Role.admin})),
    ("/admin/kb", "知识库", CONTENT),
    ("/admin/review", "待审核", CONTENT),
    ("/admin/unanswered", "未解答问题", CONTENT),
    ("/admin/synonyms", "同义词与线索", CONTENT),
    ("/admin/data", "数据", CONTENT),
    ("/admin/test", "测试问答", CONTENT),
    ("/admin/reminders", "提醒", CONTENT),
    ("/admin/audit", "操作记录", CONTENT),
    ("/admin/users", "账号", ADMIN),
)


def route(
    app: web.Application,
    method: str,
    path: str,
    view: View,
    *,
    roles: frozenset[Role] | None = None,
    public: bool = False,
) -> None:
    if public:
        _PUBLIC.add(view)
    else:
        _ROLES[view] = roles or EVERYONE
    app.router.add_route(method, path, view)


def now(request: web.Request) -> datetime:
    return datetime.now(request.config_dict[keys.SETTINGS].tz)


def page(request: web.Request, status: int, message: str, *, title: str = "提示") -> web.Response:
    return render(request, "message.html", {"title": title, "message": message}, status=status)


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    staff = request.get(STAFF)
    keyring = request.config_dict[keys.KEYRING]
    base = {
        "staff": staff,
        "role_name": ROLE_NAMES.get(staff.role) if staff else None,
        "csrf": staff_sessions.csrf_token(keyring, staff.session_id) if staff else "",
        "nav": [(p, label) for p, label, roles in NAV if staff and staff.role in roles],
        "path": request.path,
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
    response.headers["Content-Security-Policy"] = POLICY
    return response


def whole_number(raw: str | None, default: int, *, digits: int = 6) -> int:
    """A count typed in a URL or a form (a page, a revision, an id), or ``default``: only ASCII
    digits, at most ``digits`` of them (int() fails on '²' and on thousands of digits)."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= digits:
        return int(raw)
    return default


def redirect(location: str) -> web.Response:
    # 303: after a POST, the browser fetches the next page with GET.
    return web.Response(status=303, headers={"Location": location})


async def form(request: web.Request) -> dict[str, str] | None:
    """The submitted fields as text (the last value of each name), or None if unreadable."""
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        return None
    try:
        data = await request.post()
    except Exception:  # a body that is no form at all: multipart garbage, bad encoding
        return None
    fields: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, str):
            fields[name] = value.replace("\x00", "")
    return fields


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin/") and not target.startswith("//"):
        return target
    return "/admin/"


def sign_in_location(request: web.Request) -> str:
    return "/admin/login?next=" + quote(request.path_qs, safe="/")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    view = getattr(request.match_info, "handler", None)
    if request.match_info.http_exception is not None:
        return await handler(request)
    settings = request.config_dict[keys.SETTINGS]
    if request.method == "POST" and not same_origin(request, settings.public_url):
        return page(request, 403, STALE_FORM, title="无法提交")
    if view in _PUBLIC:
        return await handler(request)
    token = request.cookies.get(COOKIE, "")
    async with request.config_dict[keys.SESSIONS]() as session, session.begin():
        staff = await staff_sessions.resolve(session, token, now(request))
    if staff is None:
        if request.method == "GET":
            return redirect(sign_in_location(request))
        return page(request, 403, STALE_FORM, title="请先登录")
    request[STAFF] = staff
    if staff.role not in _ROLES.get(view, EVERYONE):  # type: ignore[arg-type]
        return page(request, 403, FORBIDDEN, title="没有权限")
    if request.method == "POST":
        fields = await form(request)
        if fields is None:
            return page(request, 400, BAD_FORM, title="无法提交")
        expected = staff_sessions.csrf_token(request.config_dict[keys.KEYRING], staff.session_id)
        if not staff_sessions.csrf_matches(expected, fields.get("csrf")):
            return page(request, 403, STALE_FORM, title="无法提交")
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", POLICY)
    return response


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=request.config_dict[keys.SETTINGS].served_over_https,
    )
