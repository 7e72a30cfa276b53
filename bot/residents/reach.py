"""Keeping and dropping the raw chat id a purpose needs (``Resident``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.keyring import KeyRing, SealBroken
from bot.residents.models import Resident


async def resident(session: AsyncSession, channel: str, user_key: str) -> Resident | None:
    return await session.scalar(
        select(Resident).where(col(Resident.channel) == channel, col(Resident.user_key) == user_key)
    )


async def reach(
    session: AsyncSession,
    keyring: KeyRing,
    *,
    channel: str,
    user_key: str,
    chat_id: str,
    purpose: str,
    now: datetime,
) -> Resident:
    """Keep ``chat_id`` for ``purpose`` (sealed anew under the current key)."""
    found = await resident(session, channel, user_key)
    if found is None:
        found = Resident(channel=channel, user_key=user_key, created_at=now)
        session.add(found)
    found.chat_sealed = keyring.seal(chat_id)
    found.reachable_for = " ".join(sorted(found.purposes | {purpose}))
    found.inactive_since = None
    found.updated_at = now
    return found


async def release(
    session: AsyncSession, *, channel: str, user_key: str, purpose: str, now: datetime
) -> None:
    """``purpose`` no longer needs the chat id; the id goes when no purpose is left."""
    found = await resident(session, channel, user_key)
    if found is None:
        return
    left = found.purposes - {purpose}
    found.reachable_for = " ".join(sorted(left))
    if not left:
        found.chat_sealed = None
    found.updated_at = now


def chat_id(keyring: KeyRing, found: Resident | None) -> str | None:
    """The chat id, or None when it is not kept (or was sealed under another secret)."""
    if found is None or found.chat_sealed is None:
        return None
    try:
        return keyring.unseal(found.chat_sealed)
    except SealBroken:
        return None


async def mark_inactive(
    session: AsyncSession, *, channel: str, user_key: str, now: datetime
) -> None:
    found = await resident(session, channel, user_key)
    if found is not None:
        found.inactive_since = now
        found.updated_at = now


async def active_again(
    session: AsyncSession, *, channel: str, user_key: str, now: datetime
) -> None:
    """The resident wrote again after blocking the bot."""
    found = await resident(session, channel, user_key)
    if found is not None and found.inactive_since is not None:
        found.inactive_since = None
        found.updated_at = now
