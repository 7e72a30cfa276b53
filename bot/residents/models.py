"""A resident per channel identity: the pseudonymous key everything else is kept under, and
the raw chat id only while there is a purpose for it.

The chat id is what lets an advisor's answer (or, later, a reminder) reach a resident who is
not writing at that moment. It is sealed at rest (``bot.keyring``), kept with the purposes it
serves (``reachable_for``), and dropped when the last purpose ends or the resident sends /stop.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.conversation.models import utcnow
from knowledge.models import UtcDateTime

# Purposes a chat id is kept for.
ESCALATION = "escalation"


class Resident(SQLModel, table=True):
    __tablename__ = "resident"
    __table_args__ = (UniqueConstraint("channel", "user_key", name="uq_resident_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    # The raw chat id, sealed; None when no purpose needs it.
    chat_sealed: str | None = Field(default=None, sa_column=Column(Text))
    # Space-separated purposes the chat id is kept for, e.g. "escalation".
    reachable_for: str = Field(default="", max_length=200)
    # Telegram answered 403 (the resident blocked the bot): nothing more is sent.
    inactive_since: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )

    @property
    def purposes(self) -> set[str]:
        return set(self.reachable_for.split())
