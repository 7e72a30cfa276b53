"""A resident and the advisors' forum group on Telegram: real python-telegram-bot over real HTTP
against the Bot API double, the real service and database, the sweeper's clock fixed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot import keys
from bot.console import accounts
from bot.console.models import Role
from bot.conversation import texts
from bot.escalations.models import CaseState, Escalation, EscalationMessage
from bot.escalations.sweeper import Sweeper
from bot.residents.models import Resident
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import AppClient, Client
from tests.support.fake_bot_api import FakeBotApi

TZ = ZoneInfo("Asia/Shanghai")
GROUP = -1001234567890
RESIDENT = 626262
ADVISOR, SECOND_ADVISOR, STRANGER = 9001, 9002, 9003


async def _until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := predicate()):
            await asyncio.sleep(0.02)
    return value


def _markup(message: dict[str, Any]) -> dict[str, Any]:
    markup = message.get("reply_markup") or {}
    return json.loads(markup) if isinstance(markup, str) else markup


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        b["text"]: b.get("callback_data", "")
        for row in _markup(message).get("inline_keyboard", [])
        for b in row
    }


class Desk:
    """The test's view of the advisors' group and of the resident's chat."""

    def __init__(self, api: FakeBotApi, client: Client) -> None:
        self.api = api
        self.client = client

    def to_resident(self) -> list[dict[str, Any]]:
        return [m for m in self.api.messages_to(RESIDENT)]

    async def resident_gets(self, count: int) -> list[dict[str, Any]]:
        return await _until(lambda: len(self.to_resident()) >= count and self.to_resident())

    def topic(self) -> int:
        [(chat, thread)] = [key for key in self.api.topics]
        assert chat == GROUP
        return thread

    def in_topic(self) -> list[dict[str, Any]]:
        return self.api.thread_messages(GROUP, self.topic())

    async def topic_gets(self, count: int) -> list[dict[str, Any]]:
        await _until(lambda: self.api.topics)
        return await _until(lambda: len(self.in_topic()) >= count and self.in_topic())

    async def case(self) -> Escalation:
        async with self.client.app[keys.SESSIONS]() as session:
            return (await session.execute(select(Escalation))).scalars().one()


@pytest.fixture
async def desk(
    fake_bot_api: FakeBotApi,
    make_settings: Callable[..., Settings],
    database_url: str,
    app_client: AppClient,
) -> AsyncIterator[Desk]:
    fake_bot_api.add_group(GROUP, forum=True)
    settings = make_settings(
        database_url=database_url,
        telegram_token=fake_bot_api.token,
        telegram_api_base_url=fake_bot_api.base_url,
        advisor_chat_id=GROUP,
        # Always in office hours: the hours themselves are tested with a fixed clock below.
        advisor_hours="00:00-23:59",
    )
    client = await app_client(create_app(settings))
    app = client.app
    async with asyncio.timeout(60):
        while not (
            app[keys.KNOWLEDGE].ready
            and app[keys.DIRECTORY].ready
            and app[keys.TELEGRAM].running
            and app[keys.RELAY].desk is not None
        ):
            await asyncio.sleep(0.05)
    async with app[keys.SESSIONS]() as session, session.begin():
        for name, telegram_id in (("顾问张", ADVISOR), ("顾问李", SECOND_ADVISOR)):
            await accounts.add_user(
                session,
                name=name,
                role=Role.advisor,
                password="songjiang-console-2026",
                actor="test",
            )
            await accounts.link_telegram(
                session, name=name, telegram_user_id=telegram_id, actor="test"
            )
    yield Desk(fake_bot_api, client)


async def _open_case(
    desk: Desk, need: str = "我一个人住，腿脚不便，想找人帮忙做饭"
) -> dict[str, Any]:
    desk.api.push_text(RESIDENT, texts.ADVISOR)
    [prompt] = await desk.resident_gets(1)
    assert "直接转人工" in _buttons(prompt)
    desk.api.push_text(RESIDENT, need)
    replies = await desk.resident_gets(2)
    assert "案件号" in replies[1]["text"]
    [card] = await desk.topic_gets(1)
    return card


async def test_a_case_gets_a_topic_with_its_card(desk: Desk) -> None:
    card = await _open_case(desk)
    [(chat, thread)] = list(desk.api.topics)
    name = desk.api.topics[(chat, thread)]["name"]
    case = await desk.case()
    assert name.startswith(f"#{case.id} ") and "街镇未知" in name
    assert "我一个人住" in card["text"] and "助手猜测" in card["text"]
    assert set(_buttons(card)) >= {"认领", "结案", "转电话回访"}
    assert str(RESIDENT) not in name and str(RESIDENT) not in card["text"]


async def test_only_registered_advisors_claim_and_one_of_two_wins(desk: Desk) -> None:
    card = await _open_case(desk)
    claim = _buttons(card)["认领"]
    desk.api.push_group_button(GROUP, STRANGER, claim)
    refused = await desk.api.wait_for(
        lambda c: (
            c.method == "answerCallbackQuery" and "不是登记的养老顾问" in c.params.get("text", "")
        )
    )
    assert refused.params.get("show_alert") in (True, "true", "True")
    assert (await desk.case()).state == CaseState.open
    # Two advisors press at once.
    desk.api.push_group_button(GROUP, ADVISOR, claim)
    desk.api.push_group_button(GROUP, SECOND_ADVISOR, claim)
    answers = await _until(
        lambda: (
            [
                c.params["text"]
                for c in desk.api.calls
                if c.method == "answerCallbackQuery" and "认领" in c.params.get("text", "")
            ][-2:]
            if len([c for c in desk.api.calls if c.method == "answerCallbackQuery"]) >= 3
            else None
        )
    )
    assert sum("认领成功" in a for a in answers) == 1
    assert sum("晚了一步" in a for a in answers) == 1
    case = await desk.case()
    assert case.state == CaseState.claimed and case.advisor_id is not None
    # The resident is told who took it.
    replies = await desk.resident_gets(3)
    assert f"工号 {case.advisor_id}" in replies[2]["text"]


async def test_messages_go_both_ways_and_the_bot_stays_silent(desk: Desk) -> None:
    card = await _open_case(desk)
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(card)["认领"])
    await desk.resident_gets(3)  # the claim notice
    thread = desk.topic()
    desk.api.push_group_text(GROUP, ADVISOR, "您好，请问您住在哪个街镇？<b>", thread_id=thread)
    replies = await desk.resident_gets(4)
    case = await desk.case()
    assert (
        replies[3]["text"]
        == f"养老顾问（工号 {case.advisor_id}）：您好，请问您住在哪个街镇？&lt;b&gt;"
    )
    # The resident answers in words and with a photo: both reach the topic, no bot answer.
    desk.api.push_text(RESIDENT, "九亭镇，低保怎么申请")
    desk.api.push_photo(RESIDENT, caption="这是我的病历")
    in_topic = await desk.topic_gets(3)
    assert in_topic[1]["text"] == "居民：九亭镇，低保怎么申请"
    copies = [c for c in desk.api.calls if c.method == "copyMessage" and not c.error]
    await _until(lambda: [c for c in desk.api.calls if c.method == "copyMessage" and not c.error])
    copies = [c for c in desk.api.calls if c.method == "copyMessage" and not c.error]
    assert len(copies) == 1 and int(copies[0].params["from_chat_id"]) == RESIDENT
    await asyncio.sleep(0.3)
    assert len(desk.to_resident()) == 4  # nothing from the knowledge base meanwhile
    # A stranger writing in the topic is told, and nothing of theirs is relayed.
    desk.api.push_group_text(GROUP, STRANGER, "我也来说两句", thread_id=thread)
    await _until(lambda: any("不是登记的养老顾问" in m.get("text", "") for m in desk.in_topic()))
    await asyncio.sleep(0.2)
    assert len(desk.to_resident()) == 4


async def test_closing_tells_the_resident_and_the_bot_answers_again(desk: Desk) -> None:
    card = await _open_case(desk)
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(card)["认领"])
    await desk.resident_gets(3)
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(card)["结案"])
    replies = await desk.resident_gets(4)
    assert texts.ASK_SOLVED in replies[3]["text"]
    solved = _buttons(replies[3])
    await _until(lambda: desk.api.topics[(GROUP, desk.topic())]["closed"])
    case = await desk.case()
    assert case.state == CaseState.closed and case.closed_by == "advisor"
    desk.api.push_button(RESIDENT, solved["解决了"])
    replies = await desk.resident_gets(5)
    assert replies[4]["text"] == texts.SOLVED_THANKS
    assert (await desk.case()).solved is True
    desk.api.push_text(RESIDENT, "低保怎么申请")
    replies = await desk.resident_gets(6)
    assert "最后核对" in replies[5]["text"]
    # The chat id was kept only while the case needed it.
    async with desk.client.app[keys.SESSIONS]() as session:
        resident = (await session.execute(select(Resident))).scalars().one()
    assert resident.chat_sealed is None and resident.reachable_for == ""


async def test_stop_mid_case_closes_it_and_deletes_the_transcript(desk: Desk) -> None:
    card = await _open_case(desk)
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(card)["认领"])
    await desk.resident_gets(3)
    desk.api.push_text(RESIDENT, "/stop")
    replies = await desk.resident_gets(4)
    assert replies[3]["text"] == texts.DATA_DELETED
    # The advisors are told in the group's general chat, and the case's topic is deleted.
    await _until(
        lambda: any("删除了自己的数据" in m.get("text", "") for m in desk.api.messages_to(GROUP))
    )
    await _until(lambda: not desk.api.topics)
    async with desk.client.app[keys.SESSIONS]() as session:
        case = (await session.execute(select(Escalation))).scalars().one()
        kept = await session.scalar(
            select(func.count())
            .select_from(EscalationMessage)
            .where(col(EscalationMessage.user_key).is_not(None))
        )
        residents = await session.scalar(select(func.count()).select_from(Resident))
    assert case.state == CaseState.closed and case.closed_by == "stop"
    assert case.user_key is None and case.need is None
    assert kept == 0 and residents == 0


async def test_unclaimed_cases_are_announced_again_once(desk: Desk) -> None:
    await _open_case(desk)
    case = await desk.case()
    sweeper = Sweeper(desk.client.app[keys.RELAY], desk.client.app[keys.CONVERSATION].office_hours)
    later = case.opened_at.astimezone(TZ).replace(microsecond=0) + (
        datetime(2026, 1, 1, 0, 11) - datetime(2026, 1, 1)
    )
    # Two replicas' sweepers at the same moment: one alert.
    await asyncio.gather(sweeper.run_once(later), sweeper.run_once(later))
    alerts = [m for m in desk.in_topic() if "还没有顾问认领" in m.get("text", "")]
    assert len(alerts) == 1
    await sweeper.run_once(later)
    assert len([m for m in desk.in_topic() if "还没有顾问认领" in m.get("text", "")]) == 1


async def test_waiting_and_timings_are_on_metrics(desk: Desk) -> None:
    card = await _open_case(desk)
    app = desk.client.app
    await Sweeper(app[keys.RELAY], app[keys.CONVERSATION].office_hours).run_once(datetime.now(TZ))
    body = await (await desk.client.get("/metrics")).text()
    assert "minzheng_escalations_waiting 1.0" in body
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(card)["认领"])
    await desk.resident_gets(3)
    desk.api.push_group_text(GROUP, ADVISOR, "您好", thread_id=desk.topic())
    await desk.resident_gets(4)
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(card)["结案"])
    await desk.resident_gets(5)
    body = await (await desk.client.get("/metrics")).text()
    for name in ("claim", "first_reply", "close"):
        assert f"minzheng_escalation_{name}_seconds_count 1.0" in body, name
