"""Conversation tables: where each resident is in a conversation, what residents asked (for
staff, under a pseudonymous key), their feedback on answers, and requests for an advisor."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from knowledge.models import UtcDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class ConversationState(SQLModel, table=True):
    __tablename__ = "conversation_state"

    # "<channel>:<pseudonymous key>"
    id: str = Field(primary_key=True, max_length=100)
    pending: str | None = Field(default=None, max_length=32)
    category: str | None = Field(default=None, max_length=64)
    last_entry_id: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class QuestionLog(SQLModel, table=True):
    """Every question, for staff to see what residents asked and what found no answer."""

    __tablename__ = "question_log"
    __table_args__ = (Index("ix_question_log_asked_at", "asked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_key: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    text: str = Field(sa_column=Column(Text, nullable=False))
    entry_id: str | None = Field(default=None, max_length=64)
    score: float
    fallback: bool
    asked_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class AnswerFeedback(SQLModel, table=True):
    __tablename__ = "answer_feedback"

    id: int | None = Field(default=None, primary_key=True)
    user_key: str = Field(max_length=64)
    entry_id: str = Field(max_length=64, index=True)
    helpful: bool
    given_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )


class AdvisorRequest(SQLModel, table=True):
    """A resident asked for a human eldercare advisor (the advisors' side comes later)."""

    __tablename__ = "advisor_request"

    id: int | None = Field(default=None, primary_key=True)
    user_key: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    last_question: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
