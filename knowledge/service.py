"""The knowledge base as the rest of the service sees it: ask a question, rebuild on change.

The index is built off the event loop and swapped in with one assignment, so a question is
always answered by one complete index, old or new, never by a half-built one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from knowledge.calibration import Calibration
from knowledge.matcher import Answer, KnowledgeIndex
from knowledge.models import KbCue, KbEntry, KbOutOfScope, KbSynonym
from knowledge.store import load_published

log = logging.getLogger(__name__)


class KnowledgeNotReady(RuntimeError):
    pass


async def content_stamp(session: AsyncSession) -> tuple[object, ...]:
    """Changes whenever entries, synonyms, out-of-scope matters or cue groups change."""
    entries = (
        await session.execute(
            select(func.count(), func.max(col(KbEntry.updated_at)), func.sum(col(KbEntry.version)))
        )
    ).one()
    synonyms = (await session.execute(select(func.count(), func.max(col(KbSynonym.id))))).one()
    oos = (await session.execute(select(func.count()).select_from(KbOutOfScope))).scalar_one()
    cues = (
        await session.execute(
            select(func.count(), func.max(col(KbCue.id)), func.max(col(KbCue.updated_at)))
        )
    ).one()
    statuses = (
        await session.execute(
            select(col(KbEntry.status), func.count()).group_by(col(KbEntry.status))
        )
    ).all()
    return (*entries, *synonyms, oos, *cues, tuple(sorted(map(tuple, statuses))))


class KnowledgeBase:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tz: ZoneInfo,
        calibration: Calibration | None = None,
        *,
        build: Callable[..., KnowledgeIndex] = KnowledgeIndex.build,
    ) -> None:
        """``build``: how an index is made (the composition root wraps it in its memory
        policy); it runs in a worker thread."""
        self._sessions = sessions
        self._build = build
        self._tz = tz
        self._calibration = calibration or Calibration.default()
        self._index: KnowledgeIndex | None = None
        self._stamp: tuple[object, ...] | None = None
        self._rebuilding = asyncio.Lock()
        self._refreshing: set[asyncio.Task[Any]] = set()

    @property
    def index(self) -> KnowledgeIndex:
        if self._index is None:
            raise KnowledgeNotReady("the knowledge index is still being built")
        return self._index

    @property
    def ready(self) -> bool:
        return self._index is not None

    async def rebuild(self, *, exact: bool = False) -> KnowledgeIndex:
        """Build the index from what is published and swap it in. Unchanged documents keep the
        current index's analysis (seconds instead of a full build); when that is not exact, a
        full build follows in the background."""
        async with self._rebuilding:
            async with self._sessions() as session:
                stamp = await content_stamp(session)
                snapshot = await load_published(session)
            index = await asyncio.to_thread(
                functools.partial(
                    self._build,
                    snapshot,
                    self._calibration,
                    previous=None if exact else self._index,
                )
            )
            self._index, self._stamp = index, stamp
            if not index.exact:
                self._start(self._exact_rebuild(stamp), "knowledge-exact-rebuild")
            log.info(
                "knowledge index built",
                extra={"entries": len(snapshot.entries), "documents": len(index.docs)},
            )
            return index

    async def rebuild_if_changed(self) -> bool:
        async with self._sessions() as session:
            stamp = await content_stamp(session)
        if stamp == self._stamp and self._index is not None:
            return False
        await self.rebuild()
        return True

    def refresh_soon(self) -> None:
        """Content changed in this process (a publish): rebuild now, in the background, rather
        than at the next poll."""
        self._start(self._refresh(), "knowledge-refresh")

    def _start(self, work: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def _exact_rebuild(self, stamp: tuple[object, ...]) -> None:
        try:
            if self._stamp == stamp:  # nothing newer has been built meanwhile
                await self.rebuild(exact=True)
        except Exception:
            log.exception("knowledge index rebuild failed; the previous index stays in use")

    async def _refresh(self) -> bool:
        try:
            return await self.rebuild_if_changed()
        except Exception:
            log.exception("knowledge index rebuild failed; the previous index stays in use")
            return False

    async def close(self) -> None:
        for task in list(self._refreshing):
            task.cancel()
        for task in list(self._refreshing):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def ask(self, question: str, *, now: datetime | None = None) -> Answer:
        moment = now or datetime.now(self._tz)
        return self.index.ask(question, today=moment.astimezone(self._tz).date())
