"""One scheduler however many replicas: the leader is the process holding a PostgreSQL advisory
lock on a connection of its own. The lock lives as long as that connection, so a leader that
dies (or loses the database) stops leading, and another replica takes it at its next try,
every ``TRY_EVERY_S``. SQLite serves one process, which always leads.

The lease row (``scheduler_lease``) is only what ``minzheng jobs status`` reads: who leads,
since when, and what the scheduler does next. The lock decides.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from jobs.models import SchedulerLease
from knowledge.models import upsert

log = logging.getLogger(__name__)

# Any constant of our own: the advisory lock's number ("minzheng" in ASCII, folded to 63 bits).
LOCK_KEY = int.from_bytes(b"minzheng", "big") & (2**63 - 1)
LEASE = "reminders"
TRY_EVERY_S = 10.0
PING_TIMEOUT_S = 5.0
# Three missed pings: then PostgreSQL lets the lock go and another replica takes it.
IDLE_LIMIT_S = 30


def process_name() -> str:
    """Who this process is, for the status page and the outbox's claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leadership:
    """Whether this process leads. ``ensure`` takes the lead when it is free and says whether
    this process still has it; call it before every piece of leader's work."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.leading = False
        self._connection: AsyncConnection | None = None
        self._single = engine.dialect.name != "postgresql"
        # The watch and a tick may both ask at once; one connection runs one query at a time.
        self._lock = asyncio.Lock()

    async def ensure(self) -> bool:
        async with self._lock:
            return await self._ensure()

    async def _ensure(self) -> bool:
        if self._single:
            self.leading = True
            return True
        if self._connection is not None:
            try:
                async with asyncio.timeout(PING_TIMEOUT_S):
                    await self._connection.execute(text("SELECT 1"))
                    await self._connection.commit()
                return True
            except Exception as exc:
                log.error(
                    "the scheduler's lock connection failed; no longer leading",
                    extra={"reason": str(exc)},
                )
                await self._drop()
                return False
        try:
            connection = await self.engine.connect()
        except Exception as exc:
            log.warning(
                "cannot reach the database to lead the scheduler", extra={"reason": str(exc)}
            )
            return False
        try:
            # A leader that stops answering (hung, cut off) must not keep the lock for hours
            # until TCP notices: the server ends a session idle this long, and the ping keeps
            # a living leader's busy (PostgreSQL 14 and later have the setting).
            if int(await connection.scalar(text("SHOW server_version_num")) or 0) >= 140000:
                await connection.execute(text(f"SET idle_session_timeout = '{IDLE_LIMIT_S}s'"))
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}
            )
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        self.leading = True
        log.info("this process now leads the scheduler", extra={"leader": self.name})
        return True

    async def _drop(self) -> None:
        self.leading = False
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.invalidate()
            except Exception:
                log.debug("closing a broken lock connection failed", exc_info=True)

    async def release(self) -> None:
        async with self._lock:
            await self._release()

    async def _release(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY}
                )
                await self._connection.commit()
                await self._connection.close()
            except Exception:
                log.debug(
                    "releasing the scheduler's lock failed; it goes with the connection",
                    exc_info=True,
                )
            self._connection = None
        self.leading = False


async def write_lease(
    session: AsyncSession,
    *,
    holder: str,
    now: datetime,
    since: datetime,
    next_tick_at: datetime | None = None,
    next_purge_at: datetime | None = None,
    evaluated: bool = False,
    drained: bool = False,
) -> None:
    """Record who leads (upsert): only the leader writes it."""
    values: dict[str, Any] = {
        "name": LEASE,
        "holder": holder,
        "since": since,
        "heartbeat_at": now,
        "next_tick_at": next_tick_at,
        "next_purge_at": next_purge_at,
    }
    if evaluated:
        values["last_evaluated_at"] = now
    if drained:
        values["last_drained_at"] = now
    dialect = session.get_bind().dialect.name
    await session.execute(upsert(dialect, SchedulerLease, values, "name"))
