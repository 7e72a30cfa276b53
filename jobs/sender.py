"""The sender: takes due rows from the outbox one at a time, lets the gate hold back what may
not go now, and sends the rest through a ``Messenger`` (the bot adapts Telegram to it).

The pace is the messenger's: it shares the bot's rate budget, replies first. Each outcome is
written the moment it is known, so a crash leaves at most the rows in flight in doubt
(``jobs.outbox``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from jobs import gate, outbox, wanted
from jobs.models import OutboxRow, ReminderProfile
from jobs.rules import days_left

log = logging.getLogger(__name__)

RULE_WAIT = timedelta(minutes=10)


@dataclass(frozen=True)
class Outgoing:
    """A reminder as the messenger needs it."""

    id: int
    channel: str
    recipient_key: str
    text: str
    topic: str
    sensitive: bool = False
    entry_id: str | None = None
    for_label: str | None = None
    caregiver_link_id: int | None = None

    @classmethod
    def of(cls, row: OutboxRow, now: datetime, tz: ZoneInfo) -> Outgoing:
        """As it goes out at ``now`` (the days left to a due date counted then)."""
        assert row.id is not None
        return cls(
            id=row.id,
            channel=row.channel,
            recipient_key=row.recipient_key,
            text=days_left(row.text, row.expires_at, now, tz),
            topic=row.topic,
            sensitive=row.sensitive,
            entry_id=row.entry_id,
            for_label=row.for_label,
            caregiver_link_id=row.caregiver_link_id,
        )


@dataclass(frozen=True)
class Delivered:
    message_id: int | None = None


@dataclass(frozen=True)
class RetryLater:
    """Telegram said not now (429 with its retry_after, a timeout, a server error)."""

    after_s: float
    reason: str


@dataclass(frozen=True)
class Blocked:
    """Telegram answered 403: the resident blocked the bot."""


@dataclass(frozen=True)
class Undeliverable:
    """It can never go: no chat id is kept for the recipient, or Telegram refused the message."""

    reason: str


Outcome = Delivered | RetryLater | Blocked | Undeliverable


class Messenger(Protocol):
    async def send(self, reminder: Outgoing) -> Outcome: ...


class SendObserver(Protocol):
    def outcome(self, kind: str, lag_s: float | None) -> None: ...


@dataclass
class DrainReport:
    sent: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    cancelled: int = 0
    released: int = 0
    lost_claims: int = field(default=0)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Sender:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        messenger: Messenger,
        tz: ZoneInfo,
        owner: str,
        clock: Callable[[], datetime],
        weekly_cap: int = gate.WEEKLY_CAP,
        concurrency: int = 8,
        observer: SendObserver | None = None,
    ) -> None:
        self.sessions = sessions
        self.messenger = messenger
        self.tz = tz
        self.owner = owner
        self.clock = clock
        self.weekly_cap = weekly_cap
        self.concurrency = concurrency
        self.observer = observer

    async def drain(self, keep_going: Callable[[], bool] = lambda: True) -> DrainReport:
        """Send everything due now; return when nothing due is left (or ``keep_going`` says
        stop: leadership lost, shutting down)."""
        report = DrainReport()
        async with self.sessions() as session, session.begin():
            report.released = await outbox.release_in_doubt(
                session, now=self.clock(), owner=self.owner
            )
            report.cancelled += await outbox.cancel_expired(session, now=self.clock())
        if report.released:
            log.warning(
                "reminders left in doubt by a stopped sender are sent again",
                extra={"rows": report.released},
            )
        workers = [
            asyncio.create_task(self._work(report, keep_going), name=f"reminders-{n}")
            for n in range(self.concurrency)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            # A worker stopped halfway through a query must not outlive the engine.
            await asyncio.gather(*workers, return_exceptions=True)
        return report

    async def _work(self, report: DrainReport, keep_going: Callable[[], bool]) -> None:
        while keep_going():
            now = self.clock()
            async with self.sessions() as session, session.begin():
                taken = await outbox.claim(session, now=now, owner=self.owner, limit=1)
                if not taken:
                    return
                row = taken[0]
                if not await self._may_go(session, row, now, report):
                    continue
            reminder = Outgoing.of(row, now, self.tz)
            outcome = await self.messenger.send(reminder)
            await self._record(row, reminder.text, outcome, report)

    async def _may_go(
        self, session: AsyncSession, row: OutboxRow, now: datetime, report: DrainReport
    ) -> bool:
        """Still wanted, quiet hours, the weekly cap, a recipient who blocked the bot: decided in
        the claim's transaction, so a row held back is never sent. The recipient's profile is
        locked meanwhile (PostgreSQL), so two senders cannot both find room under the cap."""
        profile = await session.scalar(
            select(ReminderProfile)
            .where(
                col(ReminderProfile.channel) == row.channel,
                col(ReminderProfile.user_key) == row.recipient_key,
            )
            .with_for_update()
        )
        if profile is not None and profile.inactive_since is not None:
            await outbox.drop(session, row, self.owner, now, "居民已屏蔽本助手")
            report.cancelled += 1
            return False
        if not await wanted.rule_in_force(session, row.rule_id):
            # Paused or being edited: the console withdraws what waits and queues it again
            # on approval; a row that came back from a retry meanwhile waits too.
            await outbox.defer(session, row, self.owner, now, now + RULE_WAIT, "规则未生效")
            report.deferred += 1
            return False
        unwanted = await wanted.why_not(session, row)
        if unwanted is not None:
            await outbox.drop(session, row, self.owner, now, unwanted)
            report.cancelled += 1
            return False
        quiet = (profile.quiet_start, profile.quiet_end) if profile else gate.DEFAULT_QUIET
        week = await outbox.sent_within(
            session, [(row.channel, row.recipient_key)], now - gate.WEEK, besides=row.id
        )
        until = gate.next_allowed(
            now,
            quiet=quiet,
            sent_this_week=week.get((row.channel, row.recipient_key), []),
            cap=self.weekly_cap,
            tz=self.tz,
        )
        if until is None:
            return True
        why = "免打扰时间" if gate.in_quiet_hours(now, *quiet, self.tz) else "本周提醒已达上限"
        await outbox.defer(session, row, self.owner, now, until, why)
        report.deferred += 1
        return False

    async def _record(
        self, row: OutboxRow, text: str, outcome: Outcome, report: DrainReport
    ) -> None:
        now = self.clock()
        async with self.sessions() as session, session.begin():
            if isinstance(outcome, Delivered):
                done = await outbox.mark_sent(
                    session, row, self.owner, now, outcome.message_id, text=text
                )
                report.sent += done
                kind = "sent"
            elif isinstance(outcome, RetryLater):
                done = await outbox.mark_retry(
                    session, row, self.owner, now, outcome.after_s, outcome.reason
                )
                report.retried += done
                kind = "retried"
            elif isinstance(outcome, Blocked):
                done = await outbox.mark_failed(session, row, self.owner, now, "居民已屏蔽本助手")
                await self._blocked(session, row, now)
                report.blocked += 1
                kind = "blocked"
            else:
                done = await outbox.mark_failed(session, row, self.owner, now, outcome.reason)
                report.failed += 1
                kind = "failed"
            if not done:
                # Another sender took the row back as in doubt meanwhile: the outcome stands
                # in the log, the row is theirs.
                report.lost_claims += 1
                log.warning("a reminder's claim was lost while sending", extra={"row": row.id})
        if self.observer is not None:
            lag = (now - row.not_before).total_seconds() if kind == "sent" else None
            self.observer.outcome(kind, lag)

    async def _blocked(self, session: AsyncSession, row: OutboxRow, now: datetime) -> None:
        """Nothing more goes to a resident who blocked the bot, until they write again."""
        await session.execute(
            update(ReminderProfile)
            .where(
                col(ReminderProfile.channel) == row.channel,
                col(ReminderProfile.user_key) == row.recipient_key,
            )
            .values(inactive_since=now, updated_at=now)
        )
        await outbox.cancel(
            session,
            now=now,
            why="居民已屏蔽本助手",
            channel=row.channel,
            recipient_key=row.recipient_key,
        )
