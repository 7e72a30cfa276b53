"""Phone callbacks: the resident shares a number (for this callback only, deleted when the case
closes) and picks a half-day; the advisor marks 已回电 with the result."""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import texts
from bot.conversation.steps import State
from bot.escalations.models import Author, CaseState, Escalation
from bot.escalations.service import Advisor, Cases, Refused

CALL_RESULTS = {
    "solved": "已回电，问题已解决",
    "more": "已回电，还要继续跟进",
    "missed": "打了没人接",
}
HALF_DAYS = {False: "上午", True: "下午"}
# Mainland mobile and fixed-line numbers, as residents type them (spaces and hyphens allowed).
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9}|0\d{2,3}\d{7,8}|\d{8})$")


def clean_phone(raw: str) -> str | None:
    """A phone number from what a resident typed or shared, or None if it is not one."""
    digits = re.sub(r"[\s\-（）()]", "", raw.strip()).translate(
        str.maketrans("０１２３４５６７８９＋", "0123456789+")
    )
    match = _PHONE.match(digits)
    return match.group(1) if match else None


def window_text(day: date | None, afternoon: bool | None, today: date) -> str:
    if day is None or afternoon is None:
        return "时间未定"
    when = {0: "今天", 1: "明天"}.get((day - today).days, f"{day.month}月{day.day}日")
    return f"{when}{HALF_DAYS[afternoon]}"


async def offer_callback(
    cases: Cases, session: AsyncSession, case_id: int, *, now: datetime
) -> str:
    """转电话回访: the resident is asked, with the consent text, for a number to phone. Says
    what was done, for the advisor."""
    case = await cases.get(session, case_id)
    if case is None or case.state == CaseState.closed or case.user_key is None:
        raise Refused("这个案件已经结案了。")
    if case.phone_sealed is not None:
        return "居民已经留了电话，见案件卡片。"
    cases.add_message(
        session,
        case,
        Author.system,
        "callback_offer",
        texts.CALLBACK_CONSENT,
        via="system",
        to_resident=cases.resident_delivery(case),
        now=now,
    )
    await cases.steps.move(
        session, case.channel, case.user_key, State.AWAIT_CONTACT, only_from=(State.WITH_ADVISOR,)
    )
    return "已请居民留电话。"


async def share_phone(
    cases: Cases, session: AsyncSession, case: Escalation, phone: str, *, now: datetime
) -> None:
    if case.state == CaseState.closed:
        raise Refused("这个案件已经结案。")
    case.phone_sealed = cases.keyring.seal(phone)
    case.callback_requested_at = now
    case.called_at = case.call_result = None


async def choose_window(
    cases: Cases,
    session: AsyncSession,
    case: Escalation,
    *,
    day: date,
    afternoon: bool,
    now: datetime,
) -> None:
    case.callback_day, case.callback_afternoon = day, afternoon
    cases.add_message(
        session,
        case,
        Author.system,
        "callback",
        f"居民请顾问{window_text(day, afternoon, now.date())}回电。",
        via="system",
        to_desk=cases.desk_delivery(),
        now=now,
    )


async def mark_called(
    cases: Cases,
    session: AsyncSession,
    case_id: int,
    advisor: Advisor,
    *,
    result: str,
    now: datetime,
) -> Escalation:
    if result not in CALL_RESULTS:
        raise Refused("回电结果不对。")
    case = await cases.get(session, case_id)
    if case is None or case.phone_sealed is None:
        raise Refused("这个案件没有要回电的电话号码。")
    case.called_at, case.call_result = now, result
    cases.add_message(
        session,
        case,
        Author.system,
        "called",
        f"{advisor.badge}：{CALL_RESULTS[result]}。",
        via="system",
        staff_id=advisor.staff_id,
        to_desk=cases.desk_delivery(),
        now=now,
    )
    cases.audit(session, case, advisor.name, "escalation_called_back", now, note=result)
    return case


def phone_of(cases: Cases, case: Escalation) -> str | None:
    if case.phone_sealed is None:
        return None
    try:
        return cases.keyring.unseal(case.phone_sealed)
    except ValueError:
        return None
