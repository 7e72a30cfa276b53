"""Conversation tables: where each resident is in a conversation, what residents asked (for
staff, under a pseudonymous key) and their feedback on answers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from knowledge.models import UtcDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


class ConversationState(SQLModel, table=True):
    """Where a resident is in the conversation, for Telegram and the web chat alike
    (``bot.conversation.steps``)."""

    __tablename__ = "conversation_state"

    # "<channel>:<pseudonymous key>"
    id: str = Field(primary_key=True, max_length=100)
    # A ``bot.conversation.states.State``; None is idle.
    state: str | None = Field(default=None, max_length=32)
    category: str | None = Field(default=None, max_length=64)
    # The town the resident last named or sent a location in (a case's topic shows it).
    town: str | None = Field(default=None, max_length=16)
    # The resident's case with an advisor, open or last closed.
    escalation_id: int | None = None
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
