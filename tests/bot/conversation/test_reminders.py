"""提醒设置 as a resident meets it in the conversation, on a real database with a fixed clock:
consent before anything is kept, topics, the separate consent for a sensitive one, town, birth
month, quiet hours, /bind and its refusals, 全部退订 and /stop, and the anti-fraud check of a
forwarded message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import SQLModel, col

from bot.conversation import reminder_texts as say
from bot.conversation import texts
from bot.conversation.buttons import (
    RemindConsent,
    RemindQuiet,
    RemindSettings,
    RemindTopic,
    SensitiveConsent,
)
from bot.conversation.core import Conversation
from bot.conversation.messages import Action, Command, Forwarded, Press, Reply, Text
from bot.conversation.steps import State
from bot.database import engine_context, session_factory
from bot.escalations.office_hours import OfficeHours
from bot.escalations.service import Cases
from bot.keyring import KeyRing
from bot.migrate import upgrade
from bot.residents.models import Resident
from directory.service import Directory
from jobs import codes, outbox, preferences
from jobs.models import (
    BindCode,
    CaregiverLink,
    CodeAttempt,
    FactKind,
    OutboxRow,
    ReminderChange,
    ReminderFact,
    ReminderProfile,
    ReminderSubscription,
    SentDigest,
)
from jobs.rules import Due
from knowledge.service import KnowledgeBase

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=TZ)
KEYS = KeyRing("test-secret-" + "x" * 32)
CHAT = "434343"
RESIDENT = KEYS.pseudonym("telegram", CHAT)
NEIGHBOUR_CHAT = "525252"
NEIGHBOUR = KEYS.pseudonym("telegram", NEIGHBOUR_CHAT)
# Every table reminders keep a resident's data in (bot.residents.registry lists them too).
REMINDER_TABLES: dict[str, type[SQLModel]] = {
    "reminder_profile": ReminderProfile,
    "reminder_subscription": ReminderSubscription,
    "reminder_change": ReminderChange,
    "reminder_fact": ReminderFact,
    "reminder_code_attempt": CodeAttempt,
    "reminder_caregiver": CaregiverLink,
    "reminder_outbox": OutboxRow,
}
# The columns that name a resident in those tables.
KEY_COLUMNS = ("user_key", "recipient_key", "for_key", "resident_key", "caregiver_key")


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        yield session_factory(engine)


@pytest.fixture
async def conversation(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Conversation]:
    # Reminders never ask the knowledge base: an empty one serves (a press looks there first).
    knowledge = KnowledgeBase(sessions, TZ)
    await knowledge.rebuild()
    conversation = Conversation(
        knowledge=knowledge,
        directory=Directory(sessions),
        sessions=sessions,
        tz=TZ,
        cases=Cases(keyring=KEYS, desk_enabled=False),
        office_hours=OfficeHours.parse("08:30-11:30,13:00-17:00", TZ),
    )
    yield conversation
    await conversation.close()


async def send(
    conversation: Conversation,
    action: Action,
    now: datetime = NOW,
    *,
    chat: str = CHAT,
    channel: str = "telegram",
) -> list[Reply]:
    key = KEYS.pseudonym(channel, chat)
    return await conversation.handle(
        channel, key, action, now, chat_id=chat if channel == "telegram" else None
    )


def buttons(reply: Reply) -> dict[str, str]:
    return {b.label: b.data for row in reply.buttons for b in row}


async def press(
    conversation: Conversation, reply: Reply, label: str, now: datetime = NOW, *, chat: str = CHAT
) -> list[Reply]:
    """Press the button labelled ``label`` under ``reply``."""
    return await send(conversation, Press(buttons(reply)[label]), now, chat=chat)


async def rows(sessions: async_sessionmaker[AsyncSession], model: type[SQLModel]) -> list[Any]:
    async with sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


async def profile(sessions: async_sessionmaker[AsyncSession]) -> ReminderProfile:
    async with sessions() as session:
        found = await preferences.profile(session, "telegram", RESIDENT)
    assert found is not None
    return found


async def topics(sessions: async_sessionmaker[AsyncSession]) -> dict[str, bool]:
    async with sessions() as session:
        return await preferences.topics(session, "telegram", RESIDENT)


async def state(conversation: Conversation) -> State:
    async with conversation.sessions() as session:
        return (await conversation.steps.load(session, "telegram", RESIDENT)).state


async def changes(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, datetime]]:
    async with sessions() as session:
        found = await preferences.history(session, "telegram", RESIDENT)
    return [(c.change, c.detail, c.at) for c in found]


async def consented(conversation: Conversation, *, chat: str = CHAT) -> Reply:
    """/remind, then 同意并设置: the settings page."""
    [consent] = await send(conversation, Command("remind"), chat=chat)
    [settings] = await press(conversation, consent, say.AGREE, chat=chat)
    return settings


async def bind_code(
    sessions: async_sessionmaker[AsyncSession],
    *,
    kind: FactKind = FactKind.rental_due,
    due_on: date = date(2026, 12, 10),
    label: str = "轮椅",
    now: datetime = NOW,
) -> str:
    async with sessions() as session, session.begin():
        return await codes.create_bind_code(
            session, kind=kind, due_on=due_on, label=label, by="staff-wang", now=now
        )


def other_code(*taken: str) -> str:
    """An eight-digit code that is none of ``taken`` (a resident's typing mistake)."""
    return next(c for c in ("12345678", "87654321", "11112222") if c not in taken)


# Consent first ------------------------------------------------------------------------------


async def test_nothing_is_kept_before_consent(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    code = await bind_code(sessions)
    consent_text = say.CONSENT.format(cap=3)
    # A topic's button (from an old message), the sensitive consent, /bind: each asks for consent.
    for data in (RemindTopic("memorial", True), SensitiveConsent("review")):
        [reply] = await send(conversation, Press(data.button("x").data))
        assert reply.text == consent_text
        assert buttons(reply) == {
            say.AGREE: RemindConsent(True).button("").data,
            say.NOT_NOW: RemindConsent(False).button("").data,
        }
    first, second = await send(conversation, Command("bind", codes.shown(code)))
    assert (first.text, second.text) == (say.CONSENT_FIRST, consent_text)
    [wrong] = await send(conversation, Command("bind", other_code(code)))
    assert wrong.text == say.WRONG_CODE
    [declined] = await press(conversation, second, say.NOT_NOW)
    assert declined.text == say.DECLINED
    for model in (ReminderProfile, ReminderSubscription, ReminderChange, ReminderFact, Resident):
        assert await rows(sessions, model) == [], model
    [unused] = await rows(sessions, BindCode)
    assert unused.used_at is None


async def test_consenting_keeps_the_profile_and_when_it_was_given(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [consent] = await send(conversation, Text(texts.REMIND))
    assert consent.text == say.CONSENT.format(cap=3)
    assert "每周最多 3 条" in consent.text and "/stop" in consent.text
    [settings] = await press(conversation, consent, say.AGREE)
    assert settings.text.startswith(say.SETTINGS_HEAD)
    assert "⬜ 辅具租赁到期" in buttons(settings) and "✅ 辅具租赁到期" not in buttons(settings)
    kept = await profile(sessions)
    assert kept.consented_at == NOW and kept.sensitive_consented_at is None
    assert await changes(sessions) == [("consent", "同意提醒说明", NOW)]
    # The chat id is kept, sealed, for the resident's reminders only.
    [resident] = await rows(sessions, Resident)
    assert resident.reachable_for == "reminder"
    assert resident.chat_sealed is not None and CHAT not in resident.chat_sealed
    assert KEYS.unseal(resident.chat_sealed) == CHAT
    # Consenting again changes nothing.
    [again] = await press(conversation, consent, say.AGREE, NOW + timedelta(hours=1))
    assert again.text.startswith(say.SETTINGS_HEAD)
    assert await changes(sessions) == [("consent", "同意提醒说明", NOW)]


async def test_topics_switch_on_and_off_and_each_change_is_kept(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = await consented(conversation)
    later = NOW + timedelta(minutes=2)
    [on] = await press(conversation, settings, "⬜ 祭扫安排", later)
    assert "✅ 祭扫安排" in buttons(on) and "⬜ 辅具租赁到期" in buttons(on)
    assert await topics(sessions) == {"memorial": True}
    # A topic that goes by town says the town is missing.
    [meals] = await press(conversation, on, "⬜ 老年助餐", later)
    assert say.NEEDS_TOWN.format(label="老年助餐") in meals.text
    [off] = await press(conversation, meals, "✅ 祭扫安排", later + timedelta(minutes=1))
    assert "⬜ 祭扫安排" in buttons(off)
    assert await topics(sessions) == {"memorial": False, "meals": True}
    assert await changes(sessions) == [
        ("consent", "同意提醒说明", NOW),
        ("topic_on", "memorial", later),
        ("topic_on", "meals", later),
        ("topic_off", "memorial", later + timedelta(minutes=1)),
    ]


async def test_a_sensitive_topic_is_on_only_after_its_own_consent(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = await consented(conversation)
    [ask] = await press(conversation, settings, "⬜ 低保、特困复核")
    assert ask.text == say.SENSITIVE_CONSENT.format(label="低保、特困复核")
    assert set(buttons(ask)) == {say.AGREE_SENSITIVE, say.NOT_NOW}
    assert await topics(sessions) == {}
    assert (await profile(sessions)).sensitive_consented_at is None
    # 不用了 goes back to the settings, the topic still off.
    [back] = await press(conversation, ask, say.NOT_NOW)
    assert "⬜ 低保、特困复核" in buttons(back)
    assert await topics(sessions) == {}
    later = NOW + timedelta(minutes=5)
    [on] = await press(conversation, ask, say.AGREE_SENSITIVE, later)
    assert "✅ 低保、特困复核" in buttons(on)
    assert await topics(sessions) == {"review": True}
    assert (await profile(sessions)).sensitive_consented_at == later
    assert [(c, d) for c, d, _ in await changes(sessions)] == [
        ("consent", "同意提醒说明"),
        ("sensitive_consent", "同意涉及困难救助的提醒"),
        ("topic_on", "review"),
    ]


async def test_the_town_is_chosen_from_buttons(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = await consented(conversation)
    [towns] = await press(conversation, settings, say.CHOOSE_TOWN)
    assert towns.text == say.PICK_TOWN
    assert {"九亭镇", "岳阳街道", "小昆山镇"} <= set(buttons(towns))
    [chosen] = await press(conversation, towns, "九亭镇")
    assert say.TOWN_LINE.format(town="九亭镇") in chosen.text
    assert (await profile(sessions)).town == "九亭镇"
    assert ("town", "九亭镇", NOW) in await changes(sessions)


@pytest.mark.parametrize("typed", ["1958年3月", "１９５８.3", "1958/03", " 1958-3 "])
async def test_the_birth_month_is_read_as_residents_type_it(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession], typed: str
) -> None:
    settings = await consented(conversation)
    [ask] = await press(conversation, settings, say.FILL_BIRTH)
    assert ask.text == say.ASK_BIRTH
    assert await state(conversation) == State.AWAIT_BIRTH
    [saved] = await send(conversation, Text(typed))
    assert say.BIRTH_LINE.format(birth="1958年3月") in saved.text
    kept = await profile(sessions)
    assert (kept.birth_year, kept.birth_month) == (1958, 3)
    assert await state(conversation) == State.IDLE


async def test_a_birth_month_not_understood_is_asked_again_and_a_menu_word_leaves(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = await consented(conversation)
    await press(conversation, settings, say.FILL_BIRTH)
    for garbage in ("我不记得了", "1958年13月", "2031年1月", "58年3月"):
        [again] = await send(conversation, Text(garbage))
        assert again.text == say.BAD_BIRTH, garbage
        assert set(buttons(again)) == {say.DONE}
        assert await state(conversation) == State.AWAIT_BIRTH
    # A menu button's words are not a birth month: they leave the step and do what they say.
    [prompt] = await send(conversation, Text(texts.ASK_POLICY))
    assert prompt.text == texts.ASK_PROMPT
    assert await state(conversation) == State.IDLE
    kept = await profile(sessions)
    assert (kept.birth_year, kept.birth_month) == (None, None)
    assert [c for c, _, _ in await changes(sessions)] == ["consent"]


async def test_quiet_hours_are_one_of_the_choices_offered(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = await consented(conversation)
    assert say.QUIET_LINE.format(quiet="21:00 到次日 8:00") in settings.text
    [choices] = await press(conversation, settings, say.CHANGE_QUIET)
    assert choices.text == say.PICK_QUIET
    assert list(buttons(choices)) == [
        "21:00 到次日 8:00",
        "20:00 到次日 8:00",
        "22:00 到次日 7:00",
        "21:00 到次日 9:00",
    ]
    [chosen] = await press(conversation, choices, "22:00 到次日 7:00")
    assert say.QUIET_LINE.format(quiet="22:00 到次日 7:00") in chosen.text
    kept = await profile(sessions)
    assert (kept.quiet_start, kept.quiet_end) == (22 * 60, 7 * 60)
    assert ("quiet", "1320-420", NOW) in await changes(sessions)
    # A choice that was never offered (a forged button) changes nothing.
    [same] = await send(conversation, Press(RemindQuiet(7).button("").data))
    assert same.text.startswith(say.SETTINGS_HEAD)
    kept = await profile(sessions)
    assert (kept.quiet_start, kept.quiet_end) == (22 * 60, 7 * 60)


# /bind ----------------------------------------------------------------------------------------


async def test_a_staff_code_binds_its_fact_and_switches_its_topic_on(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await consented(conversation)
    code = await bind_code(sessions)
    later = NOW + timedelta(minutes=10)
    # Typed as a phone keypad gives it: full-width digits with a dash.
    typed = (code[:4] + "-" + code[4:]).translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    [bound] = await send(conversation, Command("bind", typed), later)
    # No rule reminds of rentals yet: nothing is promised that no rule would do.
    assert bound.text == say.BOUND_NO_RULE.format(label="轮椅", due="2026年12月10日")
    [fact] = await rows(sessions, ReminderFact)
    assert (fact.user_key, fact.kind, fact.topic, fact.due_on, fact.label) == (
        RESIDENT,
        "rental_due",
        "rental",
        date(2026, 12, 10),
        "轮椅",
    )
    assert fact.bound_at == later
    assert await topics(sessions) == {"rental": True}
    assert ("bind", "轮椅", later) in await changes(sessions)
    [used] = await rows(sessions, BindCode)
    assert used.used_at == later
    # Good once.
    [reused] = await send(conversation, Command("bind", codes.shown(code)), later)
    assert reused.text == say.USED_CODE
    assert len(await rows(sessions, ReminderFact)) == 1


async def test_bind_without_a_code_asks_for_it(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await consented(conversation)
    code = await bind_code(sessions)
    [ask] = await send(conversation, Command("bind"))
    assert ask.text == say.ASK_CODE
    assert await state(conversation) == State.AWAIT_CODE
    [bound] = await send(conversation, Text(codes.shown(code)))
    # No rule reminds of rentals yet: nothing is promised that no rule would do.
    assert bound.text == say.BOUND_NO_RULE.format(label="轮椅", due="2026年12月10日")
    assert await state(conversation) == State.IDLE


async def test_wrong_and_expired_codes_are_refused_in_words(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await consented(conversation)
    expired = await bind_code(sessions, now=NOW - codes.BIND_VALID - timedelta(minutes=1))
    [wrong] = await send(conversation, Command("bind", other_code(expired)))
    assert wrong.text == say.WRONG_CODE
    [late] = await send(conversation, Command("bind", codes.shown(expired)))
    assert late.text == say.EXPIRED_CODE
    [not_a_code] = await send(conversation, Command("bind", "我的码丢了"))
    assert not_a_code.text == say.WRONG_CODE
    assert await rows(sessions, ReminderFact) == []
    assert await topics(sessions) == {}


async def test_a_sensitive_fact_needs_the_sensitive_consent_first(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await consented(conversation)
    code = await bind_code(sessions, kind=FactKind.review_due, label="2026年低保复核")
    ask, again = await send(conversation, Command("bind", code))
    assert ask.text == say.SENSITIVE_CONSENT.format(label="低保、特困复核")
    assert again.text == say.SENSITIVE_FIRST
    assert await rows(sessions, ReminderFact) == []
    [settings] = await press(conversation, ask, say.AGREE_SENSITIVE)
    assert "✅ 低保、特困复核" in buttons(settings)
    [bound] = await send(conversation, Command("bind", code))
    assert bound.text == say.BOUND_NO_RULE.format(label="2026年低保复核", due="2026年12月10日")


async def test_the_sixth_wrong_code_in_an_hour_is_throttled(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await consented(conversation)
    code = await bind_code(sessions)
    wrong = other_code(code)
    for n in range(codes.TRIES_PER_HOUR):
        [reply] = await send(conversation, Command("bind", wrong), NOW + timedelta(minutes=n))
        assert reply.text == say.WRONG_CODE
    sixth = NOW + timedelta(minutes=30)
    [throttled] = await send(conversation, Command("bind", wrong), sixth)
    assert throttled.text == say.TOO_MANY_TRIES
    assert texts.HOTLINE in throttled.text
    # While throttled even the right code is refused: guessing gains nothing.
    [still] = await send(conversation, Command("bind", code), sixth)
    assert still.text == say.TOO_MANY_TRIES
    assert await rows(sessions, ReminderFact) == []
    # An hour after the first wrong tries, the right code binds.
    [bound] = await send(conversation, Command("bind", code), NOW + timedelta(minutes=61))
    assert bound.text.startswith("绑定成功：轮椅")


async def test_another_residents_wrong_tries_do_not_throttle_this_one(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await consented(conversation)
    code = await bind_code(sessions)
    for _ in range(codes.TRIES_PER_HOUR + 1):
        await send(conversation, Command("bind", other_code(code)), chat=NEIGHBOUR_CHAT)
    [bound] = await send(conversation, Command("bind", code))
    assert bound.text.startswith("绑定成功：轮椅")


# Elsewhere than a private Telegram chat -----------------------------------------------------


async def test_the_web_chat_is_told_reminders_are_telegram_only(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    code = await bind_code(sessions)
    for action in (
        Command("remind"),
        Text(texts.REMIND),
        Press(RemindSettings().button("").data),
        Press(RemindConsent(True).button("").data),
        Command("bind", code),
    ):
        [reply] = await send(conversation, action, chat="web-visitor-1", channel="web")
        assert reply.text == say.TELEGRAM_ONLY, action
    assert await rows(sessions, ReminderProfile) == []
    assert await rows(sessions, ReminderFact) == []


async def test_a_group_chat_is_asked_to_set_reminders_privately(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [reply] = await conversation.handle("telegram", RESIDENT, Command("remind"), NOW)
    assert reply.text == say.PRIVATELY
    [pressed] = await conversation.handle(
        "telegram", RESIDENT, Press(RemindConsent(True).button("").data), NOW
    )
    assert pressed.text == say.PRIVATELY
    assert await rows(sessions, ReminderProfile) == []


# 全部退订 and /stop -------------------------------------------------------------------------


async def everything_kept(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession], chat: str
) -> Reply:
    """A resident with every kind of reminders row: topics, town, a fact, a wrong try, an
    invitation for a family member, a queued reminder. The settings page last shown."""
    settings = await consented(conversation, chat=chat)
    [settings] = await press(conversation, settings, "⬜ 祭扫安排", chat=chat)
    code = await bind_code(sessions)
    await send(conversation, Command("bind", other_code(code)), chat=chat)
    await send(conversation, Command("bind", code), chat=chat)
    [ask] = await press(conversation, settings, say.INVITE, chat=chat)
    assert ask.text == say.ASK_LABEL
    [invited] = await send(conversation, Text("妈妈"), chat=chat)
    assert invited.text.startswith("邀请码：")
    async with sessions() as session, session.begin():
        await outbox.queue(
            session, [_due(KEYS.pseudonym("telegram", chat), "冬至祭扫请提前预约。")], NOW
        )
    [settings] = await send(conversation, Command("remind"), chat=chat)
    return settings


def _due(key: str, text: str) -> Due:
    return Due(
        rule_id=1,
        occurrence="2026-12-21",
        channel="telegram",
        recipient_key=key,
        topic="memorial",
        sensitive=False,
        text=text,
        entry_id=None,
        priority=2,
        not_before=NOW + timedelta(days=14),
        expires_at=NOW + timedelta(days=17),
    )


async def kept_of(sessions: async_sessionmaker[AsyncSession], key: str) -> dict[str, int]:
    """How many rows of each reminders table name ``key`` (as resident, recipient or family)."""
    found: dict[str, int] = {}
    for name, model in REMINDER_TABLES.items():
        for row in await rows(sessions, model):
            named = {getattr(row, column, None) for column in KEY_COLUMNS}
            if key in named:
                found[name] = found.get(name, 0) + 1
    return found


async def test_stop_all_asks_first_then_deletes_every_reminders_row(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = await everything_kept(conversation, sessions, CHAT)
    await everything_kept(conversation, sessions, NEIGHBOUR_CHAT)
    kept = await kept_of(sessions, RESIDENT)
    assert set(kept) == set(REMINDER_TABLES)
    [sure] = await press(conversation, settings, say.STOP_ALL)
    assert sure.text == say.SURE_STOP_ALL
    assert set(buttons(sure)) == {say.YES_STOP_ALL, say.KEEP}
    # 不退订 keeps everything.
    [kept_page] = await press(conversation, sure, say.KEEP)
    assert kept_page.text.startswith(say.SETTINGS_HEAD)
    assert await kept_of(sessions, RESIDENT) == kept
    [stopped] = await press(conversation, sure, say.YES_STOP_ALL)
    assert stopped.text == say.STOPPED_ALL
    assert await kept_of(sessions, RESIDENT) == {}
    [resident] = [r for r in await rows(sessions, Resident) if r.user_key == RESIDENT]
    assert resident.chat_sealed is None and resident.reachable_for == ""
    # The neighbour's reminders are untouched.
    assert set(await kept_of(sessions, NEIGHBOUR)) == set(kept)
    # Afterwards the resident starts again from the consent.
    [consent] = await send(conversation, Command("remind"))
    assert consent.text == say.CONSENT.format(cap=3)


async def test_stop_deletes_the_reminders_too(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await everything_kept(conversation, sessions, CHAT)
    await everything_kept(conversation, sessions, NEIGHBOUR_CHAT)
    neighbour = await kept_of(sessions, NEIGHBOUR)
    [deleted] = await send(conversation, Command("stop"))
    assert deleted.text == texts.DATA_DELETED and "提醒设置和家人副本" in deleted.text
    assert await kept_of(sessions, RESIDENT) == {}
    assert [r.user_key for r in await rows(sessions, Resident)] == [NEIGHBOUR]
    assert await kept_of(sessions, NEIGHBOUR) == neighbour


# Is this really from the bureau? --------------------------------------------------------------


async def sent_by_the_bot(sessions: async_sessionmaker[AsyncSession], text: str) -> datetime:
    """A reminder queued, claimed and sent (the sent log written as the sender writes it)."""
    async with sessions() as session, session.begin():
        await outbox.queue(session, [_due(NEIGHBOUR, text)], NOW)
    sent_at = NOW + timedelta(days=14)
    async with sessions() as session, session.begin():
        [row] = await outbox.claim(session, now=sent_at, owner="test", limit=1)
        assert await outbox.mark_sent(session, row, "test", sent_at, message_id=7)
    return sent_at


async def test_a_forward_of_the_bots_own_message_is_confirmed(
    conversation: Conversation,
) -> None:
    [reply] = await send(conversation, Forwarded("冬至祭扫请提前预约。", from_this_bot=True))
    assert reply.text == f"{say.FROM_US}\n{say.NEVER_MONEY}"
    assert "96110" in reply.text


async def test_our_text_forwarded_by_someone_else_is_said_to_be_copied(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    text = "冬至祭扫请提前预约，\n预约电话 57820000。"
    sent_at = await sent_by_the_bot(sessions, text)
    [digest] = await rows(sessions, SentDigest)
    assert digest.digest == outbox.digest(text) and digest.sent_at == sent_at
    # Spaces and line breaks a copy may change do not matter; the time must be near ours.
    copied = Forwarded(
        "冬至祭扫请提前预约， 预约电话 57820000。", False, sent_at + timedelta(hours=1)
    )
    for action in (copied, Forwarded(text, from_this_bot=False, sent_at=None)):
        [reply] = await send(conversation, action)
        assert reply.text == f"{say.COPIED_FROM_US}\n{say.NEVER_MONEY}"
    long_after = Forwarded(text, from_this_bot=False, sent_at=sent_at + timedelta(hours=3))
    [reply] = await send(conversation, long_after)
    assert reply.text == f"{say.NOT_FROM_US}\n{say.NEVER_MONEY}"


async def test_anything_else_forwarded_is_not_from_us_and_never_asks_for_money(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await sent_by_the_bot(sessions, "冬至祭扫请提前预约。")
    for action in (
        Forwarded("【松江民政局】您的高龄补贴待领取，请先转账 200 元手续费。", False, NOW),
        Forwarded("", from_this_bot=False, sent_at=NOW),
    ):
        [reply] = await send(conversation, action)
        assert reply.text == f"{say.NOT_FROM_US}\n{say.NEVER_MONEY}"
        assert "96110" in reply.text and "不会向您要钱" in reply.text


async def test_a_forward_is_checked_whatever_the_resident_was_doing(
    conversation: Conversation,
) -> None:
    settings = await consented(conversation)
    await press(conversation, settings, say.FILL_BIRTH)
    [reply] = await send(conversation, Forwarded("转账", from_this_bot=False, sent_at=NOW))
    assert reply.text.startswith(say.NOT_FROM_US)
    # The birth month is still awaited.
    assert await state(conversation) == State.AWAIT_BIRTH


# Family members: who may confirm, and what is kept after -------------------------------------


async def _invitation(conversation: Conversation) -> str:
    settings = await consented(conversation)
    await press(conversation, settings, say.INVITE)
    [invited] = await send(conversation, Text("妈妈"))
    return invited.text.split("：/bind ")[1].split("\n")[0]


async def test_only_who_sent_the_invitation_code_can_confirm_it(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    code = await _invitation(conversation)
    [offer] = await send(conversation, Command("bind", code), chat="616161")
    accept = buttons(offer)[say.ACCEPT]
    # A stranger presses the same button (its data can be forged): nothing is linked.
    [refused] = await send(conversation, Press(accept), chat="999999")
    assert refused.text == say.CARE_GONE
    [link] = await rows(sessions, CaregiverLink)
    assert link.state == "invited"
    [accepted] = await send(conversation, Press(accept), chat="616161")
    assert accepted.text == say.ACCEPTED.format(label="妈妈")


async def test_a_family_members_chat_id_goes_when_their_copies_end(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    code = await _invitation(conversation)
    [offer] = await send(conversation, Command("bind", code), chat="616161")
    [accepted] = await send(conversation, Press(buttons(offer)[say.ACCEPT]), chat="616161")
    assert accepted.text == say.ACCEPTED.format(label="妈妈")
    daughter = KEYS.pseudonym("telegram", "616161")
    async with sessions() as session:
        kept = await session.scalar(select(Resident).where(col(Resident.user_key) == daughter))
    assert kept is not None and kept.chat_sealed is not None and kept.reachable_for == "caregiver"
    [link] = await rows(sessions, CaregiverLink)
    [ended] = await send(conversation, Press(f"rm-care-end|{link.id}"))
    assert ended.text == say.COPIES_ENDED
    async with sessions() as session:
        kept = await session.scalar(select(Resident).where(col(Resident.user_key) == daughter))
    assert kept is not None and kept.chat_sealed is None and kept.reachable_for == ""
    changes = [c.change for c in await rows(sessions, ReminderChange)]
    assert changes.count("caregiver_ended") == 2


async def test_a_question_typed_while_a_birth_month_is_awaited_is_answered(
    conversation: Conversation, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = await consented(conversation)
    [ask] = await press(conversation, settings, say.FILL_BIRTH)
    assert ask.text == say.ASK_BIRTH
    [answer] = await send(conversation, Text("老年综合津贴怎么申请？"))
    assert answer.text != say.BAD_BIRTH
    await send(conversation, Text("1958年3月"))
    # The step was left: a month typed afterwards is a question like any other, not saved.
    assert (await profile(sessions)).birth_year is None
