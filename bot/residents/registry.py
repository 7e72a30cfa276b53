"""Every table that holds a resident's data, in one list: /stop deletes from each and the
retention purge ages each out, so a new table cannot be forgotten by one and not the other
(a test checks that every table with a ``user_key`` column is listed).

Some rows stay for statistics with what identifies the resident removed ("scrubbed"): a case's
number, state and timings outlive the resident's words and phone number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from bot.console.models import DismissedQuestion
from bot.conversation.models import AnswerFeedback, ConversationState, QuestionLog
from bot.escalations.models import CaseState, Escalation, EscalationMessage
from bot.residents.models import Resident
from jobs.models import (
    FINAL_STATES,
    CaregiverLink,
    CareState,
    CodeAttempt,
    OutboxRow,
    ReminderChange,
    ReminderFact,
    ReminderProfile,
    ReminderSubscription,
)

Match = Callable[[str, str], ColumnElement[bool]]
Aged = Callable[[datetime], ColumnElement[bool]]

# What a case keeps once its resident is forgotten: no words, no number, no key.
_SCRUBBED_CASE: Mapping[str, Any] = {
    "user_key": None,
    "need": None,
    "context": None,
    "phone_sealed": None,
    "close_note": None,
}


@dataclass(frozen=True)
class ResidentData:
    name: str
    model: type[SQLModel]
    # The rows of one resident (channel, pseudonymous key); None: not linked to a resident.
    match: Match | None
    # The rows past the retention period (cutoff in UTC).
    expired: Aged
    # Clear these columns instead of deleting the row.
    scrub: Mapping[str, Any] = field(default_factory=dict)

    def forget_statement(self, channel: str, user_key: str) -> Any:
        assert self.match is not None
        return self._apply(self.match(channel, user_key))

    def purge_statement(self, cutoff: datetime) -> Any:
        return self._apply(self.expired(cutoff))

    def _apply(self, where: ColumnElement[bool]) -> Any:
        if self.scrub:
            return update(self.model).where(where).values(**self.scrub)
        return delete(self.model).where(where)


def _by_key(model: Any) -> Match:
    return lambda channel, user_key: col(model.user_key) == user_key


def _closed_case_ids(cutoff: datetime) -> Any:
    return select(col(Escalation.id)).where(
        col(Escalation.state) == CaseState.closed, col(Escalation.closed_at) < cutoff
    )


def _no_profile(model: Any) -> Aged:
    """Rows of a resident whose reminder profile is gone (consent withdrawn or aged out)."""
    return lambda cutoff: (
        ~exists().where(
            col(ReminderProfile.channel) == col(model.channel),
            col(ReminderProfile.user_key) == col(model.user_key),
        )
    )


REGISTRY: tuple[ResidentData, ...] = (
    ResidentData(
        "escalation_message",
        EscalationMessage,
        _by_key(EscalationMessage),
        lambda cutoff: col(EscalationMessage.escalation_id).in_(_closed_case_ids(cutoff)),
    ),
    ResidentData(
        "escalation",
        Escalation,
        lambda channel, user_key: and_(
            col(Escalation.channel) == channel, col(Escalation.user_key) == user_key
        ),
        lambda cutoff: and_(
            col(Escalation.state) == CaseState.closed,
            col(Escalation.closed_at) < cutoff,
            col(Escalation.user_key).is_not(None),
        ),
        scrub=_SCRUBBED_CASE,
    ),
    # Reminders: a profile is kept while the resident wants reminders; one who blocked the bot
    # for the whole period is forgotten, and with the profile go its topics and changes.
    ResidentData(
        "reminder_profile",
        ReminderProfile,
        _by_key(ReminderProfile),
        lambda cutoff: col(ReminderProfile.inactive_since) < cutoff,
    ),
    ResidentData(
        "reminder_subscription",
        ReminderSubscription,
        _by_key(ReminderSubscription),
        _no_profile(ReminderSubscription),
    ),
    ResidentData(
        "reminder_change", ReminderChange, _by_key(ReminderChange), _no_profile(ReminderChange)
    ),
    ResidentData(
        "reminder_fact",
        ReminderFact,
        _by_key(ReminderFact),
        lambda cutoff: or_(
            col(ReminderFact.due_on) < cutoff.date(), _no_profile(ReminderFact)(cutoff)
        ),
    ),
    ResidentData(
        "reminder_code_attempt",
        CodeAttempt,
        _by_key(CodeAttempt),
        lambda cutoff: col(CodeAttempt.at) < cutoff,
    ),
    ResidentData(
        "reminder_caregiver",
        CaregiverLink,
        lambda channel, user_key: or_(
            col(CaregiverLink.resident_key) == user_key,
            col(CaregiverLink.caregiver_key) == user_key,
        ),
        lambda cutoff: or_(
            col(CaregiverLink.ended_at) < cutoff,
            and_(
                col(CaregiverLink.state) == CareState.invited,
                col(CaregiverLink.expires_at) < cutoff,
            ),
            # The resident's profile aged out: nothing is copied any more.
            ~exists().where(
                col(ReminderProfile.channel) == col(CaregiverLink.resident_channel),
                col(ReminderProfile.user_key) == col(CaregiverLink.resident_key),
            ),
        ),
    ),
    # What was sent stays in the history for the period, then goes (the sent log keeps only
    # hashes, for the anti-fraud check).
    ResidentData(
        "reminder_outbox",
        OutboxRow,
        lambda channel, user_key: or_(
            col(OutboxRow.recipient_key) == user_key, col(OutboxRow.for_key) == user_key
        ),
        lambda cutoff: and_(
            col(OutboxRow.state).in_(FINAL_STATES), col(OutboxRow.updated_at) < cutoff
        ),
    ),
    ResidentData(
        "resident",
        Resident,
        lambda channel, user_key: and_(
            col(Resident.channel) == channel, col(Resident.user_key) == user_key
        ),
        # Only residents no purpose keeps reachable, or who blocked the bot for the period, or
        # family members whose copies all ended.
        lambda cutoff: and_(
            col(Resident.updated_at) < cutoff,
            or_(
                col(Resident.reachable_for) == "",
                col(Resident.inactive_since) < cutoff,
                and_(
                    col(Resident.reachable_for) == "caregiver",
                    ~exists().where(
                        col(CaregiverLink.caregiver_key) == col(Resident.user_key),
                        col(CaregiverLink.state) == CareState.active,
                    ),
                ),
            ),
        ),
    ),
    ResidentData(
        "conversation_state",
        ConversationState,
        lambda channel, user_key: col(ConversationState.id) == f"{channel}:{user_key}",
        lambda cutoff: col(ConversationState.updated_at) < cutoff,
    ),
    ResidentData(
        "question_log",
        QuestionLog,
        _by_key(QuestionLog),
        lambda cutoff: col(QuestionLog.asked_at) < cutoff,
    ),
    ResidentData(
        "answer_feedback",
        AnswerFeedback,
        _by_key(AnswerFeedback),
        lambda cutoff: col(AnswerFeedback.given_at) < cutoff,
    ),
    # Question texts staff set aside: not a resident's, but written by residents.
    ResidentData(
        "dismissed_question",
        DismissedQuestion,
        None,
        lambda cutoff: col(DismissedQuestion.dismissed_at) < cutoff,
    ),
)


async def forget(session: AsyncSession, channel: str, user_key: str) -> None:
    """Delete (or scrub) everything kept under one resident's key, in the caller's transaction."""
    for data in REGISTRY:
        if data.match is not None:
            await session.execute(data.forget_statement(channel, user_key))


async def purge(session: AsyncSession, cutoff: datetime) -> dict[str, int]:
    """Age out what is older than ``cutoff`` (UTC); rows touched per table."""
    counts: dict[str, int] = {}
    for data in REGISTRY:
        result = await session.execute(data.purge_statement(cutoff))
        assert isinstance(result, CursorResult)
        counts[data.name] = result.rowcount
    return counts
