"""What advisors do on a case from the console: 认领, 回复, 结案, 已回电, and 转为知识库草稿 once
it is closed. Each is one POST (the guard has checked the origin and the CSRF token), one
transaction through ``bot.escalations.service``, then the relay sends what the action wrote
(to the resident on Telegram, to the advisors' group), then back to the case's page.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keys
from bot.console import audit
from bot.console.models import Role
from bot.console.staff_sessions import Staff
from bot.console.views_escalations import (
    ANSWERING,
    ESCALATION_ROLES,
    MAX_REPLY_CHARS,
    NO_CASE,
    case_id_of,
    show,
)
from bot.console.web import CONTENT, STAFF, form, now, page, redirect, route
from bot.escalations import callbacks, queries
from bot.escalations.models import Author, CaseState, Escalation
from bot.escalations.service import Advisor, Cases, Refused
from knowledge import editing
from knowledge.models import KbDraft, KbEntry
from knowledge.schema import CATEGORIES

log = logging.getLogger(__name__)

NOT_ADVISOR = "只有养老顾问（或管理员）可以认领案件、回复居民和记录回电；您可以查看和结案。"
EMPTY_REPLY = "回复是空的，请写好再发送。"
MAX_NOTE_CHARS = 2000
DRAFT_CATEGORY = "养老"
TITLE_CHARS = 30


@dataclass(frozen=True)
class Acting:
    """One button pressed on a case's page: by whom, on which case, with the form's fields,
    in the transaction the action runs in."""

    cases: Cases
    session: AsyncSession
    case_id: int
    staff: Staff
    fields: dict[str, str]
    moment: datetime

    @property
    def advisor(self) -> Advisor:
        return Advisor(self.staff.user_id, self.staff.name)


Action = Callable[[Acting], Awaitable[None]]


async def _claim(act: Acting) -> None:
    claimed = await act.cases.claim(act.session, act.case_id, act.advisor, now=act.moment)
    if not claimed.won:
        if claimed.holder is None:
            raise Refused("这个案件已经结案了。")
        raise Refused(f"晚了一步：这个案件已由工号 {claimed.holder} 认领。")


async def _reply(act: Acting) -> None:
    await act.cases.from_advisor(
        act.session,
        act.case_id,
        act.advisor,
        text=_reply_text(act.fields),
        via="console",
        now=act.moment,
    )


async def _close(act: Acting) -> None:
    note = act.fields.get("note", "").strip()[:MAX_NOTE_CHARS] or None
    closed = await act.cases.close(
        act.session,
        act.case_id,
        # Staff close a case as the bureau; the resident is told either way.
        by="staff" if act.staff.role == Role.staff else "advisor",
        actor=act.staff.name,
        note=note,
        now=act.moment,
    )
    if closed is None:
        raise Refused("这个案件已经结案了。")


async def _called(act: Acting) -> None:
    result = act.fields.get("result", "")
    if result not in callbacks.CALL_RESULTS:
        raise Refused("请选择回电的结果。")
    await callbacks.mark_called(
        act.cases, act.session, act.case_id, act.advisor, result=result, now=act.moment
    )


async def _offer_callback(act: Acting) -> None:
    """转电话回访: the resident is asked for a number (with the consent text)."""
    await callbacks.offer_callback(act.cases, act.session, act.case_id, now=act.moment)


ACTIONS: dict[str, Action] = {
    "claim": _claim,
    "reply": _reply,
    "close": _close,
    "called": _called,
    "offer-callback": _offer_callback,
}
SPEAKING = frozenset({"claim", "reply", "called", "offer-callback"})


def _reply_text(fields: dict[str, str]) -> str:
    return fields.get("text", "").replace("\r\n", "\n").strip()


def _reply_problem(text: str) -> str | None:
    if not text:
        return EMPTY_REPLY
    if len(text) > MAX_REPLY_CHARS:
        return (
            f"回复最多 {MAX_REPLY_CHARS} 个字，这条有 {len(text)} 个字，没有发出。请分成几条发送。"
        )
    return None


async def _sync(request: web.Request, case_id: int) -> None:
    """Send what the action wrote, now. Committed already: should Telegram be away, the
    sweeper sends it later, so the advisor's action is not reported as failed."""
    try:
        await request.config_dict[keys.RELAY].sync(case_id)
    except Exception:
        log.exception(
            "relay after a console action failed; the sweeper retries it", extra={"case": case_id}
        )


async def act(request: web.Request) -> web.StreamResponse:
    """POST /admin/escalations/{case_id}/{action}."""
    case_id = case_id_of(request)
    action = request.match_info["action"]
    if case_id is None or (action not in ACTIONS and action != "draft"):
        return page(request, 404, NO_CASE, title="找不到")
    staff = request[STAFF]
    if action in SPEAKING and staff.role not in ANSWERING:
        return await show(request, case_id, error=NOT_ADVISOR, status=403)
    fields = await form(request) or {}
    if action == "draft":
        return await _to_draft(request, case_id)
    if action == "reply" and (problem := _reply_problem(_reply_text(fields))):
        return await show(request, case_id, error=problem, status=400, reply=_reply_text(fields))
    cases = request.config_dict[keys.CASES]
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            if await cases.get(session, case_id) is None:
                return page(request, 404, NO_CASE, title="找不到")
            await ACTIONS[action](Acting(cases, session, case_id, staff, fields, now(request)))
    except Refused as refused:
        kept = _reply_text(fields) if action == "reply" else ""
        return await show(request, case_id, error=str(refused), status=409, reply=kept)
    await _sync(request, case_id)
    return redirect(f"/admin/escalations/{case_id}?done={action}")


# 转为知识库草稿 ---------------------------------------------------------------------------------


def draft_id(case_id: int) -> str:
    return f"case-{case_id}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def draft_values(
    session: AsyncSession, case: Escalation, moment: datetime
) -> dict[str, object]:
    """A new entry's first draft from a closed case: the resident's need as its question, the
    advisor's replies as its answer. Not yet an entry (one question, no source): the editor
    adds the other wordings and the source, and takes out anything personal, before review."""
    assert case.id is not None
    messages = await queries.transcript(session, case.id)
    question = _one_line(case.need or "")
    if not question:
        question = next(
            (
                _one_line(m.text)
                for m in messages
                if m.author == Author.resident and m.kind == "text" and m.text and m.text.strip()
            ),
            "",
        )
    answer = "\n".join(
        m.text.strip() for m in messages if m.author == Author.advisor and m.text and m.text.strip()
    )
    if not question:
        raise Refused("这个案件里没有居民的问题（可能已按居民的要求删除），无法转为草稿。")
    if not answer:
        raise Refused("这个案件里没有顾问的回复，无法转为草稿。")
    title = question if len(question) <= TITLE_CHARS else question[: TITLE_CHARS - 1] + "…"
    return {
        "id": draft_id(case.id),
        "title": title,
        "category": case.topic if case.topic in CATEGORIES else DRAFT_CATEGORY,
        "questions": [question],
        "answer": answer,
        "reviewed": str(moment.date()),
        "review_by": str(moment.date() + timedelta(days=365)),
    }


async def _to_draft(request: web.Request, case_id: int) -> web.StreamResponse:
    staff = request[STAFF]
    cases = request.config_dict[keys.CASES]
    entry_id = draft_id(case_id)
    moment = now(request)
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            case = await cases.get(session, case_id)
            if case is None:
                return page(request, 404, NO_CASE, title="找不到")
            if case.state != CaseState.closed:
                raise Refused("结案以后才能转为知识库草稿。")
            exists = (
                await editing.draft_of(session, entry_id) is not None
                or await session.get(KbEntry, entry_id) is not None
            )
            if not exists:
                values = await draft_values(session, case, moment)
                # Written as a draft being edited, not through ``editing.save``: that takes
                # only a complete entry, and this one is completed in the editor.
                session.add(
                    KbDraft(
                        entry_id=entry_id,
                        base_version=0,
                        snapshot=values,
                        created_by=staff.name,
                        last_editor=staff.name,
                        updated_at=moment,
                    )
                )
                audit.record(
                    session,
                    actor=staff.name,
                    action="escalation_draft",
                    target_type="escalation",
                    target_id=str(case_id),
                    after={"entry_id": entry_id},
                    at=moment,
                )
    except Refused as refused:
        return await show(request, case_id, error=str(refused), status=409)
    except IntegrityError:
        exists = True  # a colleague pressed it at the same moment
    if staff.role in CONTENT:
        return redirect(f"/admin/kb/{entry_id}" + ("" if exists else "/edit"))
    return redirect(f"/admin/escalations/{case_id}?done={'draft_exists' if exists else 'draft'}")


def add_routes(app: web.Application) -> None:
    route(app, "POST", "/escalations/{case_id}/{action}", act, roles=ESCALATION_ROLES)
