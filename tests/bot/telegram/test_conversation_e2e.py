"""A resident on Telegram: real python-telegram-bot, real HTTP, the Bot API double, the real
service with its shipped content and sample directory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from bot import keys
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import AppClient, Client
from tests.support.fake_bot_api import FakeBotApi

RESIDENT = 515151


def _settings(
    api: FakeBotApi, make_settings: Callable[..., Settings], database_url: str
) -> Settings:
    return make_settings(
        database_url=database_url,
        telegram_token=api.token,
        telegram_api_base_url=api.base_url,
    )


async def _ready(client: Client) -> Client:
    """The service with its content built and Telegram polling."""
    async with asyncio.timeout(60):
        while not (
            client.app[keys.KNOWLEDGE].ready
            and client.app[keys.DIRECTORY].ready
            and client.app[keys.TELEGRAM].running
        ):
            await asyncio.sleep(0.05)
    return client


@pytest.fixture
async def bot(
    fake_bot_api: FakeBotApi,
    make_settings: Callable[..., Settings],
    database_url: str,
    app_client: AppClient,
) -> Client:
    settings = _settings(fake_bot_api, make_settings, database_url)
    return await _ready(await app_client(create_app(settings)))


async def _replies(api: FakeBotApi, chat: int, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(15):
        while len([m for m in api.sent() if int(m["chat_id"]) == chat]) < count:
            await asyncio.sleep(0.02)
    return [m for m in api.sent() if int(m["chat_id"]) == chat]


def _markup(message: dict[str, Any]) -> dict[str, Any]:
    """The keyboard a message was sent with (a JSON body carries it as an object, a form as a
    JSON string)."""
    markup = message.get("reply_markup") or {}
    return json.loads(markup) if isinstance(markup, str) else markup


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    markup = _markup(message)
    return {
        b["text"]: b.get("callback_data", "")
        for row in markup.get("inline_keyboard", [])
        for b in row
    }


async def test_a_question_then_its_buttons(fake_bot_api: FakeBotApi, bot: Client) -> None:
    fake_bot_api.push_text(RESIDENT, "底保怎么申请")
    [answer] = await _replies(fake_bot_api, RESIDENT, 1)
    assert "低保" in answer["text"] and "最后核对" in answer["text"]
    assert answer["parse_mode"] == "HTML"
    buttons = _buttons(answer)
    assert "有帮助" in buttons and all(len(d.encode()) <= 64 for d in buttons.values())
    fake_bot_api.push_button(RESIDENT, buttons["有帮助"])
    edit = await fake_bot_api.wait_for(lambda c: c.method == "editMessageText")
    assert edit.error is None
    edited = fake_bot_api.messages[(RESIDENT, int(edit.params["message_id"]))]
    # The answer stays, the thanks is added, and feedback cannot be given twice.
    assert edited["text"].startswith(answer["text"].split("\n")[0]) and "谢谢" in edited["text"]
    assert "有帮助" not in _buttons(edited) and "没帮助" not in _buttons(edited)
    assert "相关问题" in _buttons(edited)
    assert any(c.method == "answerCallbackQuery" for c in fake_bot_api.calls)


async def test_find_a_meal_point_by_location(fake_bot_api: FakeBotApi, bot: Client) -> None:
    fake_bot_api.push_text(RESIDENT, "找服务点")
    [menu] = await _replies(fake_bot_api, RESIDENT, 1)
    fake_bot_api.push_button(RESIDENT, _buttons(menu)["老年助餐点"])
    replies = await _replies(fake_bot_api, RESIDENT, 2)
    assert "request_location" in str(_markup(replies[1]))
    fake_bot_api.push_location(RESIDENT, 31.03, 121.23)
    replies = await _replies(fake_bot_api, RESIDENT, 3)
    assert "助餐点" in replies[2]["text"] and "米" in replies[2]["text"]
    assert "示例数据" in replies[2]["text"]


async def test_a_voice_message_gets_a_kind_text_only_reply(
    fake_bot_api: FakeBotApi, bot: Client
) -> None:
    fake_bot_api.push_voice(RESIDENT)
    [reply] = await _replies(fake_bot_api, RESIDENT, 1)
    assert "文字" in reply["text"] and "37009999" in reply["text"]


async def test_html_and_very_long_messages_never_break_a_reply(
    fake_bot_api: FakeBotApi, bot: Client
) -> None:
    fake_bot_api.push_text(RESIDENT, "<b>低保</b> & <script>怎么申请</script>")
    [first] = await _replies(fake_bot_api, RESIDENT, 1)
    assert "<script>" not in first["text"] and "<b>" not in first["text"]
    fake_bot_api.push_text(RESIDENT, "长" * 10_000)
    replies = await _replies(fake_bot_api, RESIDENT, 2)
    assert all(len(m["text"]) <= 4096 for m in replies)


async def test_a_flood_is_slowed_with_one_notice_and_nothing_dropped(
    fake_bot_api: FakeBotApi, bot: Client
) -> None:
    from bot.conversation.flood import FloodGuard
    from bot.conversation.texts import FLOOD_NOTICE
    from bot.telegram.services import SERVICES

    bot.app[keys.TELEGRAM].bot_data[SERVICES].flood = FloodGuard(limit=20, slow_delay_s=0.1)
    for n in range(24):
        fake_bot_api.push_text(RESIDENT, f"低保{n}")
    other = RESIDENT + 1
    fake_bot_api.push_text(other, "助餐点在哪")
    replies = await _replies(fake_bot_api, RESIDENT, 25)
    assert len(replies) == 25  # 24 answers and one notice
    assert [m["text"] for m in replies].count(FLOOD_NOTICE) == 1
    # Another resident was answered meanwhile.
    assert await _replies(fake_bot_api, other, 1)


async def test_a_chosen_place_is_shown_on_a_map(fake_bot_api: FakeBotApi, bot: Client) -> None:
    fake_bot_api.push_location(RESIDENT, 31.13, 121.30)
    [places] = await _replies(fake_bot_api, RESIDENT, 1)
    first = next(data for label, data in _buttons(places).items() if label.startswith("📍 1."))
    fake_bot_api.push_button(RESIDENT, first)
    venue = await fake_bot_api.wait_for(lambda call: call.method == "sendVenue")
    assert venue.params["title"].startswith("示例")
    assert 31.0 < float(venue.params["latitude"]) < 31.2
    replies = await _replies(fake_bot_api, RESIDENT, 2)
    assert "地址：" in replies[1]["text"] and "示例数据" in replies[1]["text"]


def _no_refused_calls(api: FakeBotApi) -> None:
    """Nothing the bot sent was refused by the double (strict HTML, lengths, coordinates)."""
    refused = [(c.method, c.error.description) for c in api.calls if c.error is not None]
    assert refused == []


async def test_start_help_and_hotline(fake_bot_api: FakeBotApi, bot: Client) -> None:
    fake_bot_api.push_text(RESIDENT, "/start")
    [greeting] = await _replies(fake_bot_api, RESIDENT, 1)
    keyboard = _markup(greeting)["keyboard"]
    labels = [b if isinstance(b, str) else b["text"] for row in keyboard for b in row]
    assert labels == ["问政策", "找服务点", "联系养老顾问", "提醒设置", "帮助"]
    fake_bot_api.push_text(RESIDENT, "/help")
    fake_bot_api.push_text(RESIDENT, "/hotline")
    _, help_, hotline = await _replies(fake_bot_api, RESIDENT, 3)
    assert "/hotline" in help_["text"]
    assert "37009999" in hotline["text"] and "12345" in hotline["text"]
    _no_refused_calls(fake_bot_api)


async def test_a_vague_question_offers_suggestions_that_answer(
    fake_bot_api: FakeBotApi, bot: Client
) -> None:
    fake_bot_api.push_text(RESIDENT, "补贴")
    [fallback] = await _replies(fake_bot_api, RESIDENT, 1)
    assert fallback["text"].startswith("没找到确切答案")
    buttons = _buttons(fallback)
    suggestions = {label: data for label, data in buttons.items() if data.startswith("q|")}
    assert 1 <= len(suggestions) <= 3 and "联系养老顾问" in buttons
    label, data = next(iter(suggestions.items()))
    fake_bot_api.push_button(RESIDENT, data)
    replies = await _replies(fake_bot_api, RESIDENT, 2)
    assert replies[1]["text"].startswith(label) and "最后核对" in replies[1]["text"]
    # An advisor, from the fallback's button.
    fake_bot_api.push_button(RESIDENT, buttons["联系养老顾问"])
    replies = await _replies(fake_bot_api, RESIDENT, 3)
    # The resident may say what they need before the case opens.
    assert "养老顾问" in replies[2]["text"] and "直接转人工" in _buttons(replies[2])
    _no_refused_calls(fake_bot_api)


async def test_other_departments_matters_get_12345(fake_bot_api: FakeBotApi, bot: Client) -> None:
    fake_bot_api.push_text(RESIDENT, "办护照要什么材料")
    [reply] = await _replies(fake_bot_api, RESIDENT, 1)
    assert "不归民政部门管" in reply["text"] and "12345" in reply["text"]


async def test_every_button_under_an_answer(fake_bot_api: FakeBotApi, bot: Client) -> None:
    fake_bot_api.push_text(RESIDENT, "残疾人两项补贴怎么申请")
    [answer] = await _replies(fake_bot_api, RESIDENT, 1)
    buttons = _buttons(answer)
    details = [label for label in ("所需材料", "办理地点", "申请条件") if label in buttons]
    assert len(details) == 3 and "相关问题" in buttons and "找附近的服务点" in buttons
    count = 1
    for label in details:
        fake_bot_api.push_button(RESIDENT, buttons[label])
        count += 1
        replies = await _replies(fake_bot_api, RESIDENT, count)
        assert f"· {label}" in replies[-1]["text"]
    fake_bot_api.push_button(RESIDENT, buttons["相关问题"])
    count += 1
    related = (await _replies(fake_bot_api, RESIDENT, count))[-1]
    assert related["text"].startswith("相关问题") and _buttons(related)
    fake_bot_api.push_button(RESIDENT, buttons["找附近的服务点"])
    count += 1
    ask_where = (await _replies(fake_bot_api, RESIDENT, count))[-1]
    assert "request_location" in str(_markup(ask_where))
    # A town typed instead of a location shared.
    fake_bot_api.push_text(RESIDENT, "九亭镇")
    count += 1
    places = (await _replies(fake_bot_api, RESIDENT, count))[-1]
    assert places["text"].startswith("九亭镇的社区事务受理服务中心")
    assert "米" not in places["text"]  # no distance from a town's centre
    assert "正在营业" in places["text"] or "已休息" in places["text"]
    fake_bot_api.push_button(RESIDENT, buttons["没帮助"])
    await fake_bot_api.wait_for(lambda c: c.method == "editMessageText")
    _no_refused_calls(fake_bot_api)


async def test_a_location_with_no_step_gives_nearest_of_all_kinds(
    fake_bot_api: FakeBotApi, bot: Client
) -> None:
    fake_bot_api.push_location(RESIDENT, 31.03, 121.23)
    [places] = await _replies(fake_bot_api, RESIDENT, 1)
    lines = [
        line for line in places["text"].split("\n") if line[:2] in {f"{n}." for n in range(1, 9)}
    ]
    assert 1 <= len(lines) <= 5 and all("米" in line for line in lines)
    buttons = _buttons(places)
    narrow = [data for data in buttons.values() if data.startswith("cat|")]
    assert len(narrow) >= 10
    fake_bot_api.push_button(RESIDENT, narrow[0])
    replies = await _replies(fake_bot_api, RESIDENT, 2)
    assert "request_location" in str(_markup(replies[1]))


async def test_a_429_is_retried_after_retry_after(fake_bot_api: FakeBotApi, bot: Client) -> None:
    fake_bot_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    fake_bot_api.push_text(RESIDENT, "低保怎么申请")
    [reply] = await _replies(fake_bot_api, RESIDENT, 1)
    assert "低保" in reply["text"]
    refused = next(c for c in fake_bot_api.calls if c.error is not None)
    accepted = next(c for c in fake_bot_api.calls if c.method == "sendMessage" and not c.error)
    assert refused.error is not None and refused.error.code == 429
    assert accepted.at - refused.at >= 1.0


async def test_a_resident_who_blocked_the_bot_is_not_sent_more(
    fake_bot_api: FakeBotApi, bot: Client
) -> None:
    fake_bot_api.block(RESIDENT)
    fake_bot_api.push_text(RESIDENT, "低保怎么申请")
    await fake_bot_api.wait_for(lambda c: c.error is not None and c.error.code == 403)
    # Nothing more is tried, and no error message is attempted to a chat that refuses them.
    await asyncio.sleep(0.3)
    assert len([c for c in fake_bot_api.calls if c.method == "sendMessage"]) == 1
    # Unblocked, they write again and are answered.
    fake_bot_api.blocked.clear()
    fake_bot_api.push_text(RESIDENT, "低保怎么申请")
    await _replies(fake_bot_api, RESIDENT, 1)


async def test_in_a_group_only_commands_and_mentions_are_answered(
    fake_bot_api: FakeBotApi, bot: Client
) -> None:
    group, member = -100123, 8080
    fake_bot_api.push_group_text(group, member, "大家好，今天去助餐点吃饭吗")
    fake_bot_api.push_group_text(group, member, "@someone_else 低保怎么申请")
    fake_bot_api.push_group_text(group, member, "@songjiang_minzheng_test_bot 低保怎么申请")
    [answer] = await _replies(fake_bot_api, group, 1)
    assert "低保" in answer["text"] and "最后核对" in answer["text"]
    fake_bot_api.push_group_text(group, member, "/hotline@songjiang_minzheng_test_bot")
    replies = await _replies(fake_bot_api, group, 2)
    assert "37009999" in replies[1]["text"]
    await asyncio.sleep(0.3)
    assert len([m for m in fake_bot_api.sent() if int(m["chat_id"]) == group]) == 2


async def test_stop_deletes_the_residents_data(fake_bot_api: FakeBotApi, bot: Client) -> None:
    from sqlalchemy import func, select

    from bot.conversation.models import ConversationState, QuestionLog

    fake_bot_api.push_text(RESIDENT, "低保怎么申请")
    fake_bot_api.push_text(RESIDENT, "找服务点")
    menu = (await _replies(fake_bot_api, RESIDENT, 2))[-1]
    fake_bot_api.push_button(RESIDENT, _buttons(menu)["老年助餐点"])
    await _replies(fake_bot_api, RESIDENT, 3)
    sessions = bot.app[keys.SESSIONS]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationState)) == 1
    fake_bot_api.push_text(RESIDENT, "/stop")
    replies = await _replies(fake_bot_api, RESIDENT, 4)
    assert "删除" in replies[-1]["text"]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationState)) == 0
        assert await session.scalar(select(func.count()).select_from(QuestionLog)) == 0


async def test_a_restart_in_the_middle_of_a_step_loses_nothing(
    fake_bot_api: FakeBotApi,
    make_settings: Callable[..., Settings],
    database_url: str,
    app_client: AppClient,
) -> None:
    settings = _settings(fake_bot_api, make_settings, database_url)
    first = await _ready(await app_client(create_app(settings)))
    fake_bot_api.push_text(RESIDENT, "找服务点")
    [menu] = await _replies(fake_bot_api, RESIDENT, 1)
    fake_bot_api.push_button(RESIDENT, _buttons(menu)["老年助餐点"])
    await _replies(fake_bot_api, RESIDENT, 2)
    # The service stops (a deploy) between the category and the town.
    await first.close()
    await _ready(await app_client(create_app(settings)))
    fake_bot_api.push_text(RESIDENT, "泗泾")
    replies = await _replies(fake_bot_api, RESIDENT, 3)
    assert replies[2]["text"].startswith("泗泾镇的老年助餐点"), replies[2]["text"]
