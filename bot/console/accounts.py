"""Staff accounts: passwords, roles, lockout. Keyword-only functions over an ``AsyncSession``;
the caller owns the transaction, and each change adds its audit row to it.

Passwords are hashed with Argon2id (argon2-cffi's defaults). Five failed sign-ins for one account
within 15 minutes lock it for 15 minutes; the attempts are audited.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console import audit
from bot.console.models import AuditEvent, Role, StaffSession, StaffUser
from bot.conversation.models import utcnow

MIN_PASSWORD_LENGTH = 10
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,32}$")
# The passwords people pick first; refused whatever their length.
COMMON_PASSWORDS = frozenset(
    """
    1234567890 0123456789 12345678910 1234567891 0987654321 1111111111 0000000000 8888888888
    6666666666 1234512345 1122334455 1qaz2wsx3edc 1q2w3e4r5t qwertyuiop asdfghjkl1 zxcvbnm123
    password12 password123 password1234 passw0rd123 p@ssw0rd123 administrator admin12345
    admin123456 adminadmin iloveyou123 woaini1314 woaini5201314 5201314520 abc1234567
    abcdefghij abcd123456 a123456789 qwerty1234 qwerty12345 letmein123 welcome123 changeme123
    songjiang1 songjiang123 minzheng123 minzheng12 shanghai123 shanghai12 aa12345678
    """.split()
)

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about an account that cannot be done; ``str()`` says why, in Chinese."""


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少要 {MIN_PASSWORD_LENGTH} 个字符。"
    if password.lower() in COMMON_PASSWORDS or len(set(password)) <= 2:
        return "这个密码太常见，很容易被猜到，请换一个。"
    return None


def generate_password() -> str:
    """A password easy to read aloud and type: four groups of four letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def hash_password(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    return _hasher.hash(password)


def _check_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(user: StaffUser, password: str) -> bool:
    """Argon2 takes tens of milliseconds by design: checked in a thread."""
    return await asyncio.to_thread(_check_password, user.password_hash, password[:1024])


# Verifying against this when the account does not exist takes as long as a real check, so the
# time taken does not tell which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def public(user: StaffUser) -> dict[str, object]:
    """What is shown and audited of an account (never the hash)."""
    return {
        "name": user.name,
        "role": user.role,
        "disabled": user.disabled,
        "telegram_user_id": user.telegram_user_id,
    }


async def by_name(session: AsyncSession, name: str) -> StaffUser | None:
    return (
        await session.execute(select(StaffUser).where(col(StaffUser.name) == name))
    ).scalar_one_or_none()


async def _existing(session: AsyncSession, name: str) -> StaffUser:
    user = await by_name(session, name)
    if user is None:
        raise AccountError(f"没有名为 {name} 的账号。")
    return user


async def list_users(session: AsyncSession) -> list[StaffUser]:
    return list((await session.execute(select(StaffUser).order_by(col(StaffUser.name)))).scalars())


async def add_user(
    session: AsyncSession, *, name: str, role: Role, password: str, actor: str
) -> StaffUser:
    if not NAME_RE.match(name):
        raise AccountError("账号名要 2 到 32 个字符：汉字、字母、数字、点、横线或下划线。")
    if await by_name(session, name) is not None:
        raise AccountError(f"账号 {name} 已经有了。")
    user = StaffUser(name=name, role=role.value, password_hash=hash_password(password))
    session.add(user)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="user_created",
        target_type="user",
        target_id=name,
        after=public(user),
    )
    return user


async def end_sessions(session: AsyncSession, user: StaffUser) -> None:
    await session.execute(delete(StaffSession).where(col(StaffSession.user_id) == user.id))


def _changed(
    session: AsyncSession, user: StaffUser, action: str, actor: str, before: dict[str, object]
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="user",
        target_id=user.name,
        before=before,
        after=public(user),
    )


async def set_disabled(session: AsyncSession, *, name: str, disabled: bool, actor: str) -> None:
    user = await _existing(session, name)
    if user.disabled == disabled:
        return
    before = public(user)
    user.disabled = disabled
    if disabled:
        await end_sessions(session, user)
    else:
        user.locked_until = None
    _changed(session, user, "user_disabled" if disabled else "user_enabled", actor, before)


async def set_role(session: AsyncSession, *, name: str, role: Role, actor: str) -> None:
    user = await _existing(session, name)
    if user.role == role.value:
        return
    before = public(user)
    user.role = role.value
    # What the sessions may do changes with the role: sign in again.
    await end_sessions(session, user)
    _changed(session, user, "user_role_changed", actor, before)


async def set_password(
    session: AsyncSession, *, name: str, password: str, actor: str, own: bool = False
) -> None:
    user = await _existing(session, name)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.locked_until = None
    await end_sessions(session, user)
    # The audit row says that it changed, never what to.
    audit.record(
        session,
        actor=actor,
        action="password_changed" if own else "password_reset",
        target_type="user",
        target_id=name,
    )


async def link_telegram(
    session: AsyncSession, *, name: str, telegram_user_id: int, actor: str
) -> None:
    user = await _existing(session, name)
    before = public(user)
    user.telegram_user_id = telegram_user_id
    _changed(session, user, "telegram_linked", actor, before)


@dataclass(frozen=True)
class SignIn:
    user: StaffUser | None
    # Why not, in Chinese, when ``user`` is None.
    refusal: str | None = None


WRONG = "账号或密码不对，请再试一次。"
LOCKED = "这个账号连续输错密码，已暂时锁定 15 分钟。请稍后再试，或请管理员帮忙。"
DISABLED = "这个账号已停用，请联系管理员。"


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns: they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _recent_failures(session: AsyncSession, name: str, now: datetime) -> int:
    """Failed sign-ins for ``name`` in the last 15 minutes since its last good one, from the
    audit log (each attempt is audited anyway)."""
    since = now - FAILURE_WINDOW
    last_good = await session.scalar(
        select(func.max(col(AuditEvent.at))).where(
            col(AuditEvent.target_id) == name,
            col(AuditEvent.action).in_(("login", "password_reset", "user_enabled")),
        )
    )
    if last_good is not None:
        since = max(since, aware(last_good))
    count = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            col(AuditEvent.target_type) == "user",
            col(AuditEvent.target_id) == name,
            col(AuditEvent.action).in_(("login_failed", "login_locked")),
            col(AuditEvent.at) > since,
        )
    )
    return int(count or 0)


def _attempt(
    session: AsyncSession, name: str, action: str, now: datetime, note: str | None
) -> None:
    audit.record(
        session,
        actor=name,
        action=action,
        target_type="user",
        target_id=name,
        note=note,
        at=now,
    )


async def authenticate(
    session: AsyncSession, *, name: str, password: str, ip: str | None, now: datetime
) -> SignIn:
    """Check a sign-in and audit the attempt. The hash is checked in a thread (Argon2 takes
    tens of milliseconds by design), so the event loop stays free."""
    user = await by_name(session, name)
    stored = user.password_hash if user is not None else _DUMMY_HASH
    good = await asyncio.to_thread(_check_password, stored, password)
    where = f"ip={ip}" if ip else ""
    if user is None:
        _attempt(session, name[:64], "login_failed", now, where or None)
        return SignIn(None, WRONG)
    locked_until = aware(user.locked_until) if user.locked_until else None
    if locked_until is not None and locked_until > now:
        _attempt(session, user.name, "login_failed", now, f"{where} locked".strip())
        return SignIn(None, LOCKED)
    if not good:
        if await _recent_failures(session, user.name, now) + 1 >= MAX_FAILURES:
            user.locked_until = now + LOCK_FOR
            _attempt(session, user.name, "login_locked", now, where or None)
            return SignIn(None, LOCKED)
        _attempt(session, user.name, "login_failed", now, where or None)
        return SignIn(None, WRONG)
    if user.disabled:
        _attempt(session, user.name, "login_failed", now, f"{where} disabled".strip())
        return SignIn(None, DISABLED)
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    _attempt(session, user.name, "login", now, where or None)
    return SignIn(user)
