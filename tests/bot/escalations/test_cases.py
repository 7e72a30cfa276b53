"""The resident's side of a case and the relay, with in-memory fakes of our own ports (the
desk and the residents' line) on a real database: office hours and holidays, the offer after two
fallbacks, retries, and what a crash leaves behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.console.models import AuditEvent, Role, StaffUser
from bot.conversation import texts
from bot.conversation.core import Conversation
from bot.conversation.messages import Command, Media, Press, Reply, Text
from bot.database import engine_context, session_factory
from bot.escalations.models import Delivery, Escalation, EscalationMessage
from bot.escalations.office_hours import OfficeHours
from bot.escalations.ports import Card, DeskPost, DeskRef, Unreachable
from bot.escalations.relay import Relay
from bot.escalations.service import Advisor, Cases
from bot.keyring import KeyRing
from bot.migrate import upgrade
from bot.seeding import seed_if_empty
from directory.service import Directory
from knowledge.service import KnowledgeBase

TZ = ZoneInfo("Asia/Shanghai")
KEYS = KeyRing("escalation-tests-" + "k" * 32)
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
EVENING = datetime(2026, 12, 1, 19, 30, tzinfo=TZ)
NATIONAL_DAY = datetime(2026, 10, 2, 10, 0, tzinfo=TZ)


class FakeDesk:
    def __init__(self) -> None:
        self.cards: dict[int, Card] = {}
        self.posts: list[tuple[int, DeskPost]] = []
        self.closed: dict[int, bool] = {}
        self.fail_posts = 0

    async def open_case(self, card: Card) -> DeskRef:
        self.cards[card.case_id] = card
        return DeskRef(-100, card.case_id * 10, card.case_id * 100)

    async def edit_card(self, ref: DeskRef, card: Card) -> None:
        self.cards[card.case_id] = card

    async def post(self, ref: DeskRef, post: DeskPost) -> int:
        if self.fail_posts:
            self.fail_posts -= 1
            raise ConnectionError("Telegram away")
        self.posts.append((ref.card_message_id // 100, post))
        return len(self.posts)

    async def set_closed(self, ref: DeskRef, closed: bool) -> None:
        self.closed[ref.card_message_id // 100] = closed

    async def delete_case(self, ref: DeskRef) -> None:
        self.cards.pop(ref.card_message_id // 100, None)

    async def post_general(self, chat_id: int, post: DeskPost) -> int:
        self.posts.append((0, post))
        return len(self.posts)


class FakeLine:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.blocked: set[str] = set()

    async def send(self, chat_id: str, reply: Reply) -> None:
        if chat_id in self.blocked:
            raise Unreachable("blocked")
        self.sent.append((chat_id, reply))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        await seed_if_empty(engine)
        yield session_factory(engine)


class World:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.desk = FakeDesk()
        self.line = FakeLine()
        self.cases = Cases(keyring=KEYS, desk_enabled=True)
        self.relay = Relay(
            sessions=sessions, cases=self.cases, tz=TZ, desk=self.desk, line=self.line
        )
        self.conversation: Conversation

    async def start(self) -> World:
        knowledge = KnowledgeBase(self.sessions, TZ)
        directory = Directory(self.sessions)
        await knowledge.rebuild()
        await directory.rebuild()
        self.conversation = Conversation(
            knowledge=knowledge,
            directory=directory,
            sessions=self.sessions,
            tz=TZ,
            cases=self.cases,
            office_hours=OfficeHours.parse("08:30-11:30,13:00-17:00", TZ),
            relay=self.relay,
        )
        return self

    async def say(self, action: Text | Press | Command | Media, now: datetime) -> list[Reply]:
        key = KEYS.pseudonym("telegram", "777")
        replies = await self.conversation.handle("telegram", key, action, now, chat_id="777")
        await self.conversation.settled()
        return replies

    async def advisor(self) -> Advisor:
        async with self.sessions() as session, session.begin():
            user = StaffUser(name="顾问张", role=Role.advisor, password_hash="x")
            session.add(user)
            await session.flush()
            assert user.id is not None
            return Advisor(user.id, user.name)

    async def case(self) -> Escalation:
        async with self.sessions() as session:
            return (await session.execute(select(Escalation))).scalars().one()


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    world = await World(sessions).start()
    yield world
    await world.conversation.close()


def _data(reply: Reply) -> dict[str, str]:
    return {b.label: b.data for row in reply.buttons for b in row}


async def test_in_office_hours_the_resident_is_told_to_watch_for_a_reply(world: World) -> None:
    await world.say(Text(texts.ADVISOR), TUESDAY_10)
    [opened] = await world.say(Text("想申请居家照护"), TUESDAY_10)
    assert "几分钟内" in opened.text and texts.END_ADVISOR in _data(opened)
    case = await world.case()
    assert case.id is not None
    assert world.desk.cards[case.id].text.count("想申请居家照护") == 1


async def test_outside_office_hours_the_resident_is_told_when_and_given_hotlines(
    world: World,
) -> None:
    await world.say(Text(texts.ADVISOR), EVENING)
    [opened] = await world.say(Text("想申请居家照护"), EVENING)
    assert "不是顾问的工作时间" in opened.text and "明天（12月2日）8:30" in opened.text
    assert "37009999" in opened.text and "12345" in opened.text


async def test_on_a_public_holiday_the_next_working_day_is_named(world: World) -> None:
    [prompt] = await world.say(Text(texts.ADVISOR), NATIONAL_DAY)
    [opened] = await world.say(Press(_data(prompt)[texts.SKIP_DESCRIBING]), NATIONAL_DAY)
    # 2026's National Day holiday runs to 7 October; the 8th is a working day.
    assert "不是顾问的工作时间" in opened.text and "10月8日" in opened.text


async def test_two_fallbacks_in_a_row_offer_an_advisor_never_force_one(world: World) -> None:
    [first] = await world.say(Text("嗯嗯嗯那个"), TUESDAY_10)
    [second] = await world.say(Text("啊啊啊这个"), TUESDAY_10)
    assert texts.ADVISOR_OFFER not in first.text
    assert texts.ADVISOR_OFFER in second.text and texts.ADVISOR in _data(second)
    async with world.sessions() as session:
        assert (await session.execute(select(Escalation))).scalars().all() == []


async def test_cancelling_before_the_case_opens_opens_none(world: World) -> None:
    [prompt] = await world.say(Text(texts.ADVISOR), TUESDAY_10)
    [cancelled] = await world.say(Press(_data(prompt)[texts.CANCEL]), TUESDAY_10)
    assert cancelled.text == texts.ADVISOR_CANCELLED
    [answer] = await world.say(Text("低保怎么申请"), TUESDAY_10)
    assert "最后核对" in answer.text


async def test_one_open_case_per_resident(world: World) -> None:
    await world.say(Text(texts.ADVISOR), TUESDAY_10)
    await world.say(Text("想申请居家照护"), TUESDAY_10)
    [again] = await world.say(Text(texts.ADVISOR), TUESDAY_10)
    assert again.text == texts.WITH_ADVISOR_NOTE
    async with world.sessions() as session:
        assert len((await session.execute(select(Escalation))).scalars().all()) == 1


async def test_a_desk_failure_is_retried_and_nothing_is_doubled(world: World) -> None:
    await world.say(Text(texts.ADVISOR), TUESDAY_10)
    await world.say(Text("想申请居家照护"), TUESDAY_10)
    world.desk.fail_posts = 1
    assert await world.say(Text("我腿不好"), TUESDAY_10) == []
    assert world.desk.posts == []
    case = await world.case()
    assert case.id is not None
    await world.relay.sync(case.id, TUESDAY_10)
    await world.relay.sync(case.id, TUESDAY_10)
    assert [p.text for _, p in world.desk.posts] == ["居民：我腿不好"]


async def test_a_message_left_sending_by_a_crash_is_sent_after_a_minute(world: World) -> None:
    await world.say(Text(texts.ADVISOR), TUESDAY_10)
    await world.say(Text("想申请居家照护"), TUESDAY_10)
    case = await world.case()
    assert case.id is not None
    async with world.sessions() as session, session.begin():
        session.add(
            EscalationMessage(
                escalation_id=case.id,
                user_key=case.user_key,
                author="resident",
                kind="text",
                text="我腿不好",
                via="telegram",
                to_desk=Delivery.sending,
                sending_since=TUESDAY_10,
            )
        )
    await world.relay.sync(case.id, TUESDAY_10 + timedelta(seconds=30))
    assert world.desk.posts == []  # another sender may still be at it
    await world.relay.sync(case.id, TUESDAY_10 + timedelta(seconds=61))
    assert [p.text for _, p in world.desk.posts] == ["居民：我腿不好"]


async def test_media_is_copied_and_transitions_are_audited(world: World) -> None:
    await world.say(Text(texts.ADVISOR), TUESDAY_10)
    await world.say(Text("想申请居家照护"), TUESDAY_10)
    await world.say(Media("voice", source=(777, 41)), TUESDAY_10)
    # The same Telegram message twice (a webhook retried): relayed once.
    await world.say(Media("voice", source=(777, 41)), TUESDAY_10)
    assert [(p.text, p.copy_from) for _, p in world.desk.posts] == [("居民发来的语音", (777, 41))]
    advisor = await world.advisor()
    case = await world.case()
    assert case.id is not None
    async with world.sessions() as session, session.begin():
        await world.cases.claim(session, case.id, advisor, now=TUESDAY_10)
        await world.cases.close(session, case.id, by="advisor", actor=advisor.name, now=TUESDAY_10)
    async with world.sessions() as session:
        actions = [
            e.action
            for e in (
                await session.execute(select(AuditEvent).order_by(col(AuditEvent.id)))
            ).scalars()
            if e.target_type == "escalation"
        ]
    assert actions == ["escalation_opened", "escalation_claimed", "escalation_closed"]


async def test_the_case_buttons_survive_being_pressed_late(world: World) -> None:
    """Buttons of a case already closed (by the advisor) say so instead of failing."""
    await world.say(Text(texts.ADVISOR), TUESDAY_10)
    [opened] = await world.say(Text("想申请居家照护"), TUESDAY_10)
    case = await world.case()
    assert case.id is not None
    async with world.sessions() as session, session.begin():
        await session.execute(update(Escalation).values(state="closed", closed_at=TUESDAY_10))
    [late] = await world.say(Press(_data(opened)[texts.END_ADVISOR]), TUESDAY_10)
    assert late.text == texts.CASE_GONE and case.state == "open"


async def test_a_claimer_whose_resident_waits_half_an_hour_is_reminded_once(
    world: World,
) -> None:
    from bot.escalations.sweeper import Sweeper

    await world.say(Text(texts.ADVISOR), TUESDAY_10)
    await world.say(Text("想申请居家照护"), TUESDAY_10)
    advisor = await world.advisor()
    case = await world.case()
    assert case.id is not None
    async with world.sessions() as session, session.begin():
        await world.cases.claim(session, case.id, advisor, now=TUESDAY_10)
    await world.say(Text("请问要带什么材料"), TUESDAY_10 + timedelta(minutes=1))
    sweeper = Sweeper(world.relay, world.conversation.office_hours)

    def reminders() -> list[str]:
        return [p.text for _, p in world.desk.posts if "没有回复" in p.text]

    await sweeper.run_once(TUESDAY_10 + timedelta(minutes=20))
    assert reminders() == []
    await sweeper.run_once(TUESDAY_10 + timedelta(minutes=32))
    await sweeper.run_once(TUESDAY_10 + timedelta(minutes=40))
    assert reminders() == [f"⏰ 工号 {advisor.staff_id}：居民的消息已经 30 分钟没有回复了。"]
    # Answered, then the resident writes again: a new wait, a new reminder in time.
    async with world.sessions() as session, session.begin():
        await world.cases.from_advisor(
            session,
            case.id,
            advisor,
            text="身份证",
            via="console",
            now=TUESDAY_10 + timedelta(minutes=41),
        )
    await world.say(Text("还有呢"), TUESDAY_10 + timedelta(minutes=42))
    await sweeper.run_once(TUESDAY_10 + timedelta(minutes=80))
    assert len(reminders()) == 2


async def test_waiting_counts_only_office_hours(world: World) -> None:
    """A case opened at 11:25 is re-announced at 13:05, not before: 11:25-11:30 and
    13:00-13:05 are its ten minutes of office time."""
    from bot.escalations.sweeper import Sweeper

    opened = TUESDAY_10.replace(hour=11, minute=25)
    await world.say(Text(texts.ADVISOR), opened)
    await world.say(Text("想申请居家照护"), opened)
    sweeper = Sweeper(world.relay, world.conversation.office_hours)
    await sweeper.run_once(opened.replace(hour=13, minute=4))
    assert not [p for _, p in world.desk.posts if "还没有顾问认领" in p.text]
    await sweeper.run_once(opened.replace(hour=13, minute=5))
    assert [p for _, p in world.desk.posts if "还没有顾问认领" in p.text]


async def test_while_telegram_is_not_connected_an_answer_waits(world: World) -> None:
    """No line to the resident yet (Telegram starting, or away): the advisor's answer stays
    pending for the sweeper; the case is not taken for a resident who blocked the bot."""
    await world.say(Text(texts.ADVISOR), TUESDAY_10)
    await world.say(Text("想申请居家照护"), TUESDAY_10)
    advisor = await world.advisor()
    case = await world.case()
    assert case.id is not None
    world.relay.line = None
    async with world.sessions() as session, session.begin():
        await world.cases.from_advisor(
            session, case.id, advisor, text="您好", via="console", now=TUESDAY_10
        )
    case_id = case.id
    await world.relay.sync(case_id, TUESDAY_10)
    assert (await world.case()).state == "claimed"
    async with world.sessions() as session:
        answer = (
            await session.execute(
                select(EscalationMessage).where(col(EscalationMessage.author) == "advisor")
            )
        ).scalar_one()
    assert answer.to_resident == Delivery.pending
    world.relay.line = world.line
    await world.relay.sync(case_id, TUESDAY_10)
    assert [r.text for _, r in world.line.sent][-1].endswith("：您好")
