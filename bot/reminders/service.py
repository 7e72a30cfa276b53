"""Reminders wired for ``serve``: the sender, the ticks, the leader's lock and APScheduler,
built by the composition root. The messenger is attached when Telegram connects; until then
(or without a token) nothing is claimed from the outbox, so nothing is marked failed for want
of a connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jobs import scheduler
from jobs.leader import Leadership, process_name
from jobs.sender import Messenger, Outcome, Outgoing, RetryLater, Sender, SendObserver

log = logging.getLogger(__name__)


class MessengerSlot:
    """The messenger of the moment: Telegram's once connected, none before."""

    def __init__(self) -> None:
        self.messenger: Messenger | None = None

    @property
    def ready(self) -> bool:
        return self.messenger is not None

    async def send(self, reminder: Outgoing) -> Outcome:
        if self.messenger is None:
            return RetryLater(60, "Telegram 未连接")
        return await self.messenger.send(reminder)


class Reminders:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        tz: ZoneInfo,
        weekly_cap: int,
        purge: Callable[[datetime], Awaitable[Any]],
        observer: SendObserver | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.slot = MessengerSlot()
        self.owner = process_name()
        now = clock or (lambda: datetime.now(tz))
        self.sender = Sender(
            sessions=sessions,
            messenger=self.slot,
            tz=tz,
            owner=self.owner,
            clock=now,
            weekly_cap=weekly_cap,
            observer=observer,
        )
        self.ticks = scheduler.Ticks(
            sessions=sessions,
            leadership=Leadership(engine, self.owner),
            sender=self.sender,
            tz=tz,
            clock=now,
            purge=purge,
            ready=lambda: self.slot.ready,
        )
        self.tz = tz
        self._scheduler: Any = None
        self._starting: asyncio.Task[None] | None = None

    def attach(self, messenger: Messenger) -> None:
        self.slot.messenger = messenger
        if self.ticks.leading:
            self.ticks.drain_soon()

    async def detach(self) -> None:
        """Telegram is stopping: the sends in flight finish first, nothing new is taken."""
        self.slot.messenger = None
        await self.ticks.quiesce()

    def start_when(self, ready: asyncio.Event) -> None:
        """Start ticking once the database is migrated."""

        async def later() -> None:
            await ready.wait()
            self._scheduler = scheduler.start(self.ticks, self.tz)

        self._starting = asyncio.create_task(later(), name="reminders-scheduler")

    async def close(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        await self.ticks.close()
