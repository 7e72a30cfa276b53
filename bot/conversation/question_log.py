"""The question log: what residents asked, for staff, written in batches off the reply path.

Questions are gathered and inserted together half a second later (one ``executemany``). Text is
cleaned before it is kept (characters no database stores) and masked (ID-card and mobile numbers:
staff need the question, not the number). A batch the database refuses for one of its rows is
written row by row, and only the row that cannot be stored is dropped, with one log line; a batch
that fails because the database is away is kept for the next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.conversation.models import QuestionLog, utcnow

log = logging.getLogger(__name__)

MAX_LOGGED_CHARS = 500
FLUSH_AFTER_S = 0.5
MAX_BUFFERED = 100_000

# Lone surrogates cannot be encoded for SQLite; PostgreSQL's text refuses NUL.
_UNSTORABLE = re.compile(r"[\ud800-\udfff\x00]")
# 18-digit resident ID numbers (the last may be X) and the older 15-digit ones.
_ID_CARD = re.compile(
    r"(?<![0-9])(?:[1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx]|[1-9][0-9]{14})(?![0-9A-Za-z])"
)
# Mainland mobile numbers, optionally after +86 or 86, with or without separators.
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])")


def mask_personal(text: str) -> str:
    """The text with ID-card and mobile numbers replaced, so the log keeps no such number."""
    return _MOBILE.sub("[手机号]", _ID_CARD.sub("[身份证号]", text))


def loggable(text: str) -> str:
    """A question as it is kept: storable, masked and bounded."""
    return mask_personal(_UNSTORABLE.sub("", text))[:MAX_LOGGED_CHARS]


def _transient(exc: BaseException) -> bool:
    """The database is away or busy (keep the batch), rather than refusing a row (drop it)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


class QuestionLogWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        flush_after_s: float = FLUSH_AFTER_S,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self._sessions = sessions
        self._flush_after_s = flush_after_s
        self._max_buffered = max_buffered
        # Rows of question_log as plain dicts, inserted together (no ORM unit of work).
        self._rows: list[dict[str, Any]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._writing = False

    def add(
        self,
        *,
        user_key: str,
        channel: str,
        text: str,
        entry_id: str | None,
        score: float,
        fallback: bool,
        asked_at: datetime | None = None,
    ) -> None:
        self._rows.append(
            {
                "user_key": user_key,
                "channel": channel,
                "text": loggable(text),
                "entry_id": entry_id,
                "score": score,
                "fallback": fallback,
                "asked_at": asked_at or utcnow(),
            }
        )
        if len(self._rows) > self._max_buffered:
            # The database has been failing for a long while: keep the newest.
            del self._rows[: len(self._rows) - self._max_buffered]
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_later(), name="question-log")

    def forget(self, user_key: str) -> None:
        """Drop what is gathered for one resident (/stop), before it reaches the database."""
        self._rows = [row for row in self._rows if row["user_key"] != user_key]

    async def recent(
        self, session: AsyncSession, user_key: str, *, since: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """The resident's last questions (written and still gathered), oldest first: what an
        advisor's card shows of the conversation before."""
        rows = await session.execute(
            select(
                col(QuestionLog.text),
                col(QuestionLog.entry_id),
                col(QuestionLog.fallback),
                col(QuestionLog.asked_at),
            )
            .where(col(QuestionLog.user_key) == user_key, col(QuestionLog.asked_at) >= since)
            .order_by(col(QuestionLog.asked_at).desc(), col(QuestionLog.id).desc())
            .limit(limit)
        )
        written = [{"text": t, "entry_id": e, "fallback": f, "asked_at": a} for t, e, f, a in rows][
            ::-1
        ]
        gathered = [r for r in self._rows if r["user_key"] == user_key]
        return (written + gathered)[-limit:]

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._flush_after_s)
        self._writing = True
        try:
            await self.flush()
        finally:
            self._writing = False

    async def flush(self) -> None:
        """Write the gathered questions in one transaction (also at shutdown)."""
        batch, self._rows = self._rows, []
        if not batch:
            return
        try:
            await self._insert(batch)
        except asyncio.CancelledError:
            self._rows[:0] = batch
            raise
        except Exception as exc:
            if _transient(exc):
                log.warning("question log write failed; kept for the next try: %s", type(exc))
                self._rows[:0] = batch
                return
            await self._insert_one_by_one(batch)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(insert(QuestionLog), rows)

    async def _insert_one_by_one(self, batch: list[dict[str, Any]]) -> None:
        """One refused row must not cost the others: each alone, the bad ones dropped."""
        for n, row in enumerate(batch):
            try:
                await self._insert([row])
            except asyncio.CancelledError:
                self._rows[:0] = batch[n:]
                raise
            except Exception as exc:
                if _transient(exc):
                    self._rows[:0] = batch[n:]
                    log.warning("question log write failed; kept for the next try")
                    return
                # The text is personal data: the log names the problem, not the question.
                log.error(
                    "question log row dropped: the database refused it",
                    extra={"error": type(exc).__name__, "log_channel": row.get("channel")},
                )

    async def close(self) -> None:
        """Write what is gathered. A write under way is let finish: cancelled halfway, it would
        leave the connection in doubt and lose its batch."""
        await self.settle()
        task = self._flushing
        if task is not None and not task.done():
            # Still waiting to write: write now instead.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def settle(self) -> None:
        """Wait for a write under way, so what it holds is in the database (or back in the
        buffer) before a resident's data is deleted."""
        task = self._flushing
        if task is not None and self._writing and not task.done():
            await asyncio.shield(task)
