"""Residents' questions, feedback and steps are deleted after MINZHENG_QUESTION_LOG_DAYS."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import PIPE
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.conversation.models import AnswerFeedback, ConversationState, QuestionLog
from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from bot.retention import purge_expired
from bot.settings import SettingsError, load_settings
from bot.telegram.models import TelegramData

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=TZ)
MINZHENG = str(Path(sys.executable).with_name("minzheng"))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        yield session_factory(engine)


async def _fill(sessions: async_sessionmaker[AsyncSession], days_ago: float, tag: str) -> None:
    at = NOW - timedelta(days=days_ago)
    async with sessions() as session, session.begin():
        session.add(
            QuestionLog(
                user_key=tag, channel="web", text="低保", score=0.9, fallback=False, asked_at=at
            )
        )
        session.add(AnswerFeedback(user_key=tag, entry_id="dibao", helpful=True, given_at=at))
        session.add(ConversationState(id=f"web:{tag}", updated_at=at))
        session.add(TelegramData(kind="user", key=tag, data="{}", updated_at=at))


async def _count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_only_what_is_older_than_the_period_goes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _fill(sessions, 181, "old")
    await _fill(sessions, 179, "recent")
    # Just inside the period, counted across the UTC date line (Shanghai is UTC+8).
    await _fill(sessions, 180 - 1 / 24, "edge")
    purged = await purge_expired(sessions, keep_days=180, now=NOW)
    assert (purged.questions, purged.feedback, purged.steps) == (1, 1, 2)
    assert purged.cutoff == NOW - timedelta(days=180)
    for model in (QuestionLog, AnswerFeedback, ConversationState, TelegramData):
        assert await _count(sessions, model) == 2
    async with sessions() as session:
        keys = set(await session.scalars(select(col(QuestionLog.user_key))))
    assert keys == {"recent", "edge"}
    again = await purge_expired(sessions, keep_days=180, now=NOW)
    assert (again.questions, again.feedback, again.steps) == (0, 0, 0)


async def test_a_naive_time_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await purge_expired(sessions, keep_days=1, now=datetime(2026, 1, 1))


def test_the_period_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINZHENG_QUESTION_LOG_DAYS", "0")
    with pytest.raises(SettingsError, match="MINZHENG_QUESTION_LOG_DAYS"):
        load_settings()
    monkeypatch.setenv("MINZHENG_QUESTION_LOG_DAYS", "30")
    assert load_settings().question_log_days == 30


async def test_purge_command_reports_what_it_deleted(
    sessions: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    async with sessions() as session, session.begin():
        session.add(
            QuestionLog(user_key="k", channel="telegram", text="养老院", score=0.1, fallback=True)
        )
        session.add(
            QuestionLog(
                user_key="k",
                channel="telegram",
                text="旧问题",
                score=0.1,
                fallback=True,
                asked_at=old,
            )
        )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MINZHENG_DATABASE_URL": database_url,
        "MINZHENG_QUESTION_LOG_DAYS": "30",
    }
    process = await asyncio.create_subprocess_exec(
        MINZHENG, "purge", "--json", env=env, cwd=tmp_path, stdout=PIPE, stderr=PIPE
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert json.loads(stdout)["questions"] == 1
    assert await _count(sessions, QuestionLog) == 1
