"""What residents asked that found no answer: the fallback questions of a period and those whose
answer got 没帮助, read from the question log for clustering (``knowledge.unanswered``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console.models import DismissedQuestion
from bot.conversation.models import AnswerFeedback, QuestionLog
from knowledge.normalize import normalize
from knowledge.unanswered import Asked

# Enough for a busy quarter; beyond it the newest are kept.
MAX_READ = 200_000


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def dismissed(session: AsyncSession) -> set[str]:
    return set((await session.execute(select(col(DismissedQuestion.text)))).scalars())


# Rows are read in pieces of this many: between pieces the event loop serves others.
PIECE = 2000


async def unanswered(session: AsyncSession, *, since: datetime) -> list[Asked]:
    """Fallback questions since ``since``, and the questions that led to a 没帮助, newest first.
    The texts staff dismissed are taken out by ``without_dismissed``, in the clustering thread
    (normalising 100,000 texts here would hold up the event loop)."""
    items: list[Asked] = []
    rows = await session.stream(
        select(col(QuestionLog.text), col(QuestionLog.asked_at))
        .where(col(QuestionLog.asked_at) >= since, col(QuestionLog.fallback).is_(True))
        .order_by(col(QuestionLog.asked_at).desc())
        .limit(MAX_READ)
        .execution_options(yield_per=PIECE)
    )
    async for piece in rows.partitions(PIECE):
        items.extend(Asked(text=text, asked_at=_aware(asked_at)) for text, asked_at in piece)
    # A 没帮助 is stored against the entry, not the question: the question is the resident's
    # last one answered by that entry before the feedback.
    feedback = (
        await session.execute(
            select(
                col(AnswerFeedback.user_key),
                col(AnswerFeedback.entry_id),
                col(AnswerFeedback.given_at),
            ).where(col(AnswerFeedback.given_at) >= since, col(AnswerFeedback.helpful).is_(False))
        )
    ).all()
    if feedback:
        users = {user for user, _, _ in feedback}
        asked = await session.execute(
            select(
                col(QuestionLog.user_key),
                col(QuestionLog.entry_id),
                col(QuestionLog.text),
                col(QuestionLog.asked_at),
            )
            .where(col(QuestionLog.user_key).in_(users), col(QuestionLog.asked_at) >= since)
            .order_by(col(QuestionLog.asked_at))
        )
        by_user: dict[tuple[str, str | None], list[tuple[datetime, str]]] = {}
        for user, entry_id, text, asked_at in asked:
            by_user.setdefault((user, entry_id), []).append((_aware(asked_at), text))
        for user, entry_id, given_at in feedback:
            earlier = [q for q in by_user.get((user, entry_id), []) if q[0] <= _aware(given_at)]
            if earlier:
                items.append(Asked(text=earlier[-1][1], asked_at=earlier[-1][0], unhelpful=True))
    return items


def without_dismissed(items: list[Asked], hidden: set[str]) -> list[Asked]:
    """CPU-bound: call it in the clustering thread."""
    if not hidden:
        return items
    return [item for item in items if normalize(item.text) not in hidden]
