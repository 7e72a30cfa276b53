"""More of the advisors' side on Telegram: an ordinary group (replies to the card), a phone
callback, a restart mid-case, a resident who blocked the bot, a long answer, reopening, and an
advisor linking their account with a one-time code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot import keys
from bot.console import accounts
from bot.console.models import Role, StaffUser
from bot.conversation import texts
from bot.escalations import advisors
from bot.escalations.callbacks import phone_of
from bot.escalations.models import CaseState, Escalation
from bot.settings import Settings
from bot.web.app import create_app
from tests.bot.escalations.test_telegram_e2e import (
    ADVISOR,
    GROUP,
    RESIDENT,
    Desk,
    _buttons,
    _markup,
    _until,
)
from tests.conftest import AppClient, Client
from tests.support.fake_bot_api import FakeBotApi

TZ = ZoneInfo("Asia/Shanghai")


async def _start(
    api: FakeBotApi, settings: Settings, app_client: AppClient, *, link: bool = True
) -> Client:
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
    if link:
        async with app[keys.SESSIONS]() as session, session.begin():
            if await accounts.by_name(session, "顾问张") is None:
                await accounts.add_user(
                    session,
                    name="顾问张",
                    role=Role.advisor,
                    password="songjiang-console-2026",
                    actor="test",
                )
                await accounts.link_telegram(
                    session, name="顾问张", telegram_user_id=ADVISOR, actor="test"
                )
    return client


@pytest.fixture
def settings_for(
    fake_bot_api: FakeBotApi, make_settings: Callable[..., Settings], database_url: str
) -> Callable[..., Settings]:
    def build(**extra: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "telegram_token": fake_bot_api.token,
            "telegram_api_base_url": fake_bot_api.base_url,
            "advisor_chat_id": GROUP,
            "advisor_hours": "00:00-23:59",
        }
        return make_settings(**(values | extra))

    return build


@pytest.fixture
async def desk(
    fake_bot_api: FakeBotApi, settings_for: Callable[..., Settings], app_client: AppClient
) -> AsyncIterator[Desk]:
    fake_bot_api.add_group(GROUP, forum=True)
    yield Desk(fake_bot_api, await _start(fake_bot_api, settings_for(), app_client))


async def _open(desk: Desk) -> None:
    desk.api.push_text(RESIDENT, texts.ADVISOR)
    await desk.resident_gets(1)
    desk.api.push_text(RESIDENT, "我要办助餐，想请人打电话")
    await desk.resident_gets(2)
    await desk.topic_gets(1)


async def _claim(desk: Desk) -> None:
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(desk.in_topic()[0])["认领"])
    await desk.resident_gets(3)


async def test_an_ordinary_group_works_by_replying_to_the_card(
    fake_bot_api: FakeBotApi, settings_for: Callable[..., Settings], app_client: AppClient
) -> None:
    fake_bot_api.add_group(GROUP, forum=False)
    client = await _start(fake_bot_api, settings_for(), app_client)
    fake_bot_api.push_text(RESIDENT, texts.ADVISOR)
    fake_bot_api.push_text(RESIDENT, "想找人帮忙买菜")
    card = await _until(lambda: fake_bot_api.messages_to(GROUP))
    assert not fake_bot_api.topics and "想找人帮忙买菜" in card[0]["text"]
    fake_bot_api.push_group_button(GROUP, ADVISOR, _buttons(card[0])["认领"])
    sent = await _until(lambda: len(fake_bot_api.messages_to(RESIDENT)) >= 3)
    assert sent
    card_id = next(key[1] for key, params in fake_bot_api.messages.items() if key[0] == GROUP)
    fake_bot_api.push_group_text(GROUP, ADVISOR, "好的，我来帮您。", reply_to_message_id=card_id)
    replies = await _until(
        lambda: len(fake_bot_api.messages_to(RESIDENT)) >= 4 and fake_bot_api.messages_to(RESIDENT)
    )
    assert replies[3]["text"].endswith("：好的，我来帮您。")
    # The resident's answer is a reply to the card in the group.
    fake_bot_api.push_text(RESIDENT, "谢谢")
    relayed = await _until(
        lambda: [m for m in fake_bot_api.messages_to(GROUP) if m.get("text") == "居民：谢谢"]
    )
    assert relayed
    # Talk in the group that answers no case is left alone.
    fake_bot_api.push_group_text(GROUP, ADVISOR, "大家中午好")
    await asyncio.sleep(0.3)
    assert len(fake_bot_api.messages_to(RESIDENT)) == 4
    assert client.app[keys.RELAY].desk is not None


async def test_a_phone_callback_is_booked_and_marked(desk: Desk) -> None:
    await _open(desk)
    await _claim(desk)
    claimed = desk.to_resident()[2]
    desk.api.push_button(RESIDENT, _buttons(claimed)["请顾问打电话给我"])
    [*_, consent] = await desk.resident_gets(4)
    assert "只用于这次回电" in consent["text"]
    keyboard = _markup(consent)["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    # Someone else's number is refused; their own is taken.
    desk.api.push_contact(RESIDENT, "13900000000", user_id=RESIDENT + 1)
    await desk.resident_gets(5)
    assert "您自己的电话号码" in desk.to_resident()[4]["text"]
    desk.api.push_contact(RESIDENT, "+86 138 1234 5678")
    [*_, when] = await desk.resident_gets(6)
    windows = _buttons(when)
    assert "明天上午" in windows and "明天下午" in windows
    desk.api.push_button(RESIDENT, windows["明天下午"])
    [*_, booked] = await desk.resident_gets(7)
    assert "明天下午" in booked["text"] and "138****5678" in booked["text"]
    # The card shows the number and the time, with the 已回电 buttons.
    await _until(
        lambda: any(
            "13812345678" in c.params.get("text", "") and "明天下午" in c.params.get("text", "")
            for c in desk.api.calls
            if c.method == "editMessageText"
        )
    )
    edited = [c for c in desk.api.calls if c.method == "editMessageText"][-1]
    called = _buttons(edited.params)
    desk.api.push_group_button(GROUP, ADVISOR, called["已回电·解决"])
    await desk.api.wait_for(
        lambda c: c.method == "answerCallbackQuery" and "已回电" in c.params.get("text", "")
    )
    case = await desk.case()
    assert case.call_result == "solved"
    # Closing deletes the number.
    desk.api.push_group_button(GROUP, ADVISOR, called["结案"])
    await desk.resident_gets(8)
    case = await desk.case()
    assert case.state == CaseState.closed and case.phone_sealed is None


async def test_a_restart_mid_case_loses_nothing(
    fake_bot_api: FakeBotApi, settings_for: Callable[..., Settings], app_client: AppClient
) -> None:
    fake_bot_api.add_group(GROUP, forum=True)
    first = Desk(fake_bot_api, await _start(fake_bot_api, settings_for(), app_client))
    await _open(first)
    await _claim(first)
    await first.client.close()
    second = Desk(fake_bot_api, await _start(fake_bot_api, settings_for(), app_client))
    fake_bot_api.push_group_text(GROUP, ADVISOR, "我是顾问，还在吗？", thread_id=second.topic())
    replies = await second.resident_gets(4)
    assert replies[3]["text"].endswith("：我是顾问，还在吗？")
    fake_bot_api.push_text(RESIDENT, "在的")
    in_topic = await second.topic_gets(2)
    assert in_topic[-1]["text"] == "居民：在的"


async def test_a_resident_who_blocked_the_bot_closes_the_case(desk: Desk) -> None:
    await _open(desk)
    await _claim(desk)
    desk.api.block(RESIDENT)
    desk.api.push_group_text(GROUP, ADVISOR, "您好", thread_id=desk.topic())
    await _until(lambda: any("屏蔽" in m.get("text", "") for m in desk.in_topic()))
    case = await desk.case()
    assert case.state == CaseState.closed and case.closed_by == "blocked"


async def test_a_long_answer_is_split_and_escaped(desk: Desk) -> None:
    await _open(desk)
    await _claim(desk)
    long = "请带好身份证<和>户口本。" * 500  # 6,500 characters
    desk.api.push_group_text(GROUP, ADVISOR, long, thread_id=desk.topic())
    replies = await _until(lambda: len(desk.to_resident()) >= 5 and desk.to_resident())
    parts = replies[3:]
    # Telegram took every piece (it counts the text after HTML is parsed, up to 4,096).
    assert not [c for c in desk.api.calls if c.method == "sendMessage" and c.error]
    assert len(parts) >= 2 and "&lt;和&gt;" in parts[0]["text"]
    shown = [m["text"] for (chat, _), m in sorted(desk.api.messages.items()) if chat == RESIDENT]
    assert "".join(shown[3:]).replace("\n", "").endswith("请带好身份证<和>户口本。")


async def test_the_resident_reopens_within_three_days(desk: Desk) -> None:
    await _open(desk)
    await _claim(desk)
    desk.api.push_group_button(GROUP, ADVISOR, _buttons(desk.in_topic()[0])["结案"])
    [*_, closed] = await desk.resident_gets(4)
    desk.api.push_button(RESIDENT, _buttons(closed)["没解决"])
    [*_, sorry] = await desk.resident_gets(5)
    desk.api.push_button(RESIDENT, _buttons(sorry)[texts.REOPEN])
    [*_, reopened] = await desk.resident_gets(6)
    assert "案件号" in reopened["text"]
    await _until(lambda: not desk.api.topics[(GROUP, desk.topic())]["closed"])
    case = await desk.case()
    assert case.state == CaseState.open and case.reopened == 1 and case.solved is False
    # Too late: three days after closing, the button says so.
    async with desk.client.app[keys.SESSIONS]() as session, session.begin():
        row = await session.get(Escalation, case.id)
        assert row is not None
        row.state, row.closed_at = CaseState.closed, datetime.now(UTC) - timedelta(days=4)
    desk.api.push_button(RESIDENT, _buttons(sorry)[texts.REOPEN])
    [*_, late] = await desk.resident_gets(7)
    assert late["text"] == texts.CANNOT_REOPEN


async def test_an_advisor_links_their_account_with_a_code(
    fake_bot_api: FakeBotApi, settings_for: Callable[..., Settings], app_client: AppClient
) -> None:
    fake_bot_api.add_group(GROUP, forum=True)
    client = await _start(fake_bot_api, settings_for(), app_client, link=False)
    now = datetime.now(UTC)
    async with client.app[keys.SESSIONS]() as session, session.begin():
        user = await accounts.add_user(
            session, name="顾问王", role=Role.advisor, password="songjiang-console-2026", actor="t"
        )
        code = await advisors.create_link_code(session, user, now=now)
    fake_bot_api.push_text(ADVISOR, "/link WRONGCODE")
    await _until(lambda: fake_bot_api.messages_to(ADVISOR))
    assert "不对或已过期" in fake_bot_api.messages_to(ADVISOR)[0]["text"]
    fake_bot_api.push_text(ADVISOR, f"/link {code.lower()}")
    await _until(lambda: len(fake_bot_api.messages_to(ADVISOR)) >= 2)
    assert "已绑定" in fake_bot_api.messages_to(ADVISOR)[1]["text"]
    async with client.app[keys.SESSIONS]() as session:
        linked = (
            await session.execute(select(StaffUser).where(col(StaffUser.name) == "顾问王"))
        ).scalar_one()
    assert linked.telegram_user_id == ADVISOR
    # Used once.
    fake_bot_api.push_text(ADVISOR + 5, f"/link {code}")
    await _until(lambda: fake_bot_api.messages_to(ADVISOR + 5))
    assert "不对或已过期" in fake_bot_api.messages_to(ADVISOR + 5)[0]["text"]


async def test_the_phone_number_is_sealed_at_rest(desk: Desk) -> None:
    await _open(desk)
    await _claim(desk)
    desk.api.push_button(RESIDENT, _buttons(desk.to_resident()[2])["请顾问打电话给我"])
    await desk.resident_gets(4)
    desk.api.push_contact(RESIDENT, "13812345678")
    await desk.resident_gets(5)
    case = await desk.case()
    assert case.phone_sealed is not None and "13812345678" not in case.phone_sealed
    assert phone_of(desk.client.app[keys.CASES], case) == "13812345678"


@pytest.mark.parametrize(
    ("moment", "said"),
    [
        # A Tuesday evening: tomorrow morning.
        (datetime(2026, 12, 1, 19, 30, tzinfo=TZ), "明天（12月2日）8:30"),
        # 2 October 2026, in the National Day holiday: the first working day after it.
        (datetime(2026, 10, 2, 10, 0, tzinfo=TZ), "10月8日（周四）8:30"),
    ],
)
async def test_outside_office_hours_the_resident_is_told_when(
    fake_bot_api: FakeBotApi,
    settings_for: Callable[..., Settings],
    app_client: AppClient,
    moment: datetime,
    said: str,
) -> None:
    fake_bot_api.add_group(GROUP, forum=True)
    client = await _start(
        fake_bot_api, settings_for(advisor_hours="08:30-11:30,13:00-17:00"), app_client
    )
    client.app[keys.CONVERSATION].clock = lambda: moment
    fake_bot_api.push_text(RESIDENT, "/advisor")
    await _until(lambda: fake_bot_api.messages_to(RESIDENT))
    fake_bot_api.push_text(RESIDENT, "想问问居家照护")
    replies = await _until(
        lambda: len(fake_bot_api.messages_to(RESIDENT)) >= 2 and fake_bot_api.messages_to(RESIDENT)
    )
    assert "不是顾问的工作时间" in replies[1]["text"] and said in replies[1]["text"]
    assert "37009999" in replies[1]["text"] and "12345" in replies[1]["text"]
    # The case waits for the advisors all the same.
    await _until(lambda: fake_bot_api.topics)


async def test_from_a_group_the_resident_is_asked_to_write_privately(desk: Desk) -> None:
    """An advisor's answer must never land in a group the resident wrote from."""
    group = -100777
    desk.api.push_group_text(group, RESIDENT, "@songjiang_minzheng_test_bot 联系养老顾问")
    [reply] = await _until(lambda: desk.api.messages_to(group))
    assert reply["text"] == texts.ADVISOR_PRIVATELY
    assert not desk.api.topics
