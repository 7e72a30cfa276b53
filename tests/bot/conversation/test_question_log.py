"""The question log writer: one row the database refuses costs only that row."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.conversation.models import QuestionLog
from bot.conversation.question_log import QuestionLogWriter, loggable, mask_personal
from bot.database import engine_context, session_factory
from bot.migrate import upgrade


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        yield session_factory(engine)


def _row(writer: QuestionLogWriter, text: Any) -> None:
    writer.add(user_key="r", channel="web", text="x", entry_id=None, score=0.1, fallback=True)
    writer._rows[-1]["text"] = text  # as a bug upstream might hand it over


async def test_a_refused_row_is_dropped_alone_with_one_log_line(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    writer = QuestionLogWriter(sessions, flush_after_s=3600)
    for text in ("低保怎么申请", None, "助餐点在哪里"):  # NULL text: refused by both databases
        _row(writer, text)
    with caplog.at_level(logging.WARNING, logger="bot.conversation.question_log"):
        await writer.flush()
    async with sessions() as session:
        texts = (
            await session.execute(select(col(QuestionLog.text)).order_by(col(QuestionLog.id)))
        ).scalars()
        assert list(texts) == ["低保怎么申请", "助餐点在哪里"]
    [record] = caplog.records
    assert "dropped" in record.getMessage() and "低保" not in record.getMessage()
    # Nothing is left to retry in front of later questions.
    _row(writer, "轮椅怎么租")
    await writer.flush()
    async with sessions() as session:
        assert len((await session.execute(select(QuestionLog))).scalars().all()) == 3
    await writer.close()


async def test_text_no_database_stores_is_cleaned_before_it_is_kept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    writer = QuestionLogWriter(sessions, flush_after_s=3600)
    for text in ("\ud800低保", "底保\x00怎么申请"):
        writer.add(user_key="r", channel="web", text=text, entry_id=None, score=0, fallback=True)
    await writer.close()
    async with sessions() as session:
        texts = (await session.execute(select(col(QuestionLog.text)))).scalars()
        assert sorted(texts) == sorted(["低保", "底保怎么申请"])


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("身份证310117195001011234", "身份证[身份证号]"),
        ("证号31011719500101123x的低保", "证号[身份证号]的低保"),
        ("老身份证310117500101123", "老身份证[身份证号]"),
        ("手机13912345678", "手机[手机号]"),
        ("电话 +86 139-1234-5678 打我", "电话 [手机号] 打我"),
        ("热线37009999打不通", "热线37009999打不通"),  # the hotline is no one's number
        ("12345", "12345"),
        ("2026年12月1日低保", "2026年12月1日低保"),
    ],
)
def test_id_card_and_mobile_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_personal(text) == masked


def test_a_logged_question_is_bounded() -> None:
    assert len(loggable("低" * 10_000)) == 500
