"""How long what residents leave behind is kept (``MINZHENG_QUESTION_LOG_DAYS``).

Past the period, these go: logged questions, feedback on answers, a resident's conversation
step (web chat and Telegram) untouched for that long, and the question texts staff set aside on
the console's unanswered-questions page. Advisor requests stay: they are the
advisors' work list, and the advisors' issue decides their life.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.console.models import DismissedQuestion
from bot.conversation.models import AnswerFeedback, ConversationState, QuestionLog
from bot.telegram.models import TelegramData

# Once a day is enough for a period counted in days.
PURGE_EVERY_S = 24 * 3600


@dataclass(frozen=True)
class Purged:
    cutoff: datetime
    questions: int
    feedback: int
    steps: int

    def as_dict(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "questions": self.questions,
            "feedback": self.feedback,
            "steps": self.steps,
        }


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession], *, keep_days: int, now: datetime
) -> Purged:
    """Delete what is older than ``keep_days`` before ``now`` (tz-aware), in one transaction."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # Compared in UTC: SQLite keeps these columns as UTC text without an offset.
    cutoff = (now - timedelta(days=keep_days)).astimezone(UTC)
    async with sessions() as session, session.begin():
        counts = []
        for statement in (
            delete(QuestionLog).where(col(QuestionLog.asked_at) < cutoff),
            delete(AnswerFeedback).where(col(AnswerFeedback.given_at) < cutoff),
            delete(ConversationState).where(col(ConversationState.updated_at) < cutoff),
            delete(TelegramData).where(col(TelegramData.updated_at) < cutoff),
            delete(DismissedQuestion).where(col(DismissedQuestion.dismissed_at) < cutoff),
        ):
            result = await session.execute(statement)
            assert isinstance(result, CursorResult)
            counts.append(result.rowcount)
    return Purged(
        cutoff=cutoff.astimezone(now.tzinfo),
        questions=counts[0],
        feedback=counts[1],
        steps=counts[2] + counts[3],
    )
