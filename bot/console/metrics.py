"""The 数据 page's numbers on /metrics, refreshed from the database when scraped."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.console import stats
from bot.web.metrics import HttpMetrics
from jobs import outbox
from knowledge.models import KbDraft, KbEntry

REFRESH_S = 30.0


async def refresh(
    metrics: HttpMetrics, sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    if time.monotonic() - metrics.refreshed < REFRESH_S and metrics.refreshed:
        return
    metrics.refreshed = time.monotonic()
    async with sessions() as session:
        numbers = await stats.gather(session, days=1, now=now)
        today = now.date()
        overdue = await session.scalar(
            select(func.count()).select_from(KbEntry).where(col(KbEntry.review_by) < today)
        )
        unreviewed = await session.scalar(
            select(func.count()).select_from(KbEntry).where(col(KbEntry.approved_by).is_(None))
        )
        drafts = await session.scalar(select(func.count()).select_from(KbDraft))
        reminders = await outbox.counts(session)
        oldest_due = await outbox.oldest_due(session, now)
    metrics.questions.labels("answered").set(numbers.answered)
    metrics.questions.labels("fallback").set(numbers.fallback)
    metrics.answer_rate.set(numbers.answer_rate or 0.0)
    metrics.feedback.labels("true").set(numbers.helpful)
    metrics.feedback.labels("false").set(numbers.unhelpful)
    metrics.entries.labels("overdue").set(int(overdue or 0))
    metrics.entries.labels("awaiting_first_review").set(int(unreviewed or 0))
    metrics.entries.labels("with_draft").set(int(drafts or 0))
    for state, n in reminders.items():
        metrics.reminder_outbox.labels(state).set(n)
    lag = (now - oldest_due).total_seconds() if oldest_due is not None else 0.0
    metrics.reminder_outbox_lag.set(max(0.0, lag))
