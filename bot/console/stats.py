"""The numbers of the 数据 page (and of /metrics): questions per day answered or not, the answer
rate, the entries most asked for, and residents' feedback, over a chosen period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.conversation.models import AnswerFeedback, QuestionLog
from knowledge.models import KbEntry

PERIODS = {7: "最近 7 天", 30: "最近 30 天", 90: "最近 90 天"}
PIECE = 2000


@dataclass(frozen=True)
class Day:
    day: date
    answered: int
    fallback: int

    @property
    def total(self) -> int:
        return self.answered + self.fallback


@dataclass(frozen=True)
class Stats:
    since: datetime
    days: list[Day]
    top_entries: list[tuple[str, str, int]]  # (id, title, questions)
    helpful: int
    unhelpful: int
    most_unhelpful: list[tuple[str, str, int]]

    @property
    def answered(self) -> int:
        return sum(d.answered for d in self.days)

    @property
    def fallback(self) -> int:
        return sum(d.fallback for d in self.days)

    @property
    def total(self) -> int:
        return self.answered + self.fallback

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.total if self.total else None


async def _per_day(session: AsyncSession, since: datetime, tz: ZoneInfo) -> dict[date, list[int]]:
    """Counted per local day in Python: the two databases group by date differently, and a
    period holds at most a few hundred thousand rows read as two small columns."""
    counts: dict[date, list[int]] = {}
    rows = await session.stream(
        select(col(QuestionLog.asked_at), col(QuestionLog.fallback))
        .where(col(QuestionLog.asked_at) >= since)
        .execution_options(yield_per=PIECE)
    )
    # In pieces: between them the event loop serves others.
    async for piece in rows.partitions(PIECE):
        for asked_at, fallback in piece:
            slot = counts.setdefault(asked_at.astimezone(tz).date(), [0, 0])
            slot[1 if fallback else 0] += 1
    return counts


async def gather(session: AsyncSession, *, days: int, now: datetime) -> Stats:
    tz = now.tzinfo if isinstance(now.tzinfo, ZoneInfo) else ZoneInfo("Asia/Shanghai")
    first = now.astimezone(tz).date() - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tz)
    counts = await _per_day(session, since, tz)
    series = [
        Day(first + timedelta(days=n), *counts.get(first + timedelta(days=n), [0, 0]))
        for n in range(days)
    ]
    top = await session.execute(
        select(col(QuestionLog.entry_id), col(KbEntry.title), func.count())
        .join(KbEntry, col(KbEntry.id) == col(QuestionLog.entry_id))
        .where(col(QuestionLog.asked_at) >= since, col(QuestionLog.fallback).is_(False))
        .group_by(col(QuestionLog.entry_id), col(KbEntry.title))
        .order_by(func.count().desc(), col(QuestionLog.entry_id))
        .limit(10)
    )
    feedback = (
        await session.execute(
            select(
                func.sum(case((col(AnswerFeedback.helpful).is_(True), 1), else_=0)),
                func.sum(case((col(AnswerFeedback.helpful).is_(False), 1), else_=0)),
            ).where(col(AnswerFeedback.given_at) >= since)
        )
    ).one()
    unhelpful = await session.execute(
        select(col(AnswerFeedback.entry_id), col(KbEntry.title), func.count())
        .join(KbEntry, col(KbEntry.id) == col(AnswerFeedback.entry_id))
        .where(col(AnswerFeedback.given_at) >= since, col(AnswerFeedback.helpful).is_(False))
        .group_by(col(AnswerFeedback.entry_id), col(KbEntry.title))
        .order_by(func.count().desc(), col(AnswerFeedback.entry_id))
        .limit(10)
    )
    return Stats(
        since=since,
        days=series,
        top_entries=[(str(a), str(b), int(c)) for a, b, c in top],
        helpful=int(feedback[0] or 0),
        unhelpful=int(feedback[1] or 0),
        most_unhelpful=[(str(a), str(b), int(c)) for a, b, c in unhelpful],
    )
