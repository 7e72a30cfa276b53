"""python-telegram-bot's ``BasePersistence`` on the service's database (SQLModel).

Each resident's ``user_data`` (their step in a conversation: a category chosen, a location
awaited; whether they blocked the bot) lives in ``telegram_data``, so a restart in the middle of a
step loses nothing.

Rows are keyed by the pseudonymous key, not the Telegram id, so they cannot be listed back into
``{user_id: data}`` at start as PTB's ``get_user_data`` would like. Instead nothing is loaded at
start and a resident's row is read the first time they write after a start
(``refresh_user_data``, which PTB calls before every handler): one read per resident per process,
and the residents whose first updates arrive together are read in one query.

Writes come from PTB's own updater (every ``update_interval`` seconds and at stop, for residents
whose data was used); the writes of one run are gathered into one transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, NoReturn

from sqlalchemy import Insert, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from telegram.ext import BasePersistence, PersistenceInput

from bot.conversation.core import pseudonym
from bot.conversation.models import utcnow
from bot.telegram.models import TelegramData

log = logging.getLogger(__name__)

USER = "user"
UPDATE_INTERVAL_S = 1.0
# Rows per INSERT … ON CONFLICT statement (4 parameters each; far below SQLite's limit).
UPSERT_ROWS = 500
# Keys per SELECT … IN (…) when residents are read together.
READ_KEYS = 500

Data = dict[Any, Any]


def _parsed(key: str, text: str) -> Data:
    try:
        data = json.loads(text)
    except ValueError:
        log.warning("unreadable telegram_data row ignored", extra={"key": key})
        return {}
    return data if isinstance(data, dict) else {}


def _upsert(dialect: str, rows: list[dict[str, Any]]) -> Insert:
    """One statement inserting ``rows`` or updating those already there (SQLite, PostgreSQL)."""
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(TelegramData).values(rows)
    elif dialect == "sqlite":
        statement = sqlite.insert(TelegramData).values(rows)
    else:
        raise NotImplementedError(f"no upsert for {dialect}")
    return statement.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={"data": statement.excluded.data, "updated_at": statement.excluded.updated_at},
    )


class DatabasePersistence(BasePersistence[Data, Data, Data]):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secret: str,
        update_interval: float = UPDATE_INTERVAL_S,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self.sessions = sessions
        self.secret = secret
        # Each resident's stored data, read once (lazily, on their first update since start).
        self._loads: dict[int, asyncio.Future[Data]] = {}
        self._queued: dict[int, asyncio.Future[Data]] = {}
        self._reader: asyncio.Task[None] | None = None
        # key -> JSON text to store, or None to delete; written by one writer at a time.
        self._pending: dict[str, str | None] = {}
        self._writing = asyncio.Lock()

    def key(self, user_id: int) -> str:
        return pseudonym(self.secret, "telegram", str(user_id))

    # Reading ---------------------------------------------------------------------------------

    async def get_user_data(self) -> dict[int, Data]:
        # Loaded lazily, per resident, in refresh_user_data.
        return {}

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        read = self._loads.get(user_id)
        if read is not None and read.done() and not read.cancelled() and not read.exception():
            stored = read.result()  # read already: the usual case, without a shield to await
            if stored:
                self._apply(stored, user_data)
            return
        if read is None:
            # Two updates of one resident may arrive at once: both wait for the same read. The
            # residents of a burst (after a restart, say) are read together, in one query.
            read = self._loads[user_id] = asyncio.get_running_loop().create_future()
            self._queued[user_id] = read
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read_queued(), name="telegram-data-read")
        try:
            stored = await asyncio.shield(read)
        except Exception:
            self._loads.pop(user_id, None)  # the next update of theirs tries again
            raise
        if stored:
            self._apply(stored, user_data)

    @staticmethod
    def _apply(stored: Data, user_data: Data) -> None:
        for name, value in stored.items():
            user_data.setdefault(name, value)
        stored.clear()  # applied once; the live dict is the truth from now on

    async def _read_queued(self) -> None:
        # One turn of the loop lets the other updates of the same getUpdates batch queue theirs.
        await asyncio.sleep(0)
        while self._queued:
            batch, self._queued = self._queued, {}
            try:
                found = await self._read(list(batch))
            except Exception as exc:
                for read in batch.values():
                    if not read.done():
                        read.set_exception(exc)
                        # Marked as seen: its waiters re-raise it, or were cancelled (shutdown).
                        read.exception()
                continue
            for user_id, read in batch.items():
                if not read.done():
                    read.set_result(found.get(user_id, {}))

    async def _read(self, user_ids: list[int]) -> dict[int, Data]:
        by_key = {self.key(user_id): user_id for user_id in user_ids}
        keys = list(by_key)
        found: dict[int, Data] = {}
        async with self.sessions() as session:
            for start in range(0, len(keys), READ_KEYS):
                rows = await session.execute(
                    select(col(TelegramData.key), col(TelegramData.data)).where(
                        col(TelegramData.kind) == USER,
                        col(TelegramData.key).in_(keys[start : start + READ_KEYS]),
                    )
                )
                for key, text in rows:
                    found[by_key[key]] = _parsed(key, text)
        return found

    # Writing ---------------------------------------------------------------------------------

    async def update_user_data(self, user_id: int, data: Data) -> None:
        # Serialised before any await: the dict may change once this coroutine yields.
        self._pending[self.key(user_id)] = (
            json.dumps(data, ensure_ascii=False, sort_keys=True, default=str) if data else None
        )
        await self._write()

    async def drop_user_data(self, user_id: int) -> None:
        self._pending[self.key(user_id)] = None
        await self._write()

    async def _write(self) -> None:
        async with self._writing:
            batch, self._pending = self._pending, {}
            if not batch:
                return  # an earlier writer took ours along
            now = utcnow()
            async with self.sessions() as session, session.begin():
                gone = [key for key, value in batch.items() if value is None]
                if gone:
                    await session.execute(
                        delete(TelegramData).where(
                            col(TelegramData.kind) == USER, col(TelegramData.key).in_(gone)
                        )
                    )
                kept = [
                    {"kind": USER, "key": key, "data": value, "updated_at": now}
                    for key, value in batch.items()
                    if value is not None
                ]
                if kept:
                    dialect = (await session.connection()).dialect.name
                    for start in range(0, len(kept), UPSERT_ROWS):
                        await session.execute(_upsert(dialect, kept[start : start + UPSERT_ROWS]))

    async def flush(self) -> None:
        await self._write()

    # Not kept: the services in bot_data are built at start; callback data are plain strings.

    async def get_chat_data(self) -> dict[int, Data]:
        return {}

    async def get_bot_data(self) -> Data:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        return None

    async def update_bot_data(self, data: Data) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        return None

    async def refresh_bot_data(self, bot_data: Data) -> None:
        return None

    async def get_conversations(self, name: str) -> NoReturn:
        raise NotImplementedError(
            "persistent ConversationHandlers are not used: steps live in bot.conversation"
        )

    async def update_conversation(self, name: str, key: Any, new_state: object) -> NoReturn:
        raise NotImplementedError(
            "persistent ConversationHandlers are not used: steps live in bot.conversation"
        )
