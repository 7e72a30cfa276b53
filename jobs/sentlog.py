"""Did the bot send this? A resident forwards a message that claims to come from the bureau; the
sent log (a hash of each reminder's text and its time, nobody's identity) answers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from jobs.models import SentDigest
from jobs.outbox import digest

# How far a forward's date may be from the time we sent it (clocks, a queue at Telegram).
AROUND = timedelta(hours=2)
# How long the log is kept: long enough for an old reminder to be forwarded.
KEEP = timedelta(days=400)


async def was_sent(session: AsyncSession, text: str, *, around: datetime | None) -> bool:
    query = select(col(SentDigest.id)).where(col(SentDigest.digest) == digest(text))
    if around is not None:
        query = query.where(
            col(SentDigest.sent_at) >= around - AROUND, col(SentDigest.sent_at) <= around + AROUND
        )
    return await session.scalar(query.limit(1)) is not None
