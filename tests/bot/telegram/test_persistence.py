"""python-telegram-bot's user_data kept in the database, under the pseudonymous key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.conversation.core import pseudonym
from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from bot.telegram.models import TelegramData
from bot.telegram.persistence import USER, DatabasePersistence

SECRET = "persistence-test-secret-0123456789abcdef"
RESIDENT = 987654321


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        yield session_factory(engine)


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[TelegramData]:
    async with sessions() as session:
        return list(await session.scalars(select(TelegramData)))


async def test_user_data_survives_a_new_process(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    before = DatabasePersistence(sessions, SECRET)
    data = {"step": {"pending": "await_location", "category": "meal_point"}, "note": "九亭"}
    await before.update_user_data(RESIDENT, data)
    [row] = await _rows(sessions)
    # Stored under the keyed hash; the raw Telegram id appears nowhere.
    assert row.key == pseudonym(SECRET, "telegram", str(RESIDENT))
    assert str(RESIDENT) not in row.key + row.data

    after = DatabasePersistence(sessions, SECRET)
    assert await after.get_user_data() == {}  # nothing loaded up front
    user_data: dict[Any, Any] = {}
    await after.refresh_user_data(RESIDENT, user_data)
    assert user_data == data
    # Read once: later changes in memory are not overwritten by a second refresh.
    user_data["note"] = "泗泾"
    await after.refresh_user_data(RESIDENT, user_data)
    assert user_data["note"] == "泗泾"


async def test_a_wrong_secret_reads_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    await DatabasePersistence(sessions, SECRET).update_user_data(RESIDENT, {"a": 1})
    other: dict[Any, Any] = {}
    await DatabasePersistence(sessions, "another-secret-0123456789abcdef").refresh_user_data(
        RESIDENT, other
    )
    assert other == {}


async def test_updates_and_drops(sessions: async_sessionmaker[AsyncSession]) -> None:
    persistence = DatabasePersistence(sessions, SECRET)
    await persistence.update_user_data(RESIDENT, {"a": 1})
    await persistence.update_user_data(RESIDENT, {"a": 2})
    [row] = await _rows(sessions)
    assert row.kind == USER and row.data == '{"a": 2}'
    # Emptied data leaves no row behind, and a drop deletes it.
    await persistence.update_user_data(RESIDENT, {})
    assert await _rows(sessions) == []
    await persistence.update_user_data(RESIDENT, {"a": 3})
    await persistence.drop_user_data(RESIDENT)
    assert await _rows(sessions) == []


async def test_many_writes_at_once_all_land(sessions: async_sessionmaker[AsyncSession]) -> None:
    persistence = DatabasePersistence(sessions, SECRET)
    # PTB gathers one write per resident; they are batched into few transactions.
    await asyncio.gather(
        *(persistence.update_user_data(user_id, {"n": user_id}) for user_id in range(1, 201))
    )
    assert len(await _rows(sessions)) == 200
    fresh = DatabasePersistence(sessions, SECRET)
    data: dict[Any, Any] = {}
    await fresh.refresh_user_data(150, data)
    assert data == {"n": 150}


async def test_two_updates_of_one_resident_share_one_read(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await DatabasePersistence(sessions, SECRET).update_user_data(RESIDENT, {"a": 1})
    persistence = DatabasePersistence(sessions, SECRET)
    shared: dict[Any, Any] = {}
    await asyncio.gather(
        persistence.refresh_user_data(RESIDENT, shared),
        persistence.refresh_user_data(RESIDENT, shared),
    )
    assert shared == {"a": 1}


async def test_residents_arriving_together_are_read_in_one_query(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    writer = DatabasePersistence(sessions, SECRET)
    for n in range(40):
        await writer.update_user_data(RESIDENT + n, {"n": n})
    persistence = DatabasePersistence(sessions, SECRET)
    selects: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        found: list[dict[Any, Any]] = [{} for _ in range(41)]  # the last has nothing stored
        await asyncio.gather(
            *(persistence.refresh_user_data(RESIDENT + n, found[n]) for n in range(41))
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert found == [{"n": n} for n in range(40)] + [{}]
    assert len(selects) == 1


async def test_a_failed_read_is_tried_again_on_the_next_update(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    await DatabasePersistence(sessions, SECRET).update_user_data(RESIDENT, {"a": 1})
    persistence = DatabasePersistence(sessions, SECRET)
    real_read = persistence._read

    async def down(user_ids: list[int]) -> dict[int, Any]:
        raise OSError("database unreachable")

    monkeypatch.setattr(persistence, "_read", down)
    with pytest.raises(OSError, match="unreachable"):
        await persistence.refresh_user_data(RESIDENT, {})
    monkeypatch.setattr(persistence, "_read", real_read)
    data: dict[Any, Any] = {}
    await persistence.refresh_user_data(RESIDENT, data)
    assert data == {"a": 1}


async def test_an_unreadable_row_is_ignored(sessions: async_sessionmaker[AsyncSession]) -> None:
    persistence = DatabasePersistence(sessions, SECRET)
    async with sessions() as session, session.begin():
        session.add(TelegramData(kind=USER, key=persistence.key(RESIDENT), data="{not json"))
    data: dict[Any, Any] = {}
    await persistence.refresh_user_data(RESIDENT, data)
    assert data == {}


async def test_persistent_conversation_handlers_are_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(NotImplementedError, match=r"bot\.conversation"):
        await DatabasePersistence(sessions, SECRET).get_conversations("any")
