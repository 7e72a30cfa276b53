from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from knowledge.calibration import Calibration
from knowledge.loader import load_shipped, load_text
from knowledge.models import EntryStatus, KbEntry, KbEntryVersion, KbQuestion
from knowledge.schema import CueIn
from knowledge.service import KnowledgeBase, content_stamp
from knowledge.store import ImportReport, export_published, import_content, load_published
from tests.knowledge.test_loader_and_lint import CUES, ENTRY


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        yield engine


async def _import(engine: AsyncEngine, text: str) -> ImportReport:
    async with session_factory(engine)() as session, session.begin():
        return await import_content(session, load_text(text, "t.yaml"))


async def test_import_is_idempotent_and_a_change_makes_a_new_version(engine: AsyncEngine) -> None:
    first = await _import(engine, ENTRY)
    assert first.created == ["test-entry"]
    again = await _import(engine, ENTRY)
    assert not again.changed and again.unchanged == ["test-entry"]
    changed = await _import(
        engine, ENTRY.replace("这是回答。", "这是新的回答。").replace("问题五", "问题六")
    )
    assert changed.updated == ["test-entry"]
    async with session_factory(engine)() as session:
        entry = await session.get(KbEntry, "test-entry")
        assert entry is not None and entry.version == 2 and entry.answer == "这是新的回答。"
        versions = (
            (
                await session.execute(
                    select(col(KbEntryVersion.version)).where(
                        col(KbEntryVersion.entry_id) == "test-entry"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert sorted(versions) == [1, 2]
        questions = (
            (
                await session.execute(
                    select(col(KbQuestion.text))
                    .where(col(KbQuestion.entry_id) == "test-entry")
                    .order_by(col(KbQuestion.position))
                )
            )
            .scalars()
            .all()
        )
        assert questions[-1] == "问题六" and "问题五" not in questions


async def test_seeding_the_shipped_content_twice_changes_nothing(engine: AsyncEngine) -> None:
    content = load_shipped()
    async with session_factory(engine)() as session, session.begin():
        first = await import_content(session, content)
    async with session_factory(engine)() as session, session.begin():
        second = await import_content(session, content)
    assert len(first.created) == len(content.entries)
    assert not second.changed
    async with session_factory(engine)() as session:
        count = (await session.execute(select(func.count()).select_from(KbEntry))).scalar_one()
        versions = (
            await session.execute(select(func.count()).select_from(KbEntryVersion))
        ).scalar_one()
    assert count == versions == len(content.entries)


async def test_only_published_entries_are_loaded_and_exported(engine: AsyncEngine) -> None:
    second = (
        ENTRY.split("entries:\n", 1)[1].replace("test-entry", "draft-entry").replace("问题", "草稿")
    )
    await _import(engine, ENTRY + second)
    async with session_factory(engine)() as session, session.begin():
        draft = await session.get(KbEntry, "draft-entry")
        assert draft is not None
        draft.status = EntryStatus.draft.value
    async with session_factory(engine)() as session:
        snapshot = await load_published(session)
        exported = await export_published(session)
    assert [e.id for e in snapshot.entries] == ["test-entry"]
    assert [e["id"] for e in exported] == ["test-entry"]
    assert exported[0]["questions"] == ["问题一", "问题二", "问题三", "问题四", "问题五"]
    assert {"title", "answer", "source", "reviewed", "review_by", "version", "status"} <= set(
        exported[0]
    )


async def test_the_knowledge_base_rebuilds_when_content_changes(engine: AsyncEngine) -> None:
    await _import(engine, ENTRY)
    # One entry makes every word rare and every score low: answer whatever matches best.
    lenient = dataclasses.replace(Calibration.default(), threshold=0.0)
    base = KnowledgeBase(session_factory(engine), ZoneInfo("Asia/Shanghai"), lenient)
    old = await base.rebuild()
    assert not await base.rebuild_if_changed()
    await _import(engine, ENTRY.replace("这是回答。", "改过的回答。"))
    assert await base.rebuild_if_changed()
    assert base.index is not old
    answer = base.ask("问题三")
    assert answer.entry is not None and answer.entry.answer == "改过的回答。"


async def test_cue_groups_are_imported_loaded_and_stamped(engine: AsyncEngine) -> None:
    first = await _import(engine, ENTRY + CUES)
    assert first.cues_changed == 1 and first.as_dict()["cues_changed"] == 1
    again = await _import(engine, ENTRY + CUES)
    assert not again.changed and again.cues_changed == 0
    other = CUES.replace("测试的需要", "另一个需要").split("cues:\n", 1)[1]
    await _import(engine, CUES + other)
    async with session_factory(engine)() as session:
        before = await content_stamp(session)
        snapshot = await load_published(session)
    # In the order they were added, as the matcher and the export get them.
    assert snapshot.cues == (
        CueIn(need="测试的需要", entries=["test-entry"], signs=["心里有件难事", "不晓得怎么开口"]),
        CueIn(need="另一个需要", entries=["test-entry"], signs=["心里有件难事", "不晓得怎么开口"]),
    )
    # A group changed in place (same count, same ids) still changes the stamp.
    changed = await _import(engine, CUES.replace("不晓得怎么开口", "夜里睡不着觉"))
    assert changed.cues_changed == 1 and not changed.created
    async with session_factory(engine)() as session:
        assert await content_stamp(session) != before
        snapshot = await load_published(session)
    assert [c.need for c in snapshot.cues] == ["测试的需要", "另一个需要"]
    assert snapshot.cues[0].signs == ["心里有件难事", "夜里睡不着觉"]
    # A file without a cues section leaves them alone.
    assert (await _import(engine, ENTRY)).cues_changed == 0
    async with session_factory(engine)() as session:
        assert len((await load_published(session)).cues) == 2


async def test_the_knowledge_base_answers_from_the_stored_cues(engine: AsyncEngine) -> None:
    content = load_shipped()
    async with session_factory(engine)() as session, session.begin():
        report = await import_content(session, content)
    assert report.cues_changed == len(content.cues) > 0
    base = KnowledgeBase(session_factory(engine), ZoneInfo("Asia/Shanghai"))
    await base.rebuild()
    assert len(base.index.cues) > 0
    async with session_factory(engine)() as session:
        assert (await load_published(session)).cues == tuple(content.cues)


def test_yaml_fixture_is_a_real_file(tmp_path: Path) -> None:
    # The fixture text above is what `kb import` tests write to disk.
    path = tmp_path / "entry.yaml"
    path.write_text(ENTRY, encoding="utf-8")
    assert load_text(path.read_text(encoding="utf-8")).entries[0].id == "test-entry"
