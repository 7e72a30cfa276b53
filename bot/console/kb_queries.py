"""The knowledge-base list staff search and filter, with drafts and residents' feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.conversation.models import AnswerFeedback, QuestionLog
from knowledge.models import KbDraft, KbEntry, KbQuestion

PAGE_SIZE = 50
FILTERS = {
    "": "全部",
    "overdue": "已过核对期",
    "unreviewed": "等待首次审核",
    "drafts": "有草稿",
    "unhelpful": "“没帮助”最多",
    "archived": "已归档",
}


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    category: str
    status: str
    version: int
    reviewed: date
    review_by: date
    approved_by: str | None
    draft_state: str | None
    unhelpful: int


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    total: int
    page: int
    pages: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def find_entries(
    session: AsyncSession,
    *,
    search: str = "",
    category: str = "",
    which: str = "",
    today: date,
    page: int = 1,
) -> Listing:
    unhelpful = (
        select(func.count())
        .where(
            col(AnswerFeedback.entry_id) == col(KbEntry.id), col(AnswerFeedback.helpful).is_(False)
        )
        .correlate(KbEntry)
        .scalar_subquery()
    )
    draft_state = (
        select(col(KbDraft.state))
        .where(col(KbDraft.entry_id) == col(KbEntry.id))
        .correlate(KbEntry)
        .scalar_subquery()
    )
    conditions: list[Any] = []
    if which != "archived":
        conditions.append(col(KbEntry.status) != "archived")
    else:
        conditions.append(col(KbEntry.status) == "archived")
    for word in search.split()[:5]:
        pattern = _like(word[:50])
        conditions.append(
            or_(
                col(KbEntry.id).like(pattern, escape="\\"),
                col(KbEntry.title).like(pattern, escape="\\"),
                cast(col(KbEntry.keywords), String).like(pattern, escape="\\"),
                exists().where(
                    and_(
                        col(KbQuestion.entry_id) == col(KbEntry.id),
                        col(KbQuestion.text).like(pattern, escape="\\"),
                    )
                ),
            )
        )
    if category:
        conditions.append(col(KbEntry.category) == category)
    if which == "overdue":
        conditions.append(col(KbEntry.review_by) < today)
    elif which == "unreviewed":
        conditions.append(col(KbEntry.approved_by).is_(None))
    elif which == "drafts":
        conditions.append(draft_state.is_not(None))
    elif which == "unhelpful":
        conditions.append(unhelpful > 0)
    total = int(
        await session.scalar(select(func.count()).select_from(KbEntry).where(*conditions)) or 0
    )
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    order = [unhelpful.desc(), col(KbEntry.id)] if which == "unhelpful" else [col(KbEntry.id)]
    rows = await session.execute(
        select(
            col(KbEntry.id),
            col(KbEntry.title),
            col(KbEntry.category),
            col(KbEntry.status),
            col(KbEntry.version),
            col(KbEntry.reviewed),
            col(KbEntry.review_by),
            col(KbEntry.approved_by),
            draft_state.label("draft_state"),
            unhelpful.label("unhelpful"),
        )
        .where(*conditions)
        .order_by(*order)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return Listing([Row(*row) for row in rows], total, page, pages)


async def new_drafts(session: AsyncSession) -> list[KbDraft]:
    """Drafts of entries that do not exist yet (they have no row in the list)."""
    rows = await session.execute(
        select(KbDraft).where(~exists().where(col(KbEntry.id) == col(KbDraft.entry_id)))
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class Feedback:
    helpful: int
    unhelpful: int
    recent_questions: list[tuple[datetime, str, float]]


async def feedback_for(session: AsyncSession, entry_id: str, *, limit: int = 20) -> Feedback:
    counts = (
        await session.execute(
            select(
                func.sum(case((col(AnswerFeedback.helpful).is_(True), 1), else_=0)),
                func.sum(case((col(AnswerFeedback.helpful).is_(False), 1), else_=0)),
            ).where(col(AnswerFeedback.entry_id) == entry_id)
        )
    ).one()
    questions = await session.execute(
        select(col(QuestionLog.asked_at), col(QuestionLog.text), col(QuestionLog.score))
        .where(col(QuestionLog.entry_id) == entry_id)
        .order_by(col(QuestionLog.asked_at).desc())
        .limit(limit)
    )
    return Feedback(int(counts[0] or 0), int(counts[1] or 0), [tuple(r) for r in questions])  # type: ignore[misc]
