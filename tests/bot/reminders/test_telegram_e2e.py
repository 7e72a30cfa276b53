"""Reminders as residents get them on Telegram: real python-telegram-bot polling the Bot API
double over real HTTP, the real service and database, and one fixed clock for the
conversation, the rules and the sender. The scheduler's ticks are called by hand."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot import keys
from bot.conversation import reminder_texts as say
from bot.conversation import texts
from bot.reminders.service import Reminders
from bot.residents import reach
from bot.residents.models import Resident
from bot.settings import Settings
from bot.web.app import create_app
from jobs import codes, evaluate, preferences
from jobs.models import (
    CaregiverLink,
    CareState,
    FactKind,
    OutboxRow,
    OutboxState,
    ReminderProfile,
    ReminderRule,
    RuleState,
)
from tests.conftest import AppClient, Client
from tests.jobs.conftest import Clock
from tests.support.fake_bot_api import FakeBotApi

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=TZ)
AT_TEN = MONDAY.replace(hour=10)
MOTHER, DAUGHTER, NEIGHBOUR = 717171, 727272, 737373
MEMORIAL = "冬至祭扫：12月21日起可预约，请提前电话预约。"
Params = dict[str, Any]


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := predicate()):
            await asyncio.sleep(0.02)
    return value


def buttons(message: Params) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b.get("callback_data", "") for row in rows for b in row}


class Chat:
    """One resident's private chat, as they see it: the bot's messages, edits included."""

    def __init__(self, api: FakeBotApi, chat_id: int) -> None:
        self.api = api
        self.id = chat_id

    def inbox(self) -> list[Params]:
        mine = [m for (chat, _), m in self.api.messages.items() if chat == self.id]
        return sorted(mine, key=lambda m: int(m["message_id"]))

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.inbox()]

    async def _new(self, before: int, replies: int) -> list[Params]:
        await until(lambda: len(self.inbox()) >= before + replies)
        return self.inbox()[before:]

    async def send(self, text: str, replies: int = 1) -> Params:
        before = len(self.inbox())
        self.api.push_text(self.id, text)
        return (await self._new(before, replies))[-1]

    def button(self, label: str) -> str:
        """The data of the newest button labelled ``label`` in this chat."""
        for message in reversed(self.inbox()):
            if label in buttons(message):
                return buttons(message)[label]
        raise AssertionError(f"no button {label!r} in chat {self.id}: {self.texts()}")

    async def press(self, label: str) -> Params:
        return await self.press_data(self.button(label))

    async def press_data(self, data: str) -> Params:
        before = len(self.inbox())
        self.api.push_button(self.id, data)
        [reply] = await self._new(before, 1)
        return reply

    async def edited(self, index: int) -> Params:
        """The ``index``-th message of the chat, once the bot has edited it."""
        await until(lambda: self.inbox()[index].get("edit_date"))
        return self.inbox()[index]

    async def forward(self, text: str, *, from_bot: bool, sent_at: int | None = None) -> Params:
        before = len(self.inbox())
        self.api.push_forward(self.id, text, from_bot=from_bot, sent_at=sent_at)
        [reply] = await self._new(before, 1)
        return reply


class Service:
    """The running service, its fixed clock, and what staff would set up in the console."""

    def __init__(self, api: FakeBotApi, client: Client, clock: Clock) -> None:
        self.api = api
        self.client = client
        self.clock = clock

    @property
    def reminders(self) -> Reminders:
        return self.client.app[keys.REMINDERS]

    def chat(self, chat_id: int) -> Chat:
        return Chat(self.api, chat_id)

    def key(self, chat_id: int) -> str:
        return self.client.app[keys.KEYRING].pseudonym("telegram", str(chat_id))

    async def run(self, at: datetime | None = None) -> evaluate.Evaluation:
        """One scheduler tick at ``at`` (the clock moves there), its sends all done."""
        if at is not None:
            self.clock.now = at
        found = await self.reminders.ticks.tick()
        await self.reminders.ticks.settle()
        assert found is not None
        return found

    async def rule(self, **fields: Any) -> int:
        values: dict[str, Any] = {
            "name": "测试规则",
            "kind": "calendar",
            "topic": "memorial",
            "message": MEMORIAL,
            "send_at": 10 * 60,
            "state": RuleState.active,
            "created_by": "staff-wang",
            "updated_by": "staff-wang",
            "approved_by": "staff-li",
            **fields,
        }
        async with self.client.app[keys.SESSIONS]() as session, session.begin():
            rule = ReminderRule(**values)
            session.add(rule)
            await session.flush()
            assert rule.id is not None
            return rule.id

    async def bind_code(self, kind: FactKind, due_on: date, label: str) -> str:
        async with self.client.app[keys.SESSIONS]() as session, session.begin():
            return await codes.create_bind_code(
                session, kind=kind, due_on=due_on, label=label, by="staff-wang", now=self.clock()
            )

    async def opt_in(self, chat: Chat, *topics: str) -> Params:
        """/remind → 同意并设置 → each topic's button: the settings page last shown."""
        consent = await chat.send("/remind")
        assert consent["text"] == say.CONSENT.format(cap=3)
        settings = await chat.press(say.AGREE)
        assert settings["text"].startswith(say.SETTINGS_HEAD)
        for label in topics:
            settings = await chat.press(f"⬜ {label}")
            assert f"✅ {label}" in buttons(settings)
        return settings

    async def subscribed(self, chat_ids: list[int], topic: str = "memorial") -> None:
        """Residents who opted in earlier (set up directly, for a campaign of many)."""
        keyring = self.client.app[keys.KEYRING]
        earlier = self.clock() - timedelta(days=30)
        async with self.client.app[keys.SESSIONS]() as session, session.begin():
            for chat_id in chat_ids:
                key = self.key(chat_id)
                await preferences.consent(session, "telegram", key, earlier)
                await preferences.set_topic(session, "telegram", key, topic, True, earlier)
                await reach.reach(
                    session,
                    keyring,
                    channel="telegram",
                    user_key=key,
                    chat_id=str(chat_id),
                    purpose="reminder",
                    now=earlier,
                )

    async def outbox(self) -> list[OutboxRow]:
        async with self.client.app[keys.SESSIONS]() as session:
            found = await session.scalars(select(OutboxRow).order_by(col(OutboxRow.id)))
            return list(found)

    async def profile(self, chat_id: int) -> ReminderProfile:
        async with self.client.app[keys.SESSIONS]() as session:
            found = await preferences.profile(session, "telegram", self.key(chat_id))
        assert found is not None
        return found


@pytest.fixture
async def service(
    fake_bot_api: FakeBotApi,
    make_settings: Callable[..., Settings],
    database_url: str,
    app_client: AppClient,
) -> AsyncIterator[Service]:
    settings = make_settings(
        database_url=database_url,
        telegram_token=fake_bot_api.token,
        telegram_api_base_url=fake_bot_api.base_url,
    )
    client = await app_client(create_app(settings))
    app = client.app
    async with asyncio.timeout(60):
        while not (
            app[keys.KNOWLEDGE].ready
            and app[keys.DIRECTORY].ready
            and app[keys.TELEGRAM].running
            and app[keys.REMINDERS].slot.ready
        ):
            await asyncio.sleep(0.05)
    clock = Clock(MONDAY)
    reminders = app[keys.REMINDERS]
    reminders.ticks.clock = reminders.sender.clock = clock
    app[keys.CONVERSATION].clock = clock
    # A tick the scheduler began at start-up (real time, no rules yet) is over first.
    await reminders.ticks.settle()
    yield Service(fake_bot_api, client, clock)


async def test_a_due_date_reminder_goes_once_at_its_time_with_its_buttons(
    service: Service,
) -> None:
    mother = service.chat(MOTHER)
    await service.opt_in(mother, "辅具租赁到期")
    await service.rule(
        kind="due",
        topic="rental",
        fact_kind="rental_due",
        days_before=3,
        message="您租的{物品}将于{到期日}到期（还有{天数}天），请按时归还或续租。",
        entry_id="device-rental-return",
    )
    code = await service.bind_code(FactKind.rental_due, date(2026, 12, 10), "轮椅")
    bound = await mother.send(f"/bind {codes.shown(code)}")
    # A rule reminds of rentals: the resident is promised a reminder.
    assert bound["text"] == say.BOUND.format(label="轮椅", due="2026年12月10日")
    seen = len(mother.inbox())
    # An hour early, nothing.
    await service.run()
    assert len(mother.inbox()) == seen
    await service.run(AT_TEN)
    [reminder] = mother.inbox()[seen:]
    assert reminder["text"] == "您租的轮椅将于12月10日到期（还有3天），请按时归还或续租。"
    assert buttons(reminder) == {
        "查看详细说明": "q|device-rental-return",
        "退订此类提醒": "rm-off|rental",
        "提醒设置": "rm-set",
    }
    # Never twice: not the next minute, not the next day.
    await service.run(AT_TEN + timedelta(minutes=1))
    await service.run(AT_TEN + timedelta(days=1))
    assert len(mother.inbox()) == seen + 1
    [row] = await service.outbox()
    assert row.state == OutboxState.sent and row.sent_at == AT_TEN
    # 查看详细说明 shows the entry.
    entry = await mother.press("查看详细说明")
    assert "归还" in entry["text"] and "来源：" in entry["text"]


async def test_a_reminder_due_at_night_goes_after_eight_the_next_morning(
    service: Service,
) -> None:
    mother = service.chat(MOTHER)
    await service.opt_in(mother, "祭扫安排")
    await service.rule(on_date=MONDAY.date(), send_at=22 * 60 + 30)
    seen = len(mother.inbox())
    night = MONDAY.replace(hour=22, minute=30)
    await service.run(night)
    assert len(mother.inbox()) == seen
    [row] = await service.outbox()
    assert row.state == OutboxState.pending and row.error == "免打扰时间"
    morning = datetime(2026, 12, 8, 8, 0, tzinfo=TZ)
    assert row.not_before == morning
    await service.run(morning - timedelta(minutes=1))
    assert len(mother.inbox()) == seen
    await service.run(morning)
    [reminder] = mother.inbox()[seen:]
    assert reminder["text"] == MEMORIAL
    [row] = await service.outbox()
    assert row.state == OutboxState.sent and row.sent_at == morning


async def test_one_press_of_unsubscribe_stops_that_topic(service: Service) -> None:
    mother = service.chat(MOTHER)
    await service.opt_in(mother, "祭扫安排", "政策更新")
    await service.rule(on_date=MONDAY.date())
    tonight = await service.rule(on_date=MONDAY.date(), send_at=22 * 60 + 30)
    tomorrow = await service.rule(on_date=MONDAY.date() + timedelta(days=1))
    seen = len(mother.inbox())
    await service.run(AT_TEN)
    [reminder] = mother.inbox()[seen:]
    assert buttons(reminder)["退订此类提醒"] == "rm-off|memorial"
    # Tonight's reminder is queued and waits for the morning.
    await service.run(MONDAY.replace(hour=22, minute=30))
    assert len(mother.inbox()) == seen + 1
    service.clock.advance(minutes=1)
    done = await mother.press("退订此类提醒")
    assert done["text"] == say.UNSUBSCRIBED.format(label="祭扫安排")
    assert buttons(done) == {say.REMIND: "rm-set"}
    seen = len(mother.inbox())
    await service.run(datetime(2026, 12, 8, 8, 0, tzinfo=TZ))
    await service.run(datetime(2026, 12, 8, 10, 0, tzinfo=TZ))
    assert len(mother.inbox()) == seen
    rows = {row.rule_id: row for row in await service.outbox()}
    assert rows[tonight].state == OutboxState.cancelled and rows[tonight].error == "居民已退订"
    assert tomorrow not in rows
    async with service.client.app[keys.SESSIONS]() as session:
        found = await preferences.topics(session, "telegram", service.key(MOTHER))
    assert found == {"memorial": False, "policy": True}


async def test_a_sensitive_reminder_says_nothing_until_its_recipient_opens_it(
    service: Service,
) -> None:
    mother, neighbour = service.chat(MOTHER), service.chat(NEIGHBOUR)
    settings = await service.opt_in(mother)
    assert "⬜ 低保、特困复核" in buttons(settings)
    ask = await mother.press("⬜ 低保、特困复核")
    assert ask["text"] == say.SENSITIVE_CONSENT.format(label="低保、特困复核")
    settings = await mother.press(say.AGREE_SENSITIVE)
    assert "✅ 低保、特困复核" in buttons(settings)
    details = "您的低保复核安排在12月，请带户口簿到街镇社区事务受理中心。"
    await service.rule(topic="review", on_date=MONDAY.date(), message=details)
    seen = len(mother.inbox())
    await service.run(AT_TEN)
    [notice] = mother.inbox()[seen:]
    assert notice["text"] == "您有一条民政提醒，请点开查看。"
    [row] = await service.outbox()
    assert buttons(notice) == {
        "点开查看": f"rm-show|{row.id}",
        "退订此类提醒": "rm-off|review",
        "提醒设置": "rm-set",
    }
    # Another resident pressing that button's data sees nothing of it.
    gone = await neighbour.press_data(f"rm-show|{row.id}")
    assert gone["text"] == say.GONE
    assert not any("低保" in text for text in neighbour.texts())
    opened = await mother.press("点开查看")
    assert opened["text"] == details
    assert set(buttons(opened)) == {"退订此类提醒", "提醒设置"}


async def test_a_family_member_gets_copies_until_they_stop_them(service: Service) -> None:
    mother, daughter = service.chat(MOTHER), service.chat(DAUGHTER)
    await service.opt_in(mother, "祭扫安排")
    ask = await mother.press(say.INVITE)
    assert ask["text"] == say.ASK_LABEL
    invited = await mother.send("妈妈")
    found = re.search(r"邀请码：(\d{4} \d{4})", invited["text"])
    assert found is not None
    invitation = await daughter.send(f"/bind {found.group(1)}")
    assert invitation["text"] == say.INVITATION.format(label="妈妈")
    assert set(buttons(invitation)) == {say.ACCEPT, say.DECLINE}
    accepted = await daughter.press(say.ACCEPT)
    assert accepted["text"] == say.ACCEPTED.format(label="妈妈")
    await service.rule(on_date=MONDAY.date())
    later = await service.rule(
        on_date=MONDAY.date() + timedelta(days=1), message="祭扫班车时刻表已公布。"
    )
    seen_mother, seen_daughter = len(mother.inbox()), len(daughter.inbox())
    await service.run(AT_TEN)
    [own] = mother.inbox()[seen_mother:]
    [copy] = daughter.inbox()[seen_daughter:]
    assert own["text"] == MEMORIAL
    assert copy["text"] == f"【妈妈的提醒 · 家人副本】\n{MEMORIAL}"
    async with service.client.app[keys.SESSIONS]() as session:
        link = await session.scalar(select(CaregiverLink))
    assert link is not None and link.state == CareState.active
    assert buttons(copy) == {"不再接收副本": f"rm-care-end|{link.id}", "提醒设置": "rm-set"}
    # 不再接收副本: one press, acknowledged on the copy itself.
    daughter.api.push_button(DAUGHTER, buttons(copy)["不再接收副本"])
    edited = await daughter.edited(seen_daughter)
    assert edited["text"].endswith(f"✅ {say.COPIES_ENDED}")
    assert "不再接收副本" not in buttons(edited)
    await service.run(AT_TEN + timedelta(days=1))
    assert mother.texts()[-1] == "祭扫班车时刻表已公布。"
    assert len(daughter.inbox()) == seen_daughter + 1
    rows = [row for row in await service.outbox() if row.rule_id == later]
    assert [row.recipient_key for row in rows] == [service.key(MOTHER)]


async def test_a_storm_of_429s_leaves_every_resident_one_message(service: Service) -> None:
    residents = list(range(810001, 810011))
    await service.subscribed(residents)
    await service.rule(on_date=MONDAY.date())
    service.api.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, times=5
    )
    found = await service.run(AT_TEN)
    assert found.queued == len(residents)
    for _ in range(5):
        if all(row.state == OutboxState.sent for row in await service.outbox()):
            break
        # What Telegram held back is tried again once its retry_after has passed.
        await service.run(service.clock() + timedelta(seconds=2))
    for chat_id in residents:
        assert service.chat(chat_id).texts() == [MEMORIAL], chat_id
    assert {row.state for row in await service.outbox()} == {OutboxState.sent}
    refused = [c for c in service.api.calls if c.error is not None and c.error.code == 429]
    assert len(refused) == 5


async def test_a_resident_who_blocked_the_bot_gets_nothing_until_they_write_again(
    service: Service,
) -> None:
    mother, neighbour = service.chat(MOTHER), service.chat(NEIGHBOUR)
    await service.opt_in(mother, "祭扫安排")
    await service.opt_in(neighbour, "祭扫安排")
    days = [MONDAY.date() + timedelta(days=n) for n in range(3)]
    rules = [
        await service.rule(on_date=day, message=f"{day.month}月{day.day}日：{MEMORIAL}")
        for day in days
    ]
    service.api.block(MOTHER)
    seen = len(mother.inbox())
    await service.run(AT_TEN)
    [blocked] = [row for row in await service.outbox() if row.recipient_key == service.key(MOTHER)]
    assert blocked.state == OutboxState.failed_permanent and blocked.error == "居民已屏蔽本助手"
    assert (await service.profile(MOTHER)).inactive_since == AT_TEN
    # The next campaign queues nothing for her; the neighbour gets it.
    second = await service.run(AT_TEN + timedelta(days=1))
    assert second.queued == 1
    rows = await service.outbox()
    assert [r.rule_id for r in rows if r.recipient_key == service.key(MOTHER)] == rules[:1]
    assert neighbour.texts()[-1].startswith("12月8日：")
    # She unblocks the bot and writes /start: reminders reach her again.
    service.api.blocked.discard(MOTHER)
    greeting = await mother.send("/start")
    assert greeting["text"] == texts.GREETING
    assert (await service.profile(MOTHER)).inactive_since is None
    async with service.client.app[keys.SESSIONS]() as session:
        resident = await reach.resident(session, "telegram", service.key(MOTHER))
    assert isinstance(resident, Resident) and resident.inactive_since is None
    third = await service.run(AT_TEN + timedelta(days=2))
    assert third.queued == 2
    assert mother.texts()[seen:] == [texts.GREETING, f"12月9日：{MEMORIAL}"]
    assert [t for t in neighbour.texts() if "：冬至祭扫" in t] == [
        f"{day.month}月{day.day}日：{MEMORIAL}" for day in days
    ]


async def test_a_forwarded_message_is_checked_against_what_the_bot_sent(
    service: Service,
) -> None:
    mother = service.chat(MOTHER)
    await service.opt_in(mother, "祭扫安排")
    await service.rule(on_date=MONDAY.date())
    await service.run(AT_TEN)
    assert mother.texts()[-1] == MEMORIAL
    ours = await mother.forward(MEMORIAL, from_bot=True)
    assert ours["text"] == f"{say.FROM_US}\n{say.NEVER_MONEY}"
    # Our reminder's words, passed on by somebody else around the time we sent them.
    copied = await mother.forward(
        MEMORIAL, from_bot=False, sent_at=int((AT_TEN + timedelta(minutes=20)).timestamp())
    )
    assert copied["text"] == f"{say.COPIED_FROM_US}\n{say.NEVER_MONEY}"
    fraud = await mother.forward(
        "【松江民政局】您的高龄补贴待领取，请先转账 200 元手续费。", from_bot=False
    )
    assert fraud["text"] == f"{say.NOT_FROM_US}\n{say.NEVER_MONEY}"
    assert all("96110" in m["text"] for m in (ours, copied, fraud))
