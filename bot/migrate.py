"""Alembic, driven from the service: the only way the schema changes.

``upgrade`` runs on a connection of the service's own async engine. On PostgreSQL the upgrade
holds a transaction-scoped advisory lock, so replicas starting together apply each migration once:
the others wait, then find nothing left to do. On SQLite a lock file next to the database does
the same for processes sharing the file. Within one process, migrations take turns on a lock.
"""

from __future__ import annotations

import asyncio
import fcntl
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from bot.database import sqlite_file

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
# Any constant shared by every replica; "minz" in ASCII.
ADVISORY_LOCK_KEY = 0x6D696E7A


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _run(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


@asynccontextmanager
async def _sqlite_migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """SQLite has no advisory locks: processes sharing the file take turns on a lock file.

    The lock is polled, not waited for, so the event loop is never blocked.
    """
    path = sqlite_file(engine.url)
    if path is None:
        yield
        return
    # Opening a small local lock file does not block the loop in any way that matters.
    with open(path.with_name(path.name + ".migrate-lock"), "a+b") as handle:  # noqa: ASYNC230
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# One migration at a time within a process (per event loop). Alembic loads env.py and runs
# synchronously inside SQLAlchemy's greenlet; two of them interleaved on one loop can wait on
# each other through the database's lock and never resume. Across processes the database's own
# lock (or SQLite's lock file) serialises them.
_LOOP_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _process_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _LOOP_LOCKS.get(loop)
    if lock is None:
        lock = _LOOP_LOCKS[loop] = asyncio.Lock()
    return lock


async def _migrate(engine: AsyncEngine, action: str, revision: str) -> None:
    async with (
        _process_lock(),
        _sqlite_migration_lock(engine),
        engine.connect() as connection,
    ):
        await connection.run_sync(_run, action, revision)
        await connection.commit()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _migrate(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _migrate(engine, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_current)
