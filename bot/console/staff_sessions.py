"""Server-side console sessions: the cookie holds a random token; the table holds its hash.

A session ends when its owner signs out (here or everywhere), when the account is disabled or
its role or password changes, and after eight idle hours.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console.accounts import aware
from bot.console.models import Role, StaffSession, StaffUser
from bot.keyring import KeyRing, Purpose

IDLE_TIMEOUT = timedelta(hours=8)
# last_seen is written at most this often, not on every page.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Staff:
    """The signed-in person, as views see them."""

    user_id: int
    name: str
    role: Role
    session_id: str

    def can(self, *roles: Role) -> bool:
        return self.role in roles


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


async def start(session: AsyncSession, user: StaffUser, now: datetime) -> str:
    """A new session for ``user``; returns the token for the cookie."""
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(id=_digest(token), user_id=user.id, created_at=now, last_seen=now))
    return token


async def resolve(session: AsyncSession, token: str, now: datetime) -> Staff | None:
    """The staff member a token belongs to, or None (unknown, idle too long, disabled)."""
    if not token or len(token) > 128:
        return None
    found = (
        await session.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, col(StaffUser.id) == col(StaffSession.user_id))
            .where(col(StaffSession.id) == _digest(token))
        )
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    if user.disabled or now - aware(row.last_seen) > IDLE_TIMEOUT:
        await session.delete(row)
        return None
    if now - aware(row.last_seen) > TOUCH_EVERY:
        row.last_seen = now
    assert user.id is not None
    return Staff(user_id=user.id, name=user.name, role=Role(user.role), session_id=row.id)


async def end(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(StaffSession).where(col(StaffSession.id) == session_id))


async def end_all(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(StaffSession).where(col(StaffSession.user_id) == user_id))


def csrf_token(keyring: KeyRing, session_id: str) -> str:
    """The form token of one session: tied to it, so a token from another session fails."""
    return keyring.sign(Purpose.CSRF, f"csrf:{session_id}", length=64)


def csrf_matches(expected: str, given: object) -> bool:
    return isinstance(given, str) and given.isascii() and hmac.compare_digest(expected, given)
