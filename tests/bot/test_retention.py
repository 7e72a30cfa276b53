"""Residents' questions, feedback and steps are deleted after MINZHENG_QUESTION_LOG_DAYS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import PIPE
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot import keys
from bot.conversation.models import AnswerFeedback, ConversationState, QuestionLog
from bot.database import engine_context, session_factory
from bot.escalations.models import CaseState, Escalation, EscalationMessage
from bot.migrate import upgrade
from bot.residents.models import Resident
from bot.residents.registry import REGISTRY
from bot.retention import purge_expired
from bot.settings import Settings, SettingsError, load_settings
from bot.web import app as web_app
from tests.conftest import AppClient

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
        session.add(ConversationState(id=f"telegram:{tag}", updated_at=at))
        # A case closed then, with its transcript, and the resident no purpose keeps reachable.
        case = Escalation(
            channel="telegram",
            user_key=tag,
            state=CaseState.closed,
            need="一个人住，想找人帮忙",
            opened_at=at,
            closed_at=at,
        )
        session.add(case)
        await session.flush()
        assert case.id is not None
        session.add(
            EscalationMessage(
                escalation_id=case.id,
                user_key=tag,
                author="resident",
                kind="text",
                text="谢谢",
                via="telegram",
                created_at=at,
            )
        )
        session.add(Resident(channel="telegram", user_key=tag, created_at=at, updated_at=at))


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
    assert purged.tables["escalation_message"] == 1 and purged.tables["resident"] == 1
    for model in (QuestionLog, AnswerFeedback, EscalationMessage, Resident):
        assert await _count(sessions, model) == 2
    assert await _count(sessions, ConversationState) == 4
    async with sessions() as session:
        keys = set(await session.scalars(select(col(QuestionLog.user_key))))
        cases = list(await session.scalars(select(Escalation).order_by(col(Escalation.id))))
    assert keys == {"recent", "edge"}
    # The old case stays for statistics, without the resident's key or words.
    assert [(c.user_key, c.need is None) for c in cases] == [
        (None, True),
        ("recent", False),
        ("edge", False),
    ]
    again = await purge_expired(sessions, keep_days=180, now=NOW)
    assert (again.questions, again.feedback, again.steps) == (0, 0, 0)


def test_every_table_with_residents_data_is_in_the_registry() -> None:
    """/stop and the purge both go by the registry: a table keyed by residents that is not in
    it would be missed by both."""
    from bot.models import metadata

    keys = {"user_key", "recipient_key", "resident_key", "caregiver_key", "for_key"}
    keyed = {t.name for t in metadata().tables.values() if keys & set(t.columns.keys())}
    listed = {data.name for data in REGISTRY}
    assert keyed and keyed <= listed, keyed - listed
    assert {"conversation_state", "resident", "escalation", "reminder_outbox"} <= listed


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


async def test_a_purge_under_way_at_shutdown_is_finished(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    app_client: AppClient,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopping the service lets a purge that has started finish: cancelled halfway, its delete
    would be rolled back and leave the connection in doubt for the last writes."""
    app = web_app.create_app(make_settings(database_url=database_url))
    client = await app_client(app)
    async with asyncio.timeout(30):
        # Started, and done loading the shipped content (its writes would meet the lock below).
        while (await client.get("/healthz")).status != 200 or (
            await (await client.post("/api/ask", json={"question": "低保怎么申请"})).json()
        ).get("fallback", True):
            await asyncio.sleep(0.05)
    for _ in range(20):
        await _fill(sessions, 400, "old")
        holder = sessions()
        await holder.begin()
        # Hold up the next purge: PostgreSQL's table locked, SQLite's file write-locked.
        if holder.get_bind().dialect.name == "postgresql":
            await holder.execute(text("LOCK TABLE question_log IN EXCLUSIVE MODE"))
        else:
            holder.add(
                QuestionLog(user_key="new", channel="web", text="低保", score=0.9, fallback=False)
            )
            await holder.flush()
        old = select(func.count()).where(col(QuestionLog.user_key) == "old")
        if await holder.scalar(old):
            break  # the old rows are in, and no purge can take them before the lock goes
        await holder.rollback()
        await holder.close()
    # The scheduler's leader purges once a day; here, now.
    purging = asyncio.create_task(app[keys.REMINDERS].ticks.purge())
    await asyncio.sleep(0.6)  # the purge has started and waits
    assert not purging.done()
    stopping = asyncio.create_task(client.close())
    await asyncio.sleep(0.3)
    assert not stopping.done()
    await holder.commit()
    await holder.close()
    await stopping
    with contextlib.suppress(asyncio.CancelledError):
        await purging
    assert await _count(sessions, AnswerFeedback) == 0
    async with sessions() as session:
        left = (await session.execute(select(col(QuestionLog.user_key)))).scalars().all()
    assert "old" not in left


async def test_the_sent_log_is_kept_longer_than_residents_data_then_goes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The anti-fraud log holds hashes and times only: kept 400 days, not the 180 of what
    residents leave behind."""
    from jobs.models import SentDigest

    now = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    async with sessions() as session, session.begin():
        session.add(SentDigest(digest="old", sent_at=now - timedelta(days=401)))
        session.add(SentDigest(digest="kept", sent_at=now - timedelta(days=200)))
    purged = await purge_expired(sessions, keep_days=180, now=now)
    assert purged.tables["reminder_sent_digest"] == 1
    async with sessions() as session:
        left = list(await session.scalars(select(col(SentDigest.digest))))
    assert left == ["kept"]
