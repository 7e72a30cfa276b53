"""Accounts (admin only) and the audit log (staff and admin)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from aiohttp import web

from bot import keys
from bot.console import accounts, audit
from bot.console.accounts import AccountError
from bot.console.models import ROLE_NAMES, Role
from bot.console.web import ADMIN, CONTENT, STAFF, form, redirect, render, route, whole_number

PAGE_SIZE = 50


async def users(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[keys.SESSIONS]() as session:
        rows = await accounts.list_users(session)
    return render(
        request,
        "users.html",
        {"users": rows, "roles": ROLE_NAMES, "done": request.query.get("done")},
    )


async def _users_with(request: web.Request, status: int, **extra: object) -> web.Response:
    async with request.config_dict[keys.SESSIONS]() as session:
        rows = await accounts.list_users(session)
    return render(
        request, "users.html", {"users": rows, "roles": ROLE_NAMES, **extra}, status=status
    )


async def add_user(request: web.Request) -> web.StreamResponse:
    fields = await form(request) or {}
    name = fields.get("name", "").strip()
    try:
        role = Role(fields.get("role", ""))
    except ValueError:
        return await _users_with(request, 400, error="请选择角色。", name=name)
    password = accounts.generate_password()
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            await accounts.add_user(
                session, name=name, role=role, password=password, actor=request[STAFF].name
            )
    except AccountError as exc:
        return await _users_with(request, 400, error=str(exc), name=name)
    # The password is shown once, on this page only: it is stored only as a hash.
    return await _users_with(request, 200, created=(name, password))


async def change_user(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    name = request.match_info["name"]
    what = request.match_info["what"]
    fields = await form(request) or {}
    password: str | None = None
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            if name == staff.name and what in {"disable", "role"}:
                raise AccountError("不能停用自己的账号或更改自己的角色，请另一位管理员操作。")
            if what in {"disable", "enable"}:
                await accounts.set_disabled(
                    session, name=name, disabled=what == "disable", actor=staff.name
                )
            elif what == "role":
                try:
                    role = Role(fields.get("role", ""))
                except ValueError:
                    raise AccountError("请选择角色。") from None
                await accounts.set_role(session, name=name, role=role, actor=staff.name)
            elif what == "reset-password":
                password = accounts.generate_password()
                await accounts.set_password(session, name=name, password=password, actor=staff.name)
            else:
                raise web.HTTPNotFound()
    except AccountError as exc:
        return await _users_with(request, 400, error=str(exc))
    if password is not None:
        return await _users_with(request, 200, reset=(name, password))
    return redirect("/admin/users?done=1")


def _day(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(request: web.Request) -> tuple[audit.AuditFilter, dict[str, str], list[str]]:
    tz = request.config_dict[keys.SETTINGS].tz
    query = request.query
    shown = {k: query.get(k, "")[:100] for k in ("actor", "action", "target", "since", "until")}
    problems = []
    since, until = _day(shown["since"]), _day(shown["until"])
    for key, value in (("since", since), ("until", until)):
        if shown[key] and value is None:
            problems.append("日期请写成 2026-12-01 这样。")
            shown[key] = ""
    where = audit.AuditFilter(
        actor=shown["actor"] or None,
        action=shown["action"] or None,
        target=shown["target"] or None,
        since=datetime.combine(since.date(), time(), tz) if since else None,
        until=datetime.combine(until.date(), time(), tz) + timedelta(days=1) if until else None,
    )
    return where, shown, problems


def _page_number(request: web.Request) -> int:
    return max(whole_number(request.query.get("page"), 1, digits=5), 1)


async def audit_log(request: web.Request) -> web.StreamResponse:
    where, shown, problems = _filters(request)
    number = _page_number(request)
    async with request.config_dict[keys.SESSIONS]() as session:
        events, total = await audit.find(
            session, where, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
        )
        actors = await audit.actors(session)
    return render(
        request,
        "audit.html",
        {
            "events": events,
            "total": total,
            "page": number,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": shown,
            "problems": problems,
            "actors": actors,
            "actions": audit.ACTION_NAMES,
            "tz": request.config_dict[keys.SETTINGS].tz,
            "query": request.query_string,
        },
    )


async def audit_csv(request: web.Request) -> web.StreamResponse:
    where, _, _ = _filters(request)
    async with request.config_dict[keys.SESSIONS]() as session:
        events, _ = await audit.find(session, where, limit=100_000)
    body = audit.to_csv(events, request.config_dict[keys.SETTINGS].tz)
    return web.Response(
        text=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


def add_routes(app: web.Application) -> None:
    route(app, "GET", "/audit", audit_log, roles=CONTENT)
    route(app, "GET", "/audit.csv", audit_csv, roles=CONTENT)
    route(app, "GET", "/users", users, roles=ADMIN)
    route(app, "POST", "/users", add_user, roles=ADMIN)
    route(app, "POST", "/users/{name}/{what}", change_user, roles=ADMIN)
