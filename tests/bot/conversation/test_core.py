"""The conversation core as a resident meets it, on a real database, with no channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.conversation import texts
from bot.conversation.core import Conversation
from bot.conversation.flood import FloodGuard
from bot.conversation.messages import Action, Command, Location, Press, Reply, Text
from bot.conversation.models import AnswerFeedback, ConversationState, QuestionLog
from bot.conversation.question_log import FLUSH_AFTER_S as QUESTION_LOG_FLUSH_S
from bot.database import engine_context, session_factory
from bot.escalations.models import Escalation
from bot.escalations.office_hours import OfficeHours
from bot.escalations.service import Cases
from bot.keyring import KeyRing
from bot.migrate import upgrade
from bot.seeding import seed_if_empty
from directory.service import Directory
from knowledge.service import KnowledgeBase

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_11 = datetime(2026, 11, 30, 11, 0, tzinfo=TZ)
KEYS = KeyRing("test-secret-" + "x" * 32)
RESIDENT = KEYS.pseudonym("telegram", "424242")


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        await seed_if_empty(engine)
        yield session_factory(engine)


async def _conversation(sessions: async_sessionmaker[AsyncSession]) -> Conversation:
    knowledge = KnowledgeBase(sessions, TZ)
    directory = Directory(sessions)
    await knowledge.rebuild()
    await directory.rebuild()
    return Conversation(
        knowledge=knowledge,
        directory=directory,
        sessions=sessions,
        tz=TZ,
        cases=Cases(keyring=KEYS, desk_enabled=False),
        office_hours=OfficeHours.parse("08:30-11:30,13:00-17:00", TZ),
    )


@pytest.fixture
async def conversation(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Conversation]:
    conversation = await _conversation(sessions)
    yield conversation
    await conversation.close()


async def _logged(sessions: async_sessionmaker[AsyncSession]) -> list[QuestionLog]:
    async with sessions() as session:
        return list((await session.execute(select(QuestionLog))).scalars().all())


async def say(conversation: Conversation, action: Action) -> list[Reply]:
    return await conversation.handle("telegram", RESIDENT, action, MONDAY_11)


async def test_start_greets_with_big_buttons(conversation: Conversation) -> None:
    [reply] = await say(conversation, Command("start"))
    assert "松江民政助手" in reply.text and "37009999" in reply.text
    assert reply.keyboard == texts.MENU


async def test_a_question_gets_its_answer_source_and_date_and_buttons(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [reply] = await say(conversation, Text("底保怎么申请"))
    assert "低保" in reply.text
    assert "来源：" in reply.text and "最后核对：" in reply.text
    data = [b.data for row in reply.buttons for b in row]
    assert any(d.startswith("fb|") for d in data)
    assert any(d.startswith("d|") for d in data)
    # Logged off the reply path, within half a second.
    async with asyncio.timeout(5):
        while not (logged := await _logged(sessions)):
            await asyncio.sleep(0.05)
    assert [(q.text, q.fallback) for q in logged] == [("底保怎么申请", False)]
    assert logged[0].user_key == RESIDENT and "424242" not in logged[0].user_key


async def test_an_answer_past_its_review_date_says_so_though_built_before(
    conversation: Conversation,
) -> None:
    """Entry replies are built once and kept; passing the review date must still show."""
    [before] = await say(conversation, Text("低保怎么申请"))
    assert "已过核对期" not in before.text
    entry = conversation.knowledge.index.entries["assist-dibao-apply"]
    later = datetime.combine(entry.review_by, MONDAY_11.timetz()) + timedelta(days=1)
    [after] = await conversation.handle("telegram", RESIDENT, Text("低保怎么申请"), later)
    assert "已过核对期" in after.text
    assert after.text.startswith(before.text)
    [again] = await say(conversation, Text("低保怎么申请"))
    assert again == before


async def test_details_related_and_feedback_buttons(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [reply] = await say(conversation, Text("结婚登记要带什么材料"))
    data = {b.label: b.data for row in reply.buttons for b in row}
    [details] = await say(conversation, Press(data["所需材料"]))
    assert "所需材料" in details.text and "身份证" in details.text
    [related] = await say(conversation, Press(data["相关问题"]))
    assert related.buttons
    [other] = await say(conversation, Press(related.buttons[0][0].data))
    assert "来源：" in other.text
    [thanks] = await say(conversation, Press(data["有帮助"]))
    assert thanks.text == texts.THANKS
    async with sessions() as session:
        feedback = (await session.execute(select(AnswerFeedback))).scalars().all()
    assert [(f.entry_id, f.helpful) for f in feedback] == [(data["有帮助"].split("|")[1], True)]


async def test_not_found_offers_suggestions_and_an_advisor(conversation: Conversation) -> None:
    [reply] = await say(conversation, Text("补贴"))
    assert reply.text.startswith(texts.NOT_FOUND)
    data = [b.data for row in reply.buttons for b in row]
    assert "advisor" in data
    assert len([d for d in data if d.startswith("q|")]) <= 3


async def test_other_departments_matters_get_plain_advice(conversation: Conversation) -> None:
    [reply] = await say(conversation, Text("护照过期了怎么办"))
    assert reply.text.startswith(texts.OUT_OF_SCOPE) and "12345" in reply.text


async def test_an_everyday_question_is_told_what_can_be_asked(conversation: Conversation) -> None:
    for question in ("红烧肉怎么烧才好吃", "帮我写一首关于春天的诗", "周末去哪里玩好"):
        [reply] = await say(conversation, Text(question))
        # Plainly not civil affairs; the daily-life matter's advice, or the general one.
        assert reply.text == texts.OUTSIDE or reply.text.startswith(texts.OUT_OF_SCOPE), question
        assert "低保" in reply.text and "12345" in reply.text, question
        # No entry is offered for it.
        assert not [b for row in reply.buttons for b in row if b.data.startswith("q|")], question


async def test_a_lonely_resident_is_pointed_to_the_buddy_programme(
    conversation: Conversation,
) -> None:
    [reply] = await say(conversation, Text("我一个人住，好孤单，想有人陪我说说话"))
    assert "老伙伴" in reply.text and "37009999" in reply.text


async def test_empty_and_unknown_buttons_are_handled_kindly(conversation: Conversation) -> None:
    [empty] = await say(conversation, Text("  ？？ "))
    assert empty.text == texts.EMPTY_PROMPT
    [stale] = await say(conversation, Press("q|no-such-entry"))
    assert stale.keyboard == texts.MENU


async def test_find_a_place_by_category_then_location_survives_a_restart(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [menu] = await say(conversation, Text(texts.FIND_PLACE))
    meal = next(b for row in menu.buttons for b in row if b.data == "cat|meal_point")
    [ask] = await say(conversation, Press(meal.data))
    assert ask.request_location
    # The service restarts between the two steps: a new core, the same database.
    restarted = await _conversation(sessions)
    [places] = await say(restarted, Location(31.03, 121.23))
    assert len(places.places) == 5
    distances = [p.distance_m for p in places.places]
    assert distances == sorted(d for d in distances if d is not None)
    assert all("助餐点" in p.name for p in places.places)
    assert texts.SAMPLE_NOTE in places.text and "正在营业" in places.text
    await restarted.close()


async def test_a_town_name_instead_of_a_location(conversation: Conversation) -> None:
    await say(conversation, Press("cat|day_care"))
    [reply] = await say(conversation, Text("九亭"))
    assert reply.places and all("九亭" in p.name for p in reply.places)


async def test_a_location_without_a_step_lists_all_kinds_with_narrowing_buttons(
    conversation: Conversation,
) -> None:
    [reply] = await say(conversation, Location(31.13, 121.30))
    assert 0 < len(reply.places) <= 5
    assert any(b.data.startswith("cat|") for row in reply.buttons for b in row)


async def test_every_shipped_entry_fits_telegrams_button_limit(
    conversation: Conversation,
) -> None:
    for entry in conversation.knowledge.index.entries.values():
        reply = conversation.entry_replies.get(entry, MONDAY_11.date())
        assert all(len(b.data.encode()) <= 64 for row in reply.buttons for b in row)


async def test_stop_deletes_what_was_kept_about_the_resident(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await say(conversation, Text("低保怎么申请"))
    await conversation.flush()  # one question written, one still gathered
    await say(conversation, Text("助餐点在哪"))
    await say(conversation, Text(texts.ADVISOR))
    await say(conversation, Press("cat|meal_point"))
    [reply] = await say(conversation, Command("stop"))
    assert reply.text == texts.DATA_DELETED
    await conversation.flush()
    async with sessions() as session:
        for table in (QuestionLog, Escalation, AnswerFeedback, ConversationState):
            assert (await session.execute(select(table))).scalars().all() == [], table
    # A location now is a fresh start: no category is remembered.
    [places] = await say(conversation, Location(31.03, 121.23))
    assert any(b.data.startswith("cat|") for row in places.buttons for b in row)


def test_flood_guard_slows_after_twenty_a_minute_and_warns_once() -> None:
    guard = FloodGuard(limit=20, window_s=60, slow_delay_s=2)
    results = [guard.check("r", now=float(i)) for i in range(25)]
    assert all(r == (0.0, False) for r in results[:20])
    assert results[20] == (2, True)
    assert all(r == (2, False) for r in results[21:])
    assert guard.check("r", now=200.0) == (0.0, False)
    assert guard.check("other", now=24.0) == (0.0, False)


async def test_a_question_keeps_no_step_but_feedback_is_written(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Residents who only ask leave no conversation_state row: the step is written only when
    it changes."""
    [reply] = await say(conversation, Text("低保怎么申请"))
    assert "来源：" in reply.text
    async with sessions() as session:
        assert (await session.execute(select(ConversationState))).scalars().all() == []
    [thanks] = await say(conversation, Press(reply.buttons[0][0].data))
    assert thanks.text == texts.THANKS
    await conversation.flush()
    async with sessions() as session:
        assert len((await session.execute(select(AnswerFeedback))).scalars().all()) == 1
        assert len((await session.execute(select(QuestionLog))).scalars().all()) == 1
        assert (await session.execute(select(ConversationState))).scalars().all() == []


async def test_closing_while_a_question_log_write_waits_loses_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    conversation = await _conversation(sessions)
    await conversation.handle("telegram", RESIDENT, Text("低保怎么申请"), MONDAY_11)
    async with sessions() as holder, holder.begin():
        # Hold up the log's write: SQLite's one connection is taken; PostgreSQL's table locked.
        if holder.get_bind().dialect.name == "postgresql":
            await holder.execute(text("LOCK TABLE question_log IN EXCLUSIVE MODE"))
        else:
            await holder.execute(select(1))
        await asyncio.sleep(QUESTION_LOG_FLUSH_S + 0.3)  # the write has started and waits
        closing = asyncio.create_task(conversation.close())
        await asyncio.sleep(0.2)
        assert not closing.done()
    await closing
    assert [q.text for q in await _logged(sessions)] == ["低保怎么申请"]
