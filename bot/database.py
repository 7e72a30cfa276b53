"""The async engine, the database health check and the start-up bootstrap.

The engine is created lazily (no connection is made until first use), so a database that is
down at start does not stop the web server: ``/healthz`` answers 503 while
``bootstrap_database`` retries with backoff and applies pending migrations once it can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

HEALTH_CHECK_TIMEOUT_S = 2.0


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for any other database or an in-memory one."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first: it makes the next statements wait for a lock instead of failing.
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL lets readers go on while one writer writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL is safe against corruption and skips an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: URL | str, **kwargs: Any) -> AsyncEngine:
    """An engine for ``url``; for a SQLite file, its folder is created first.

    SQLite has one writer at a time. Several connections of one process would meet as writers
    inside deferred transactions, where SQLite answers "database is locked" at once instead of
    waiting; so the process keeps one connection and its tasks take turns on it (other processes
    still wait on ``busy_timeout``). A local file needs no pre-ping.
    """
    if make_url(url).get_backend_name() == "sqlite":
        options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60}
    else:
        options = {"pool_pre_ping": True}
    # A failed statement's error never carries its values into the log: residents' words,
    # chat ids and phone numbers are among them.
    options["hide_parameters"] = True
    engine = create_async_engine(url, **{**options, **kwargs})
    if engine.url.get_backend_name() == "sqlite":
        path = sqlite_file(engine.url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def engine_context(url: URL | str, **kwargs: Any) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url, **kwargs)
    try:
        yield engine
    finally:
        await engine.dispose()


def describe_error(exc: BaseException) -> str:
    """A one-line, password-free reason for logs and ``/healthz``."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = reason[0] if reason else ""
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__


async def ping(engine: AsyncEngine, timeout: float = HEALTH_CHECK_TIMEOUT_S) -> None:
    """Raise unless the database answers ``SELECT 1`` within ``timeout`` seconds."""
    async with asyncio.timeout(timeout), engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@dataclass
class DatabaseState:
    """What ``/healthz`` reports: whether start-up migrations are done, and the last problem."""

    migrated: asyncio.Event = field(default_factory=asyncio.Event)
    last_error: str | None = None
    attempts: int = 0


async def bootstrap_database(
    engine: AsyncEngine,
    state: DatabaseState,
    *,
    first_delay: float = 1.0,
    max_delay: float = 30.0,
) -> None:
    """Apply pending migrations, retrying with exponential backoff while the database is away."""
    from bot.migrate import upgrade  # alembic is only needed here and in the CLI

    delay = first_delay
    while True:
        state.attempts += 1
        try:
            await upgrade(engine)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            state.last_error = describe_error(exc)
            log.error(
                "database unreachable or migration failed; retrying",
                extra={
                    "reason": state.last_error,
                    "attempt": state.attempts,
                    "retry_in_s": delay,
                    "database": engine.url.render_as_string(hide_password=True),
                },
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
        else:
            state.last_error = None
            state.migrated.set()
            log.info("database ready", extra={"attempts": state.attempts})
            return
