"""The directory as the rest of the service sees it: an index over the exported services,
rebuilt off the event loop when the data changes and swapped in whole."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from directory.models import DirService
from directory.search import DirectoryIndex
from directory.store import export_services


class DirectoryNotReady(RuntimeError):
    pass


async def directory_stamp(session: AsyncSession) -> tuple[object, ...]:
    row = (
        await session.execute(select(func.count(), func.max(col(DirService.last_modified))))
    ).one()
    return tuple(row)


class Directory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._state: tuple[DirectoryIndex, list[dict[str, Any]]] | None = None
        self._stamp: tuple[object, ...] | None = None
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self._state is not None

    @property
    def index(self) -> DirectoryIndex:
        if self._state is None:
            raise DirectoryNotReady("the directory is still loading")
        return self._state[0]

    @property
    def services(self) -> list[dict[str, Any]]:
        if self._state is None:
            raise DirectoryNotReady("the directory is still loading")
        return self._state[1]

    async def rebuild(self) -> DirectoryIndex:
        async with self._lock:
            async with self._sessions() as session:
                stamp = await directory_stamp(session)
                services = await export_services(session)
            index = await asyncio.to_thread(DirectoryIndex.from_services, services)
            self._state, self._stamp = (index, services), stamp
            return index

    async def rebuild_if_changed(self) -> bool:
        async with self._sessions() as session:
            stamp = await directory_stamp(session)
        if stamp == self._stamp and self._state is not None:
            return False
        await self.rebuild()
        return True
