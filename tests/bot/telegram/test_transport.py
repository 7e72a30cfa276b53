"""AiohttpRequest: python-telegram-bot's Bot API calls over aiohttp, against real HTTP servers."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import unused_port
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.telegram.transport import AiohttpRequest
from tests.support.fake_bot_api import FakeBotApi

RESIDENT = 515151


def _bot(api: FakeBotApi, request: AiohttpRequest) -> Bot:
    return Bot(api.token, base_url=api.base_url, request=request)


async def test_a_message_with_chinese_html_and_a_keyboard_goes_as_json_and_comes_back_parsed(
    fake_bot_api: FakeBotApi,
) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("有帮助", callback_data="fb:1:assist-dibao-apply")]]
    )
    async with _bot(fake_bot_api, AiohttpRequest()) as bot:
        message = await bot.send_message(
            RESIDENT,
            "<b>低保</b>：向街道（镇）社区事务受理服务中心申请 &amp; 咨询 😊",
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )
    assert message.text == "低保：向街道（镇）社区事务受理服务中心申请 & 咨询 😊"
    assert message.reply_markup == keyboard
    assert message.chat.id == RESIDENT
    call = fake_bot_api.calls[-1]
    assert (call.method, call.content_type) == ("sendMessage", "application/json")
    assert call.params["chat_id"] == RESIDENT


async def test_a_burst_waits_for_its_slots_and_loses_nothing(fake_bot_api: FakeBotApi) -> None:
    fake_bot_api.latency = 0.1
    async with _bot(fake_bot_api, AiohttpRequest(slots=3)) as bot:
        fake_bot_api.most_in_flight = 0
        await asyncio.gather(*(bot.send_message(RESIDENT, f"第{n}条") for n in range(12)))
    assert fake_bot_api.most_in_flight == 3
    assert sorted(m["text"] for m in fake_bot_api.sent()) == sorted(f"第{n}条" for n in range(12))


async def test_telegrams_errors_become_ptbs_exceptions(fake_bot_api: FakeBotApi) -> None:
    fake_bot_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    fake_bot_api.block(RESIDENT + 1)
    async with _bot(fake_bot_api, AiohttpRequest()) as bot:
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(RESIDENT, "你好")
        assert retry.value.retry_after == dt.timedelta(seconds=7)
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(RESIDENT + 1, "你好")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(RESIDENT, "<b>没有结束", parse_mode=ParseMode.HTML)


async def test_a_slow_answer_times_out_and_the_next_call_still_works(
    fake_bot_api: FakeBotApi,
) -> None:
    async with _bot(fake_bot_api, AiohttpRequest(read_timeout=0.1)) as bot:
        fake_bot_api.latency = 0.5
        with pytest.raises(TimedOut):
            await bot.send_message(RESIDENT, "慢")
        fake_bot_api.latency = 0.0
        assert (await bot.send_message(RESIDENT, "快")).text == "快"


async def test_an_unreachable_server_is_a_network_error() -> None:
    request = AiohttpRequest()
    bot = Bot("1:x", base_url=f"http://127.0.0.1:{unused_port()}/bot", request=request)
    async with request:  # the request alone: Bot.initialize would call getMe
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(RESIDENT, "你好")
    assert not isinstance(raised.value, TimedOut)


async def test_a_call_before_initialize_or_after_shutdown_is_refused() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/", "POST")
    await request.initialize()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/", "POST")
    await request.initialize()  # PTB initialises again after a shutdown
    await request.shutdown()


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="slots"):
        AiohttpRequest(slots=0)


@pytest.fixture
async def upload_server() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """A server that records what a multipart upload carried, and answers like the Bot API."""
    received: list[dict[str, object]] = []

    async def handle(request: web.Request) -> web.Response:
        fields: dict[str, object] = {"content_type": request.content_type}
        async for part in await request.multipart():
            if part.filename:  # type: ignore[union-attr]
                fields[part.name or ""] = (part.filename, await part.read())  # type: ignore[union-attr]
            else:
                fields[part.name or ""] = await part.text()  # type: ignore[union-attr]
        received.append(fields)
        message = {"message_id": 1, "date": 0, "chat": {"id": RESIDENT, "type": "private"}}
        return web.json_response({"ok": True, "result": message})

    app = web.Application()
    app.router.add_post("/bot1:x/sendDocument", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/bot", received
    finally:
        await runner.cleanup()


async def test_a_file_goes_as_multipart_with_its_fields(
    upload_server: tuple[str, list[dict[str, object]]],
) -> None:
    base_url, received = upload_server
    request = AiohttpRequest()
    bot = Bot("1:x", base_url=base_url, request=request)
    async with request:
        await bot.send_document(
            RESIDENT, InputFile("助餐点名单".encode(), filename="meals.txt"), caption="名单"
        )
    [upload] = received
    assert upload["content_type"] == "multipart/form-data"
    assert upload["chat_id"] == str(RESIDENT)
    assert upload["caption"] == "名单"
    assert upload["document"] == ("meals.txt", "助餐点名单".encode())


async def test_an_http_proxy_from_the_environment_is_used(
    upload_server: tuple[str, list[dict[str, object]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where Telegram is reachable only through a proxy, HTTP_PROXY is enough (as with PTB's
    httpx request): the call goes to the proxy, which here answers as the Bot API would."""
    proxy_url, received = upload_server
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/bot"))
    request = AiohttpRequest()
    bot = Bot("1:x", base_url="http://api.telegram.invalid/bot", request=request)
    async with request:
        await bot.send_document(RESIDENT, InputFile(b"x", filename="x.txt"))
    [upload] = received
    assert upload["chat_id"] == str(RESIDENT)
