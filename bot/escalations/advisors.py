"""Who may act on cases from Telegram (console users with role advisor or admin and a linked
Telegram account), linking that account with a one-time code, and finding the case a message in
the advisors' group belongs to."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console import audit
from bot.console.models import Role, StaffUser
from bot.escalations.models import AdvisorLinkCode, Escalation, EscalationMessage
from bot.escalations.service import Advisor

CODE_VALID = timedelta(minutes=15)
# Letters and digits that cannot be mistaken for one another when read off a screen.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
ROLES = (Role.advisor, Role.admin)


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def advisor_of(user: StaffUser) -> Advisor:
    assert user.id is not None
    return Advisor(user.id, user.name)


async def by_telegram(session: AsyncSession, telegram_user_id: int) -> Advisor | None:
    user = await session.scalar(
        select(StaffUser).where(
            col(StaffUser.telegram_user_id) == telegram_user_id,
            col(StaffUser.disabled).is_(False),
            col(StaffUser.role).in_([r.value for r in ROLES]),
        )
    )
    return advisor_of(user) if user is not None else None


async def create_link_code(session: AsyncSession, user: StaffUser, *, now: datetime) -> str:
    """A new code for ``user`` (any earlier one stops working); shown once, stored hashed."""
    assert user.id is not None
    await session.execute(delete(AdvisorLinkCode).where(col(AdvisorLinkCode.staff_id) == user.id))
    code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(AdvisorLinkCode(id=_digest(code), staff_id=user.id, expires_at=now + CODE_VALID))
    return code


async def redeem_link_code(
    session: AsyncSession, code: str, telegram_user_id: int, *, now: datetime
) -> StaffUser | None:
    """Link the Telegram account that sent ``code`` (once, before it expires)."""
    found = await session.get(AdvisorLinkCode, _digest(code))
    if found is None:
        return None
    await session.delete(found)
    if found.expires_at < now:
        return None
    user = await session.get(StaffUser, found.staff_id)
    if user is None or user.disabled:
        return None
    before = {"telegram_user_id": user.telegram_user_id}
    # One Telegram account is one person: an earlier link of it to another account ends.
    await session.execute(
        update(StaffUser)
        .where(col(StaffUser.telegram_user_id) == telegram_user_id, col(StaffUser.id) != user.id)
        .values(telegram_user_id=None)
    )
    user.telegram_user_id = telegram_user_id
    audit.record(
        session,
        actor=user.name,
        action="telegram_linked",
        target_type="staff_user",
        target_id=user.name,
        before=before,
        after={"telegram_user_id": telegram_user_id},
        note="一次性绑定码",
        at=now,
    )
    return user


async def case_at_desk(
    session: AsyncSession, chat_id: int, *, thread_id: int | None, reply_to: int | None
) -> int | None:
    """The case a group message belongs to: its forum topic, or (in an ordinary group) the
    card or relayed message it replies to."""
    if thread_id is not None:
        found = await session.scalar(
            select(col(Escalation.id))
            .where(
                col(Escalation.desk_chat_id) == chat_id, col(Escalation.desk_thread_id) == thread_id
            )
            .order_by(col(Escalation.id).desc())
            .limit(1)
        )
        if found is not None:
            return int(found)
    if reply_to is None:
        return None
    found = await session.scalar(
        select(col(Escalation.id)).where(
            col(Escalation.desk_chat_id) == chat_id,
            or_(
                col(Escalation.card_message_id) == reply_to,
                col(Escalation.id).in_(
                    select(col(EscalationMessage.escalation_id)).where(
                        col(EscalationMessage.desk_message_id) == reply_to
                    )
                ),
            ),
        )
    )
    return int(found) if found is not None else None
