"""人工服务: the advisors' inbox on the console, the same cases as the advisors' Telegram group
(a case claimed on the phone is answered here, and the other way round).

This module reads: the inbox's lists and a case's page. What advisors do on a case (认领, 回复,
结案, 已回电, 转为知识库草稿) is in ``views_escalation_case``; both go through
``bot.escalations.service``, never around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from bot import keys
from bot.console.models import Role
from bot.console.web import STAFF, now, page, render, route, whole_number
from bot.escalations import advisors, queries
from bot.escalations.callbacks import CALL_RESULTS
from bot.escalations.cards import MAX_TURNS, MEDIA_NAMES, context_of
from bot.escalations.models import (
    CASE_STATE_NAMES,
    CaseState,
    Delivery,
    Escalation,
    EscalationMessage,
)

# Everyone on the console may open the inbox: advisors answer, staff see and close.
ESCALATION_ROLES = frozenset({Role.advisor, Role.staff, Role.admin})
# Who may speak to a resident (认领, 回复, 已回电): what residents read is signed 养老顾问.
ANSWERING = frozenset(advisors.ROLES)
PAGE_SIZE = 30
NEED_CHARS = 40
MAX_REPLY_CHARS = 4000
NO_CASE = "没有这个案件。请回到人工服务的列表查看。"
CHANNEL_NAMES = {"telegram": "Telegram", "web": "网页"}
VIA_NAMES = {"telegram": "Telegram", "console": "工作台"}
CLOSED_BY_NAMES = {
    "advisor": "顾问结案",
    "staff": "工作人员结案",
    "cli": "命令行结案",
    "resident": "居民结束了服务",
    "stop": "居民删除了自己的数据",
    "blocked": "居民屏蔽了助手",
}
# What the page says after an action succeeded (``?done=…``).
DONE = {
    "claim": "已认领：这个案件由您负责。",
    "reply": "回复已发出。",
    "close": "已结案，居民会收到“问题解决了吗？”。",
    "called": "已记下回电结果。",
    "offer-callback": "已请居民留电话：居民发来号码和方便的时间后，这里会显示。",
    "draft": "已转为知识库草稿。知识库的同事补充、审核之后，助手才会这样回答。",
    "draft_exists": "这个案件已经转过知识库草稿了。",
}


@dataclass(frozen=True)
class Row:
    """One case as the inbox's table shows it."""

    id: int
    state: str
    state_name: str
    town: str
    topic: str
    need: str
    opened_at: datetime
    waited: int | None
    holder: int | None
    channel: str


@dataclass(frozen=True)
class Said:
    """One transcript message as the case page shows it."""

    who: str
    author: str
    at: datetime
    text: str
    undelivered: bool


def _waiting_since(case: Escalation) -> datetime:
    # A reopened case waits from its reopening (``announced_at`` then); a new one from its
    # opening (``announced_at`` moves with each reminder to the group, so it is not used).
    if case.reopened and case.announced_at is not None:
        return case.announced_at
    return case.opened_at


def minutes_waited(case: Escalation, moment: datetime) -> int:
    return max(0, int((moment - _waiting_since(case)).total_seconds() // 60))


def _short(text: str | None, limit: int = NEED_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row(case: Escalation, moment: datetime) -> Row:
    assert case.id is not None
    state = CaseState(case.state)
    return Row(
        id=case.id,
        state=state.value,
        state_name=CASE_STATE_NAMES[state],
        town=case.town or "未知",
        topic=case.topic or "咨询",
        need=_short(case.need) or "（没有留言）",
        opened_at=case.opened_at,
        waited=minutes_waited(case, moment) if state is CaseState.open else None,
        holder=case.advisor_id if state is CaseState.claimed else None,
        channel=CHANNEL_NAMES.get(case.channel, case.channel),
    )


def _view(raw: str | None) -> queries.View:
    try:
        return queries.View(raw or "waiting")
    except ValueError:
        return queries.View.waiting


async def inbox(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    view = _view(request.query.get("view"))
    number = max(1, whole_number(request.query.get("page"), 1, digits=5))
    async with request.config_dict[keys.SESSIONS]() as session:
        counted = await queries.counts(session, staff.user_id)
        total = (
            counted[queries.View.waiting]
            + counted[queries.View.active]
            + counted[queries.View.closed]
        )
        pages = max(1, -(-(total if view is queries.View.all else counted[view]) // PAGE_SIZE))
        number = min(number, pages)
        cases, _ = await queries.list_cases(
            session,
            view,
            advisor_id=staff.user_id,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )
    moment = now(request)
    tabs = [
        (v.value, name, total if v is queries.View.all else counted[v])
        for v, name in queries.VIEW_NAMES.items()
    ]
    return render(
        request,
        "escalations.html",
        {
            "view": view.value,
            "view_name": queries.VIEW_NAMES[view],
            "tabs": tabs,
            "rows": [_row(c, moment) for c in cases],
            "page": number,
            "pages": pages,
            "tz": request.config_dict[keys.SETTINGS].tz,
        },
    )


def case_id_of(request: web.Request) -> int | None:
    """The case number in the address, or None when it is no number at all."""
    found = whole_number(request.match_info.get("case_id"), 0, digits=9)
    return found or None


def _who(message: EscalationMessage) -> str:
    if message.author == "resident":
        return "居民"
    if message.author == "advisor":
        via = VIA_NAMES.get(message.via)
        return f"工号 {message.staff_id}" + (f"（{via}）" if via else "")
    return "系统"


def _said_text(message: EscalationMessage, case_open: bool) -> str:
    text = message.text or ""
    if message.kind in MEDIA_NAMES:
        # The file itself stays in Telegram (the group's topic shows it). A contact card's
        # text is a phone number: shown only while the case is open, like the callback's.
        label = f"[{MEDIA_NAMES[message.kind]}]"
        if message.kind == "contact" and not case_open:
            return label
        return f"{label} {text}".strip()
    return text


def said(messages: list[EscalationMessage], case: Escalation) -> list[Said]:
    case_open = case.state != CaseState.closed
    return [
        Said(
            who=_who(m),
            author=m.author,
            at=m.created_at,
            text=_said_text(m, case_open),
            undelivered=m.author == "advisor" and m.to_resident == Delivery.failed,
        )
        for m in messages
    ]


async def show(
    request: web.Request,
    case_id: int,
    *,
    error: str | None = None,
    status: int = 200,
    reply: str = "",
) -> web.Response:
    """The case's page; after a refused action, with why (and what was typed, kept)."""
    staff = request[STAFF]
    cases = request.config_dict[keys.CASES]
    tz = request.config_dict[keys.SETTINGS].tz
    async with request.config_dict[keys.SESSIONS]() as session:
        case = await cases.get(session, case_id)
        if case is None:
            return page(request, 404, NO_CASE, title="找不到")
        messages = await queries.transcript(session, case_id)
    state = CaseState(case.state)
    # The number is for this callback only: shown while the case runs (it is deleted at close).
    data = queries.summary(cases, case, tz, with_phone=state is not CaseState.closed)
    context = context_of(case)
    turns = [t for t in context.get("turns", []) if isinstance(t, dict)][-MAX_TURNS:]
    guesses = [g for g in data["guesses"] if isinstance(g, dict)]
    answering = staff.role in ANSWERING
    mine = state is CaseState.claimed and case.advisor_id == staff.user_id
    done = request.query.get("done", "")
    context_: dict[str, Any] = {
        "case": case,
        "data": data,
        "state": state.value,
        "channel": CHANNEL_NAMES.get(case.channel, case.channel),
        "closed_by": CLOSED_BY_NAMES.get(case.closed_by or "", "已结案"),
        "waited": minutes_waited(case, now(request)) if state is CaseState.open else None,
        "guesses": guesses,
        "turns": turns,
        "messages": said(messages, case),
        "call_results": CALL_RESULTS,
        "may_claim": answering and state is CaseState.open,
        "may_reply": answering and (state is CaseState.open or mine),
        "may_call": answering
        and state is not CaseState.closed
        and data["callback"] is not None
        and data["callback"]["phone"] is not None
        and case.called_at is None,
        "may_close": state is not CaseState.closed,
        "may_draft": state is CaseState.closed,
        "answering": answering,
        "mine": mine,
        "error": error,
        "done": DONE.get(done) if error is None else None,
        "reply": reply,
        "max_reply": MAX_REPLY_CHARS,
        "tz": tz,
    }
    response = render(request, "escalation.html", context_, status=status)
    # The page may hold a phone number and a resident's words: not kept by the browser.
    response.headers["Cache-Control"] = "no-store"
    return response


async def case_page(request: web.Request) -> web.StreamResponse:
    case_id = case_id_of(request)
    if case_id is None:
        return page(request, 404, NO_CASE, title="找不到")
    return await show(request, case_id)


def add_routes(app: web.Application) -> None:
    route(app, "GET", "/escalations", inbox, roles=ESCALATION_ROLES)
    route(app, "GET", "/escalations/{case_id}", case_page, roles=ESCALATION_ROLES)
