"""A migrated database for the reminders' tests, and a fake of our own ``Messenger`` port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from jobs.sender import Delivered, Outcome, Outgoing

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        yield session_factory(engine)


class Clock:
    """A fixed time that tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeMessenger:
    """Records what would reach residents; answers with planned outcomes first."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.planned: list[Outcome] = []

    async def send(self, reminder: Outgoing) -> Outcome:
        if self.planned:
            outcome = self.planned.pop(0)
            if isinstance(outcome, Delivered):
                self.sent.append(reminder)
            return outcome
        self.sent.append(reminder)
        return Delivered(len(self.sent))

    def to(self, key: str) -> list[str]:
        return [m.text for m in self.sent if m.recipient_key == key]
