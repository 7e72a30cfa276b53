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


@pytest.fixture
async def bot(
    fake_bot_api: FakeBotApi,
    make_settings: Callable[..., Settings],
    database_url: str,
    app_client: AppClient,
) -> Client:
    settings = make_settings(
        database_url=database_url,
        telegram_token=fake_bot_api.token,
        telegram_api_base_url=fake_bot_api.base_url,
    )
    client = await app_client(create_app(settings))
    async with asyncio.timeout(60):
        while not (
            client.app[keys.KNOWLEDGE].ready
            and client.app[keys.DIRECTORY].ready
            and client.app[keys.TELEGRAM].running
        ):
            await asyncio.sleep(0.05)
    return client


async def _replies(api: FakeBotApi, chat: int, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(15):
        while len([m for m in api.sent() if int(m["chat_id"]) == chat]) < count:
            await asyncio.sleep(0.02)
    return [m for m in api.sent() if int(m["chat_id"]) == chat]


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    markup = message.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
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
    assert "request_location" in replies[1]["reply_markup"]
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
    from bot.telegram.handlers import FLOOD

    bot.app[keys.TELEGRAM].bot_data[FLOOD] = FloodGuard(limit=20, slow_delay_s=0.1)
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
