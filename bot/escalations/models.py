"""Escalation tables: a case per resident asking for a person, its transcript, and the codes
advisors link their Telegram account with.

A case's number, state and timings are kept for statistics; what identifies or describes the
resident (their key, their words, the phone number, the transcript) goes with /stop and with
retention.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bot.conversation.models import utcnow
from knowledge.models import UtcDateTime


class CaseState(enum.StrEnum):
    open = "open"
    claimed = "claimed"
    closed = "closed"


CASE_STATE_NAMES = {
    CaseState.open: "等待中",
    CaseState.claimed: "处理中",
    CaseState.closed: "已结案",
}


class Author(enum.StrEnum):
    resident = "resident"
    advisor = "advisor"
    # What the service itself said in the case (claimed, closed, a callback booked).
    system = "system"


class Delivery(enum.StrEnum):
    """A transcript message's way to one side: the advisors' desk or the resident."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class Escalation(SQLModel, table=True):
    __tablename__ = "escalation"
    __table_args__ = (
        # One case not closed per resident: two replicas opening at once cannot both succeed.
        Index(
            "uq_escalation_one_open",
            "channel",
            "user_key",
            unique=True,
            sqlite_where=text("state != 'closed'"),
            postgresql_where=text("state != 'closed'"),
        ),
        Index("ix_escalation_state", "state", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    # None once the resident's data is deleted (/stop, retention); the case's numbers stay.
    user_key: str | None = Field(default=None, max_length=64)
    state: str = Field(default=CaseState.open, max_length=16)
    # In the resident's own words, what they need.
    need: str | None = Field(default=None, sa_column=Column(Text))
    # The topic area of the bot's best guess (社会救助, 养老服务 …) and the resident's town.
    topic: str | None = Field(default=None, max_length=32)
    town: str | None = Field(default=None, max_length=16)
    # The bot's best guesses and the conversation before, as the card showed them (JSON text).
    context: str | None = Field(default=None, sa_column=Column(Text))
    advisor_id: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    # Where the case lives in the advisors' Telegram group: a forum topic, or a card replied to.
    desk_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    desk_thread_id: int | None = None
    card_message_id: int | None = None
    # What the card shows now (a digest), and whether the topic is closed: synced to the state.
    card_digest: str | None = Field(default=None, max_length=64)
    topic_closed: bool = False
    # Set while one process creates the case's topic, so that no other does.
    desk_claimed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    opened_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    first_reply_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    # Since when the resident waits for an advisor: the opening, or the latest reopening.
    waiting_since: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    # When the case was last announced to the group (opened, or re-announced while waiting).
    announced_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    # When the resident last wrote, the advisor last answered, the claimer was last reminded.
    resident_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    advisor_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    # advisor, resident, staff, stop (the resident's /stop), blocked (403), cli
    closed_by: str | None = Field(default=None, max_length=16)
    close_note: str | None = Field(default=None, sa_column=Column(Text))
    # The resident's answer to 问题解决了吗？
    solved: bool | None = None
    reopened: int = 0
    # A phone callback: the number (sealed) and when (day and half-day) the resident chose.
    phone_sealed: str | None = Field(default=None, sa_column=Column(Text))
    callback_day: date | None = Field(default=None, sa_column=Column(Date))
    callback_afternoon: bool | None = None
    callback_requested_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    called_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    call_result: str | None = Field(default=None, max_length=16)


class EscalationMessage(SQLModel, table=True):
    """One message of a case, whoever wrote it, and how far it got to the other side."""

    __tablename__ = "escalation_message"
    __table_args__ = (
        # A Telegram message relayed once, whichever replica (or retry) sees it.
        UniqueConstraint("source_chat_id", "source_message_id", name="uq_escalation_source"),
        Index("ix_escalation_message_case", "escalation_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", ondelete="CASCADE")
    user_key: str | None = Field(default=None, max_length=64, index=True)
    author: str = Field(max_length=16)
    # The advisor's account (工号) for advisor messages.
    staff_id: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    # text, photo, voice, audio, document, video, sticker, location, contact; or for system
    # messages what happened: claimed, closed, reopened, callback.
    kind: str = Field(max_length=16)
    text: str | None = Field(default=None, sa_column=Column(Text))
    # telegram, web, console
    via: str = Field(max_length=16)
    source_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    source_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
    # None: this side needs nothing sent (it is where the message was written, or it reads the
    # transcript itself, as the web chat and the console do).
    to_desk: str | None = Field(default=None, max_length=16)
    to_resident: str | None = Field(default=None, max_length=16)
    # The copy in the advisors' group: in an ordinary group, a reply to it finds the case.
    desk_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    # When a sender took the message (a row left 'sending' past a while is taken again).
    sending_since: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    attempts: int = 0


class AdvisorLinkCode(SQLModel, table=True):
    """A one-time code made on the console: the advisor sends it to the bot from their own
    Telegram account, which links that account to theirs."""

    __tablename__ = "advisor_link_code"

    # sha256 of the code: the table lets no one link an account.
    id: str = Field(primary_key=True, max_length=64)
    staff_id: int = Field(foreign_key="staff_user.id", ondelete="CASCADE")
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
