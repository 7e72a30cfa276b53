"""Draft → submit → approve by another person → published; conflicts, schedules, rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from knowledge import editing
from knowledge.loader import load_shipped
from knowledge.models import KbEntry
from knowledge.store import import_content, load_published

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ENTRY = "elder-meal-point"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        made = session_factory(engine)
        async with made() as session, session.begin():
            await import_content(session, load_shipped())
        yield made


async def _values(sessions: async_sessionmaker[AsyncSession], entry_id: str) -> dict[str, Any]:
    async with sessions() as session:
        row = await session.get(KbEntry, entry_id)
        assert row is not None
        return editing.entry_values(row, await editing.questions_of(session, entry_id))


async def _answer(sessions: async_sessionmaker[AsyncSession], entry_id: str) -> str:
    async with sessions() as session:
        snapshot = await load_published(session)
    return next(e.answer for e in snapshot.entries if e.id == entry_id)


async def test_a_change_reaches_residents_only_after_another_person_approves(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    original = await _answer(sessions, ENTRY)
    values = await _values(sessions, ENTRY)
    values["answer"] = "改过的回答：请就近到助餐点用餐。\n"
    async with sessions() as session, session.begin():
        draft, change = await editing.save(
            session, entry_id=ENTRY, values=values, revision=None, actor="小王", now=NOW
        )
        assert change.action == "draft_saved" and draft.revision == 1
    assert await _answer(sessions, ENTRY) == original  # a draft is not published
    async with sessions() as session, session.begin():
        await editing.submit(session, entry_id=ENTRY, actor="小王", now=NOW)
    assert await _answer(sessions, ENTRY) == original  # nor a submitted one
    async with sessions() as session, session.begin():
        with pytest.raises(editing.EditError, match="不能批准自己"):
            await editing.approve(session, entry_id=ENTRY, actor="小王", now=NOW)
    async with sessions() as session, session.begin():
        result = await editing.approve(session, entry_id=ENTRY, actor="小李", now=NOW)
        assert isinstance(result, editing.Published)
        assert result.change.before and result.change.before["answer"] == original
    assert await _answer(sessions, ENTRY) == values["answer"].strip()
    async with sessions() as session:
        row = await session.get(KbEntry, ENTRY)
        assert row is not None and row.version == 2 and row.approved_by == "小李"
        versions = await editing.versions(session, ENTRY)
        assert [(v.version, v.changed_by, v.approved_by) for v in versions] == [
            (2, "小王", "小李"),
            (1, "import", None),
        ]
        assert await editing.draft_of(session, ENTRY) is None


async def test_the_second_save_over_the_same_draft_is_a_conflict_losing_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    values = await _values(sessions, ENTRY)
    async with sessions() as session, session.begin():
        draft, _ = await editing.save(
            session, entry_id=ENTRY, values=values, revision=None, actor="小王", now=NOW
        )
    first, second = dict(values), dict(values)
    first["title"], second["title"] = "小王改的标题", "小李改的标题"
    async with sessions() as session, session.begin():
        await editing.save(
            session, entry_id=ENTRY, values=first, revision=draft.revision, actor="小王", now=NOW
        )
    async with sessions() as session, session.begin():
        with pytest.raises(editing.Conflict) as caught:
            await editing.save(
                session,
                entry_id=ENTRY,
                values=second,
                revision=draft.revision,
                actor="小李",
                now=NOW,
            )
    conflict = caught.value
    assert conflict.theirs["title"] == "小王改的标题" and conflict.theirs_by == "小王"
    assert conflict.yours["title"] == "小李改的标题"
    # Saving again from the conflict page (with the current revision) goes through.
    async with sessions() as session, session.begin():
        saved, _ = await editing.save(
            session,
            entry_id=ENTRY,
            values=second,
            revision=conflict.revision,
            actor="小李",
            now=NOW,
        )
        assert saved.snapshot["title"] == "小李改的标题"


async def test_two_people_starting_a_draft_at_once_conflict(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    values = await _values(sessions, ENTRY)
    async with sessions() as session, session.begin():
        await editing.save(
            session, entry_id=ENTRY, values=values, revision=None, actor="小王", now=NOW
        )
    async with sessions() as session, session.begin():
        with pytest.raises(editing.Conflict):
            # Both opened the published entry (no draft yet): the second finds one.
            await editing.save(
                session, entry_id=ENTRY, values=values, revision=None, actor="小李", now=NOW
            )


async def test_invalid_fields_are_named_in_chinese(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    values = await _values(sessions, ENTRY)
    values["questions"] = ["只有一个问法"]
    values["category"] = "天气"
    values.pop("source")
    async with sessions() as session, session.begin():
        with pytest.raises(editing.Invalid) as caught:
            await editing.save(
                session, entry_id=ENTRY, values=values, revision=None, actor="小王", now=NOW
            )
    problems = caught.value.problems
    assert set(problems) == {"questions", "category", "source"}
    assert "至少要 5 个" in problems["questions"] and problems["source"] == "必填"


async def test_a_scheduled_publish_waits_for_its_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    values = await _values(sessions, ENTRY)
    values["answer"] = "明年起的新规定。\n"
    async with sessions() as session, session.begin():
        await editing.save(
            session, entry_id=ENTRY, values=values, revision=None, actor="小王", now=NOW
        )
        await editing.submit(session, entry_id=ENTRY, actor="小王", now=NOW)
        later = NOW + timedelta(days=30)
        change = await editing.approve(
            session, entry_id=ENTRY, actor="小李", now=NOW, publish_at=later
        )
        assert isinstance(change, editing.Change) and change.action == "draft_scheduled"
    async with sessions() as session, session.begin():
        assert await editing.publish_due(session, now=NOW + timedelta(days=29)) == []
    assert await _answer(sessions, ENTRY) != values["answer"].strip()
    async with sessions() as session, session.begin():
        [done] = await editing.publish_due(session, now=NOW + timedelta(days=30, seconds=1))
        assert done.entry.approved_by == "小李"
    assert await _answer(sessions, ENTRY) == values["answer"].strip()


async def test_send_back_needs_a_reason_and_reopens_the_draft(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    values = await _values(sessions, ENTRY)
    async with sessions() as session, session.begin():
        await editing.save(
            session, entry_id=ENTRY, values=values, revision=None, actor="小王", now=NOW
        )
        await editing.submit(session, entry_id=ENTRY, actor="小王", now=NOW)
        with pytest.raises(editing.EditError, match="原因"):
            await editing.send_back(session, entry_id=ENTRY, actor="小李", comment=" ", now=NOW)
        change = await editing.send_back(
            session, entry_id=ENTRY, actor="小李", comment="电话号码不对", now=NOW
        )
        assert change.note == "电话号码不对"
        draft = await editing.draft_of(session, ENTRY)
        assert draft is not None and draft.state == "editing"
        assert draft.review_comment == "电话号码不对"


async def test_rollback_makes_a_draft_of_the_old_text(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    original = await _answer(sessions, ENTRY)
    values = await _values(sessions, ENTRY)
    values["answer"] = "一个写错了的回答。\n"
    async with sessions() as session, session.begin():
        await editing.save(
            session, entry_id=ENTRY, values=values, revision=None, actor="小王", now=NOW
        )
        await editing.submit(session, entry_id=ENTRY, actor="小王", now=NOW)
        await editing.approve(session, entry_id=ENTRY, actor="小李", now=NOW)
    async with sessions() as session, session.begin():
        draft, change = await editing.rollback(
            session, entry_id=ENTRY, version=1, actor="小李", now=NOW
        )
        assert draft.snapshot["answer"] == original and change.note == "from version 1"
    assert await _answer(sessions, ENTRY) == values["answer"].strip()  # still a draft


async def test_a_new_entry_and_the_first_review_of_shipped_content(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    new = {
        "id": "elder-test-new",
        "title": "新内容",
        "category": "养老",
        "questions": ["问法一", "问法二", "问法三", "问法四", "问法五"],
        "answer": "回答。\n",
        "source": "测试",
        "reviewed": "2026-12-01",
        "review_by": "2027-12-01",
    }
    async with sessions() as session, session.begin():
        draft, _ = await editing.save(
            session, entry_id=None, values=new, revision=None, actor="小王", now=NOW
        )
        assert draft.base_version == 0
        with pytest.raises(editing.Invalid) as duplicate:
            await editing.save(
                session, entry_id=None, values=new, revision=None, actor="小李", now=NOW
            )
        assert "已经有了" in duplicate.value.problems["id"]
        await editing.submit(session, entry_id="elder-test-new", actor="小王", now=NOW)
        await editing.approve(session, entry_id="elder-test-new", actor="小李", now=NOW)
        change = await editing.confirm_review(
            session, entry_id=ENTRY, actor="小李", today=date(2026, 12, 1), now=NOW
        )
        assert change.after and change.after["reviewed"] == "2026-12-01"
    async with sessions() as session:
        unreviewed = (
            await session.execute(select(col(KbEntry.id)).where(col(KbEntry.approved_by).is_(None)))
        ).scalars()
        remaining = set(unreviewed)
        assert ENTRY not in remaining and "elder-test-new" not in remaining
        assert len(remaining) == len(load_shipped().entries) - 1
