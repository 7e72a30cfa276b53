"""/start answered by real python-telegram-bot over real HTTP, through the Bot API double."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot import keys
from bot.settings import Settings
from bot.telegram.transport import AiohttpRequest
from bot.web.app import create_app
from tests.conftest import AppClient, Client
from tests.support.fake_bot_api import FakeBotApi

RESIDENT = 424242


@pytest.fixture
def telegram_settings(
    fake_bot_api: FakeBotApi, make_settings: Callable[..., Settings], database_url: str
) -> Callable[..., Settings]:
    """Settings with Telegram on, talking to the Bot API double."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database_url,
            "telegram_token": fake_bot_api.token,
            "telegram_api_base_url": fake_bot_api.base_url,
        }
        return make_settings(**{**values, **overrides})

    return build


async def _running(client: Client) -> Client:
    application = client.app[keys.TELEGRAM]
    async with asyncio.timeout(10):
        while not application.running:
            await asyncio.sleep(0.02)
    return client


@pytest.fixture
async def polling_bot(app_client: AppClient, telegram_settings: Callable[..., Settings]) -> Client:
    """The service with Telegram polling the Bot API double, started and ready."""
    return await _running(await app_client(create_app(telegram_settings())))


async def test_start_is_answered_in_chinese_over_polling(
    fake_bot_api: FakeBotApi,
    polling_bot: Client,
) -> None:
    fake_bot_api.push_text(RESIDENT, "/start")
    reply = await fake_bot_api.wait_for_message(RESIDENT)
    assert "松江民政助手" in reply["text"]
    assert "37009999" in reply["text"]
    # The bot registered its commands and cleared any webhook before polling.
    called = [call.method for call in fake_bot_api.calls]
    assert {"getMe", "setMyCommands", "deleteWebhook", "getUpdates"} <= set(called)
    assert [c["command"] for c in fake_bot_api.commands] == [
        "start",
        "help",
        "hotline",
        "advisor",
        "remind",
        "bind",
        "stop",
    ]


async def test_polling_confirms_updates_so_none_is_answered_twice(
    fake_bot_api: FakeBotApi,
    polling_bot: Client,
) -> None:
    for chat in (1001, 1002, 1003):
        fake_bot_api.push_text(chat, "/start")
    for chat in (1001, 1002, 1003):
        await fake_bot_api.wait_for_message(chat)
    await asyncio.sleep(0.3)
    assert sorted(int(m["chat_id"]) for m in fake_bot_api.sent()) == [1001, 1002, 1003]


async def test_webhook_mode_checks_the_secret_and_answers(
    fake_bot_api: FakeBotApi,
    telegram_settings: Callable[..., Settings],
    app_client: AppClient,
) -> None:
    settings = telegram_settings(
        telegram_mode="webhook",
        webhook_url="https://minzheng.example.org/telegram/webhook",
        webhook_secret="hook-secret_1",
    )
    client = await app_client(create_app(settings))
    await _running(client)
    assert fake_bot_api.webhook_url == "https://minzheng.example.org/telegram/webhook"
    assert fake_bot_api.webhook_secret == "hook-secret_1"
    update = {
        "update_id": 77,
        "message": {
            "message_id": 1,
            "date": 1_790_000_000,
            "chat": {"id": RESIDENT, "type": "private"},
            "from": {"id": RESIDENT, "is_bot": False, "first_name": "李伯伯"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    wrong = await client.post(
        "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
    )
    assert wrong.status == 403
    missing = await client.post("/telegram/webhook", json=update)
    assert missing.status == 403
    garbage = await client.post(
        "/telegram/webhook",
        data=b"\xff\xfe not json",
        headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret_1"},
    )
    assert garbage.status == 400
    assert fake_bot_api.sent() == []
    right = await client.post(
        "/telegram/webhook",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret_1"},
    )
    assert right.status == 200
    reply = await fake_bot_api.wait_for_message(RESIDENT)
    assert "松江民政助手" in reply["text"]


async def test_webhook_route_is_404_in_polling_mode(
    make_settings: Callable[..., Settings],
    database_url: str,
    app_client: AppClient,
) -> None:
    client = await app_client(create_app(make_settings(database_url=database_url)))
    response = await client.post("/telegram/webhook", json={"update_id": 1})
    assert response.status == 404


async def test_a_rejected_token_leaves_the_web_service_running(
    fake_bot_api: FakeBotApi,
    telegram_settings: Callable[..., Settings],
    app_client: AppClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = telegram_settings(telegram_token="999:wrong-token")
    client = await app_client(create_app(settings))
    async with asyncio.timeout(10):
        while "Telegram rejected MINZHENG_TELEGRAM_TOKEN" not in caplog.text:
            await asyncio.sleep(0.02)
    await client.app[keys.DATABASE_STATE].migrated.wait()
    response = await client.get("/healthz")
    assert response.status == 200
    assert not client.app[keys.TELEGRAM].running


async def test_a_failing_handler_gives_the_resident_a_calm_message(
    fake_bot_api: FakeBotApi,
    polling_bot: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from telegram import Update
    from telegram.ext import CommandHandler, ContextTypes

    async def broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raise RuntimeError("handler bug")

    polling_bot.app[keys.TELEGRAM].add_handler(CommandHandler("broken", broken))
    fake_bot_api.push_text(RESIDENT, "/broken")
    reply = await fake_bot_api.wait_for_message(RESIDENT)
    assert "37009999" in reply["text"]
    assert "handler bug" not in reply["text"]
    assert "telegram handler failed" in caplog.text
    assert "RuntimeError: handler bug" in caplog.text


async def test_bot_api_calls_go_as_json_over_aiohttp(
    fake_bot_api: FakeBotApi, polling_bot: Client
) -> None:
    """Both the long poll and the sends use AiohttpRequest, which sends JSON bodies (PTB's httpx
    request sends url-encoded forms)."""
    assert isinstance(polling_bot.app[keys.TELEGRAM].bot.request, AiohttpRequest)
    fake_bot_api.push_text(RESIDENT, "/start")
    await fake_bot_api.wait_for_message(RESIDENT)
    kinds = {(call.method, call.content_type) for call in fake_bot_api.calls}
    assert ("getUpdates", "application/json") in kinds
    assert ("sendMessage", "application/json") in kinds
    assert {kind for _, kind in kinds} == {"application/json"}
