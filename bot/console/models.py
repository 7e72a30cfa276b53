"""The console's tables: staff accounts, their server-side sessions, and the audit log.

Sessions live in the database, not in the cookie, so that signing out everywhere, disabling an
account or an idle timeout ends them at once. Only a hash of a session token is stored: a copy
of the table lets no one sign in.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from bot.conversation.models import utcnow
from knowledge.models import UtcDateTime


class Role(enum.StrEnum):
    """staff edit and review content; admin also manages accounts; advisor sees escalations."""

    staff = "staff"
    advisor = "advisor"
    admin = "admin"


ROLE_NAMES = {Role.staff: "工作人员", Role.advisor: "养老顾问", Role.admin: "管理员"}


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    disabled: bool = False
    # Advisors answer from Telegram too (the next issue): their own Telegram account.
    telegram_user_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    locked_until: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    password_changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_session"

    # sha256 of the token in the cookie.
    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="staff_user.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    last_seen: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class AuditEvent(SQLModel, table=True):
    """One change, by whom, when, to what, with the values before and after."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_target", "target_type", "target_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False))
    # The account's name, or "cli" / "import" / "system" for changes made outside the console.
    actor: str = Field(max_length=64, index=True)
    action: str = Field(max_length=48, index=True)
    target_type: str = Field(max_length=32)
    target_id: str = Field(max_length=128)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    note: str | None = Field(default=None, sa_column=Column(Text))


class DismissedQuestion(SQLModel, table=True):
    """A question text (normalised) staff set aside on 未解答问题: hidden from the clusters from
    then on. New wordings still show up."""

    __tablename__ = "dismissed_question"

    text: str = Field(primary_key=True, max_length=500)
    dismissed_by: str = Field(max_length=64)
    dismissed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
