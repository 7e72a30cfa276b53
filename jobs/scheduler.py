"""The scheduler only ticks. Every minute the leader evaluates the due rules and drains the
outbox; once a day it runs the retention purge. Durable state is in our tables (the outbox,
rule runs, the lease row), not in APScheduler's memory job store: a restart loses nothing.

``Ticks`` is plain Python (tests call it with a fixed clock); ``start`` hands it to APScheduler 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jobs import evaluate
from jobs.leader import TRY_EVERY_S, Leadership, write_lease
from jobs.sender import DrainReport, Sender

log = logging.getLogger(__name__)

TICK_EVERY_S = 60.0
PURGE_AT = (3, 30)  # 03:30, when nobody is waiting for a reminder
# How long stopping waits for a job or the sends in flight (HTTP timeouts are shorter).
STOP_WAIT_S = 20.0


class Ticks:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        leadership: Leadership,
        sender: Sender,
        tz: ZoneInfo,
        clock: Callable[[], datetime],
        purge: Callable[[datetime], Awaitable[Any]] | None = None,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.sessions = sessions
        self.leadership = leadership
        self.sender = sender
        self.tz = tz
        self.clock = clock
        self.purge_expired = purge
        # Whether there is a way to send (Telegram connected): rows wait in the outbox till then.
        self.ready = ready
        self.since: datetime | None = None
        self.draining: asyncio.Task[DrainReport] | None = None
        self.next_tick_at: datetime | None = None
        self.next_purge_at: datetime | None = None
        self._purged_once = False
        self.purging: asyncio.Future[Any] | None = None
        self._jobs: set[asyncio.Task[Any]] = set()
        self.stopping = False

    @property
    def leading(self) -> bool:
        return self.leadership.leading

    @contextlib.contextmanager
    def _running(self, job: str) -> Iterator[None]:
        """The job's task is known to ``close``, which waits for it: a job stopped halfway
        through a query must not outlive the database engine. A job that fails is logged and
        runs again at its next time."""
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        try:
            yield
        except Exception:
            log.exception(
                "a reminders job failed; it runs again at its next time", extra={"job": job}
            )
        finally:
            if task is not None:
                self._jobs.discard(task)

    async def watch(self) -> None:
        with self._running("leader"):
            await self._watch()

    async def _watch(self) -> None:
        """Take the lead when it is free; on taking it, tick at once."""
        was = self.leadership.leading
        now_leading = await self.leadership.ensure()
        if now_leading and not was:
            self.since = self.clock()
            await self._tick()
            if not self._purged_once:
                self._purged_once = True
                await self._purge()
        elif now_leading:
            # Between ticks too: rows a retry or a crash left are taken as soon as they may be.
            self.drain_soon()

    async def tick(self) -> evaluate.Evaluation | None:
        with self._running("tick"):
            return await self._tick()
        return None

    async def _tick(self) -> evaluate.Evaluation | None:
        if self.stopping or not await self.leadership.ensure():
            return None
        now = self.clock()
        if self.since is None:
            self.since = now
        async with self.sessions() as session, session.begin():
            found = await evaluate.run_due(session, now=now, tz=self.tz)
            await write_lease(
                session,
                holder=self.sender.owner,
                now=now,
                since=self.since,
                next_tick_at=self.next_tick_at,
                next_purge_at=self.next_purge_at,
                evaluated=True,
            )
        if found.queued:
            log.info("reminders queued", extra={"queued": found.queued, "rules": len(found.rules)})
        self.drain_soon()
        return found

    def drain_soon(self) -> None:
        """Start draining unless a drain is under way (it sends whatever became due meanwhile)."""
        if not self.ready():
            return
        if self.draining is None or self.draining.done():
            self.draining = asyncio.create_task(self._drain(), name="reminders-drain")

    async def _drain(self) -> DrainReport:
        report = await self.sender.drain(
            keep_going=lambda: self.leadership.leading and self.ready() and not self.stopping
        )
        if any(report.as_dict().values()):
            log.info("reminders sent", extra=report.as_dict())
        with contextlib.suppress(Exception):
            async with self.sessions() as session, session.begin():
                now = self.clock()
                await write_lease(
                    session,
                    holder=self.sender.owner,
                    now=now,
                    since=self.since or now,
                    next_tick_at=self.next_tick_at,
                    next_purge_at=self.next_purge_at,
                    drained=True,
                )
        return report

    async def purge(self) -> None:
        with self._running("purge"):
            await self._purge()

    async def _purge(self) -> None:
        if self.purge_expired is None or not await self.leadership.ensure():
            return
        # Stopping lets a purge under way finish (``close`` waits for it): cancelled halfway,
        # its delete would be rolled back and leave the connection in doubt for the last writes.
        self.purging = asyncio.ensure_future(self.purge_expired(self.clock()))
        try:
            await asyncio.shield(self.purging)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention purge failed; tried again tomorrow")

    async def settle(self) -> DrainReport | None:
        """Wait for the drain under way (tests)."""
        if self.draining is None:
            return None
        return await self.draining

    async def quiesce(self) -> None:
        """Let the drain under way finish the sends in flight and stop (no new row is taken once
        ``ready`` says no): a graceful stop leaves no reminder in doubt."""
        if self.draining is not None and not self.draining.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.draining), STOP_WAIT_S)
            except TimeoutError:
                self.draining.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.draining

    async def close(self) -> None:
        """After the scheduler stopped: let what its jobs had under way finish (a job stopped
        halfway through a query must not outlive the database engine), then let go the lead."""
        self.stopping = True
        current = asyncio.current_task()
        jobs = [job for job in self._jobs if job is not current]
        if jobs:
            _, late = await asyncio.wait(jobs, timeout=STOP_WAIT_S)
            for job in late:
                job.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self.purging is not None and not self.purging.done():
            with contextlib.suppress(Exception):
                await self.purging
        await self.quiesce()
        await self.leadership.release()


def start(ticks: Ticks, tz: ZoneInfo) -> AsyncIOScheduler:
    """APScheduler 3 on the running loop: the ticks, the leadership watch, the daily purge."""
    scheduler = AsyncIOScheduler(timezone=tz)
    now = datetime.now(tz)
    common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
    scheduler.add_job(
        ticks.watch, "interval", seconds=TRY_EVERY_S, next_run_time=now, id="leader", **common
    )
    scheduler.add_job(
        ticks.tick,
        "interval",
        seconds=TICK_EVERY_S,
        next_run_time=now + timedelta(seconds=TICK_EVERY_S),
        id="tick",
        **common,
    )
    scheduler.add_job(
        ticks.purge, "cron", hour=PURGE_AT[0], minute=PURGE_AT[1], id="purge", **common
    )
    scheduler.start()
    ticks.next_tick_at = scheduler.get_job("tick").next_run_time
    ticks.next_purge_at = scheduler.get_job("purge").next_run_time

    def remember_next_runs(event: Any) -> None:
        for job_id, attribute in (("tick", "next_tick_at"), ("purge", "next_purge_at")):
            job = scheduler.get_job(job_id)
            if job is not None:
                setattr(ticks, attribute, job.next_run_time)

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    scheduler.add_listener(remember_next_runs, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    return scheduler
