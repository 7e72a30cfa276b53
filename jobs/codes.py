"""One-time codes: staff give a resident one for a fact of their case (``/bind CODE``), and a
resident gives one to a family member to receive copies. Eight digits (easy on a phone's
keypad), stored hashed, valid for a while, good once; a resident may try five wrong codes an
hour, so guessing one of 10^8 is hopeless."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from jobs import outbox, preferences
from jobs.models import (
    BindCode,
    CaregiverLink,
    CareState,
    CodeAttempt,
    FactKind,
    ReminderChange,
    ReminderFact,
)
from jobs.topics import BY_CODE

DIGITS = 8
BIND_VALID = timedelta(days=30)
INVITE_VALID = timedelta(days=3)
TRIES_PER_HOUR = 5
FACT_TOPICS = {FactKind.rental_due: "rental", FactKind.review_due: "review"}


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalise(text: str) -> str | None:
    """The code in what a resident typed ("1234 5678", full-width digits, dashes), or None."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())
    digits = digits.replace("-", "")
    if len(digits) != DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    return digits


def _new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(DIGITS))


def shown(code: str) -> str:
    return f"{code[:4]} {code[4:]}"


async def create_bind_code(
    session: AsyncSession,
    *,
    kind: FactKind,
    due_on: date,
    label: str,
    by: str,
    now: datetime,
) -> str:
    code = _new_code()
    session.add(
        BindCode(
            id=_digest(code),
            kind=kind,
            topic=FACT_TOPICS[kind],
            due_on=due_on,
            label=label.strip()[:40],
            created_by=by,
            created_at=now,
            expires_at=now + BIND_VALID,
        )
    )
    return code


class Redeemed(StrEnum):
    bound = "bound"
    invited = "invited"  # a family member's invitation: confirmed with a press
    wrong = "wrong"
    expired = "expired"
    used = "used"
    throttled = "throttled"
    no_consent = "no_consent"
    needs_sensitive_consent = "needs_sensitive_consent"
    own_invitation = "own_invitation"


@dataclass(frozen=True)
class Redemption:
    result: Redeemed
    fact: ReminderFact | None = None
    invitation: CaregiverLink | None = None


async def _throttled(session: AsyncSession, channel: str, user_key: str, now: datetime) -> bool:
    tries = await session.scalar(
        select(func.count()).where(
            col(CodeAttempt.channel) == channel,
            col(CodeAttempt.user_key) == user_key,
            col(CodeAttempt.at) > now - timedelta(hours=1),
        )
    )
    return (tries or 0) >= TRIES_PER_HOUR


async def redeem(
    session: AsyncSession, *, channel: str, user_key: str, typed: str, now: datetime
) -> Redemption:
    """``/bind CODE``: a staff code binds its fact; a family invitation is found (and confirmed
    by a press, ``accept_invitation``)."""
    if await _throttled(session, channel, user_key, now):
        return Redemption(Redeemed.throttled)
    code = normalise(typed)
    digest = _digest(code) if code else None
    bind = await session.get(BindCode, digest) if digest else None
    invitation = (
        await session.scalar(select(CaregiverLink).where(col(CaregiverLink.code_id) == digest))
        if digest and bind is None
        else None
    )
    if bind is None and invitation is None:
        session.add(CodeAttempt(channel=channel, user_key=user_key, at=now))
        return Redemption(Redeemed.wrong)
    if invitation is not None:
        if invitation.expires_at <= now or invitation.state != CareState.invited:
            return Redemption(Redeemed.expired)
        if invitation.resident_key == user_key:
            return Redemption(Redeemed.own_invitation)
        # Whoever sent the code is the one who may confirm (a button's data can be forged).
        invitation.caregiver_channel, invitation.caregiver_key = channel, user_key
        return Redemption(Redeemed.invited, invitation=invitation)
    assert bind is not None
    if bind.used_at is not None:
        return Redemption(Redeemed.used)
    if bind.expires_at <= now:
        return Redemption(Redeemed.expired)
    found = await preferences.profile(session, channel, user_key)
    if found is None:
        return Redemption(Redeemed.no_consent)
    if BY_CODE[bind.topic].sensitive and found.sensitive_consented_at is None:
        return Redemption(Redeemed.needs_sensitive_consent)
    # Once: of two residents sending one code at the same moment, one binds.
    taken = await session.execute(
        update(BindCode)
        .where(col(BindCode.id) == bind.id, col(BindCode.used_at).is_(None))
        .values(used_at=now)
    )
    assert isinstance(taken, CursorResult)
    if taken.rowcount != 1:
        return Redemption(Redeemed.used)
    fact = ReminderFact(
        channel=channel,
        user_key=user_key,
        kind=bind.kind,
        topic=bind.topic,
        due_on=bind.due_on,
        label=bind.label,
        code_id=bind.id,
        bound_at=now,
    )
    session.add(fact)
    await preferences.set_topic(session, channel, user_key, bind.topic, True, now)
    session.add(
        ReminderChange(channel=channel, user_key=user_key, change="bind", detail=bind.label, at=now)
    )
    return Redemption(Redeemed.bound, fact=fact)


async def invite(
    session: AsyncSession, *, channel: str, user_key: str, label: str, now: datetime
) -> str:
    """A code the resident gives a family member; ``label`` is how that person knows them."""
    await preferences.require(session, channel, user_key)
    code = _new_code()
    session.add(
        CaregiverLink(
            resident_channel=channel,
            resident_key=user_key,
            code_id=_digest(code),
            label=label.strip()[:20],
            created_at=now,
            expires_at=now + INVITE_VALID,
        )
    )
    session.add(
        ReminderChange(
            channel=channel, user_key=user_key, change="caregiver_invited", detail="", at=now
        )
    )
    return code


async def accept_invitation(
    session: AsyncSession, *, link_id: int, channel: str, user_key: str, now: datetime
) -> CaregiverLink | None:
    """The family member who sent the code confirmed in their own chat (once)."""
    confirmed = await session.execute(
        update(CaregiverLink)
        .where(
            col(CaregiverLink.id) == link_id,
            col(CaregiverLink.state) == CareState.invited,
            col(CaregiverLink.expires_at) > now,
            col(CaregiverLink.caregiver_channel) == channel,
            col(CaregiverLink.caregiver_key) == user_key,
            col(CaregiverLink.resident_key) != user_key,
        )
        .values(state=CareState.active, confirmed_at=now, code_id=None)
    )
    assert isinstance(confirmed, CursorResult)
    if confirmed.rowcount != 1:
        return None
    link = await session.get(CaregiverLink, link_id, populate_existing=True)
    assert link is not None
    session.add(
        ReminderChange(
            channel=link.resident_channel,
            user_key=link.resident_key,
            change="caregiver_confirmed",
            detail="",
            at=now,
        )
    )
    return link


async def end_link(
    session: AsyncSession, *, link_id: int, channel: str, user_key: str, now: datetime
) -> CaregiverLink | None:
    """Either side ends the copies; nothing more is copied, and what waits is cancelled."""
    link = await session.get(CaregiverLink, link_id)
    if link is None or link.state == CareState.ended:
        return None
    sides = {
        (link.resident_channel, link.resident_key),
        (link.caregiver_channel, link.caregiver_key),
    }
    if (channel, user_key) not in sides:
        return None
    link.state, link.ended_at, link.code_id = CareState.ended, now, None
    for side_channel, side_key in sides:
        if side_channel is not None and side_key is not None:
            session.add(
                ReminderChange(
                    channel=side_channel,
                    user_key=side_key,
                    change="caregiver_ended",
                    detail="",
                    at=now,
                )
            )
    await outbox.cancel(
        session,
        now=now,
        why="家人副本已结束",
        channel=link.caregiver_channel or channel,
        caregiver_link_id=link.id,
    )
    return link


async def links_of(session: AsyncSession, channel: str, user_key: str) -> list[CaregiverLink]:
    """The family members a resident invited (confirmed or waiting)."""
    rows = await session.scalars(
        select(CaregiverLink)
        .where(
            col(CaregiverLink.resident_channel) == channel,
            col(CaregiverLink.resident_key) == user_key,
            col(CaregiverLink.state) != CareState.ended,
        )
        .order_by(col(CaregiverLink.id))
    )
    return list(rows)
