"""Reading cases for people: the console inbox's lists, a case's transcript, the CLI."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.escalations.callbacks import CALL_RESULTS, phone_of, window_text
from bot.escalations.cards import context_of
from bot.escalations.models import CASE_STATE_NAMES, CaseState, Escalation, EscalationMessage
from bot.escalations.service import Cases


class View(enum.StrEnum):
    waiting = "waiting"  # open, nobody has claimed it
    mine = "mine"  # claimed by the advisor looking
    active = "active"  # claimed by anyone
    closed = "closed"
    all = "all"


VIEW_NAMES = {
    View.waiting: "等待认领",
    View.mine: "我负责的",
    View.active: "处理中",
    View.closed: "已结案",
    View.all: "全部",
}


def _where(view: View, advisor_id: int | None) -> list[Any]:
    if view is View.waiting:
        return [col(Escalation.state) == CaseState.open]
    if view is View.mine:
        return [
            col(Escalation.state) == CaseState.claimed,
            col(Escalation.advisor_id) == advisor_id,
        ]
    if view is View.active:
        return [col(Escalation.state) == CaseState.claimed]
    if view is View.closed:
        return [col(Escalation.state) == CaseState.closed]
    return []


async def list_cases(
    session: AsyncSession,
    view: View,
    *,
    advisor_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Escalation], int]:
    """Cases in ``view``: waiting ones oldest first (who waited longest comes first), the rest
    newest first; and how many there are in all."""
    where = _where(view, advisor_id)
    order = (
        [col(Escalation.opened_at), col(Escalation.id)]
        if view is View.waiting
        else [col(Escalation.id).desc()]
    )
    rows = await session.execute(
        select(Escalation).where(*where).order_by(*order).limit(limit).offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(Escalation).where(*where))
    return list(rows.scalars()), int(total or 0)


async def counts(session: AsyncSession, advisor_id: int | None) -> dict[View, int]:
    result = {}
    for view in (View.waiting, View.mine, View.active, View.closed):
        where = _where(view, advisor_id)
        total = await session.scalar(select(func.count()).select_from(Escalation).where(*where))
        result[view] = int(total or 0)
    return result


async def transcript(
    session: AsyncSession, case_id: int, *, after: int = 0, limit: int = 500
) -> list[EscalationMessage]:
    """The case's messages after message id ``after``, in order."""
    rows = await session.execute(
        select(EscalationMessage)
        .where(
            col(EscalationMessage.escalation_id) == case_id,
            col(EscalationMessage.id) > after,
        )
        .order_by(col(EscalationMessage.id))
        .limit(limit)
    )
    return list(rows.scalars())


def _time(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


def summary(cases: Cases, case: Escalation, tz: ZoneInfo, *, with_phone: bool) -> dict[str, Any]:
    """A case as plain data (the CLI's JSON; the console reads the same)."""
    today = datetime.now(tz).date()
    data: dict[str, Any] = {
        "id": case.id,
        "state": case.state,
        "state_name": CASE_STATE_NAMES[CaseState(case.state)],
        "channel": case.channel,
        "topic": case.topic,
        "town": case.town,
        "need": case.need,
        "advisor_id": case.advisor_id,
        "opened_at": _time(case.opened_at, tz),
        "claimed_at": _time(case.claimed_at, tz),
        "first_reply_at": _time(case.first_reply_at, tz),
        "closed_at": _time(case.closed_at, tz),
        "closed_by": case.closed_by,
        "solved": case.solved,
        "reopened": case.reopened,
        "guesses": context_of(case).get("guesses", []),
        "callback": None,
    }
    if case.callback_requested_at is not None:
        data["callback"] = {
            "when": window_text(case.callback_day, case.callback_afternoon, today),
            "phone": phone_of(cases, case) if with_phone else None,
            "called_at": _time(case.called_at, tz),
            "result": CALL_RESULTS.get(case.call_result or ""),
        }
    return data


def message_data(message: EscalationMessage, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": message.id,
        "author": message.author,
        "staff_id": message.staff_id,
        "kind": message.kind,
        "text": message.text,
        "via": message.via,
        "at": _time(message.created_at, tz),
        "to_desk": message.to_desk,
        "to_resident": message.to_resident,
    }


def transcript_data(messages: Sequence[EscalationMessage], tz: ZoneInfo) -> list[dict[str, Any]]:
    return [message_data(m, tz) for m in messages]
