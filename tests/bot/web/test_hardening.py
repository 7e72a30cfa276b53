"""Residents' routes under bad input: bodies in pieces, hostile JSON, other sites' forms, broken
requests. Each case answered 500, 400 or a traceback before; each is a plain answer now."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import select
from sqlmodel import col

from bot import keys
from bot.conversation.models import QuestionLog
from bot.database import engine_context, session_factory
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import AppClient, Client


@pytest.fixture
async def client(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> Client:
    client = await app_client(create_app(make_settings(database_url=database_url)))
    async with asyncio.timeout(60):
        while not (client.app[keys.KNOWLEDGE].ready and client.app[keys.DIRECTORY].ready):
            await asyncio.sleep(0.05)
    return client


async def _logged(database_url: str) -> list[QuestionLog]:
    async with engine_context(database_url) as engine, session_factory(engine)() as session:
        rows = await session.execute(select(QuestionLog).order_by(col(QuestionLog.id)))
        return list(rows.scalars())


async def chat(client: Client, action: dict[str, Any], **kwargs: Any) -> Any:
    return await client.post("/api/chat", json={"action": action}, **kwargs)


# The question log --------------------------------------------------------------------------


async def test_a_question_no_database_can_store_does_not_stop_the_log(
    client: Client, database_url: str
) -> None:
    # A lone surrogate failed SQLite's write, a NUL PostgreSQL's; the failed batch then went
    # in front of every later question and nothing more was logged.
    for text in ("\ud800 低保怎么申请", "底保\u0000怎么申请", "助餐点在哪里"):
        response = await chat(client, {"type": "text", "text": text})
        assert response.status == 200, await response.text()
        await client.app[keys.CONVERSATION].flush()
    await (await client.post("/api/ask", json={"question": "轮椅怎么租"})).json()
    await client.app[keys.CONVERSATION].flush()
    logged = await _logged(database_url)
    assert [(r.channel, r.text) for r in logged] == [
        ("web", "低保怎么申请"),
        ("web", "底保怎么申请"),
        ("web", "助餐点在哪里"),
        ("api", "轮椅怎么租"),
    ]
    assert logged[0].entry_id is not None and logged[-1].entry_id is not None


async def test_id_card_and_mobile_numbers_are_masked_in_the_log(
    client: Client, database_url: str
) -> None:
    await chat(
        client, {"type": "text", "text": "我身份证31011719500101123X，电话13912345678，低保怎么办"}
    )
    await client.app[keys.CONVERSATION].flush()
    [row] = await _logged(database_url)
    assert "31011719500101123X" not in row.text and "13912345678" not in row.text
    assert row.text == "我身份证[身份证号]，电话[手机号]，低保怎么办"


# Bodies ------------------------------------------------------------------------------------


async def _raw(client: Client, request: bytes, *pieces: bytes) -> bytes:
    """Send a request by hand, its body in separate TCP writes, and read the whole answer."""
    assert client.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(request)
    await writer.drain()
    for piece in pieces:
        await asyncio.sleep(0.05)
        writer.write(piece)
        await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


@pytest.mark.parametrize("path", ["/api/ask", "/api/chat"])
async def test_a_body_sent_in_two_writes_is_read_whole(client: Client, path: str) -> None:
    body = (
        '{"question": "低保怎么申请"}'
        if path == "/api/ask"
        else '{"action": {"type": "text", "text": "低保怎么申请"}}'
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = await _raw(client, head + body[:9], body[9:])
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert "低保".encode() in answer


async def test_a_chunked_body_is_read_whole_and_its_limit_holds(client: Client) -> None:
    async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
        for part in parts:
            await asyncio.sleep(0.02)
            yield part

    body = '{"question": "老年食堂在哪里"}'.encode()
    response = await client.post(
        "/api/ask", data=pieces(body[:7], body[7:]), headers={"Content-Type": "application/json"}
    )
    assert response.status == 200 and (await response.json())["entry_id"]
    big = b'{"question": "' + "低保".encode() * 20_000 + b'"}'
    response = await client.post(
        "/api/ask",
        data=pieces(*(big[i : i + 8192] for i in range(0, len(big), 8192))),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert "太长" in (await response.json())["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ask", b"[" * 10_000 + b"]" * 10_000),
        ("/api/chat", b'{"action": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"),
        ("/api/ask", b'{"question": ' + b"7" * 5_000 + b"}"),
        ("/api/chat", b'{"action": {"type": "text", "text": ' + b"7" * 5_000 + b"}}"),
        ("/api/chat", b'{"action": {"type": "command", "name": ["stop"]}}'),
        ("/api/chat", b'{"action": {"type": "command", "name": {"a": 1}}}'),
        ("/api/ask", b"\xff\xfe\x00binary"),
    ],
)
async def test_hostile_json_gets_a_chinese_400(client: Client, path: str, body: bytes) -> None:
    response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400, await response.text()
    message = (await response.json())["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message)


async def test_a_lone_surrogate_in_a_question_is_answered(client: Client) -> None:
    # The escaped surrogate reached the reply, and encoding the reply failed with a 500.
    raw = b'{"question": "\\ud800\\udfff\\ud800 ' + "住餐点在哪".encode() + b'"}'
    response = await client.post("/api/ask", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["entry_id"] == "elder-meal-point" and "\ud800" not in body["question"]


async def test_a_cookie_with_other_characters_starts_a_fresh_session(client: Client) -> None:
    async with ClientSession() as session:
        url = f"http://127.0.0.1:{client.server.port}/api/chat"
        response = await session.post(
            url,
            json={"action": {"type": "command", "name": "start"}},
            headers={"Cookie": "mz_chat=令牌.签名".encode().decode("latin-1")},
        )
        assert response.status == 200, await response.text()
        assert "mz_chat" in response.cookies


# Other sites ----------------------------------------------------------------------------------


async def test_a_form_from_another_port_cannot_act_for_a_resident(client: Client) -> None:
    # A text/plain form from a page on another port of the same host sent /stop.
    stop = '{"action": {"type": "command", "name": "stop"}}'
    attack = {
        "Content-Type": "text/plain",
        "Origin": "http://127.0.0.1:9999",
        "Sec-Fetch-Site": "same-site",
    }
    response = await client.post("/api/chat", data=stop, headers=attack)
    assert response.status == 403
    assert "其他网站" in (await response.json())["message"]
    # Either sign alone is enough.
    for headers in ({"Origin": "http://127.0.0.1:9999"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await chat(client, {"type": "command", "name": "start"}, headers=headers)
        assert response.status == 403, headers
    # And a form without a JSON content type is refused even from our own origin.
    response = await client.post("/api/chat", data=stop, headers={"Content-Type": "text/plain"})
    assert response.status == 415
    # Our own page is let in.
    own = f"http://127.0.0.1:{client.server.port}"
    response = await chat(
        client,
        {"type": "command", "name": "start"},
        headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status == 200


# Headers and routing errors ----------------------------------------------------------------


async def test_every_response_carries_the_safety_headers(client: Client) -> None:
    for method, path, status in [
        ("GET", "/chat", 200),
        ("GET", "/healthz", 200),
        ("POST", "/api/ask", 400),
        ("GET", "/nowhere", 404),
    ]:
        response = await client.request(method, path)
        assert response.status == status, path
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Server"] == "minzheng"  # no versions
        geolocation = "geolocation=(self)" if path == "/chat" else "geolocation=()"
        assert geolocation in headers["Permissions-Policy"]
    for path in ("/api/ask", "/api/chat"):
        response = await client.post(path, json={})
        assert response.headers["Cache-Control"] == "no-store"


async def test_unknown_addresses_and_methods_answer_in_chinese(client: Client) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status == 404 and "没有这个地址" in (await response.json())["message"]
    response = await client.get("/api/ask")
    assert response.status == 405 and "请求方式" in (await response.json())["message"]
    assert response.headers["Allow"] == "POST"
    response = await client.get("/admin/nothing-here")
    assert response.status == 404
    page = await response.text()
    assert 'lang="zh-CN"' in page and "没有这个地址" in page


async def test_a_malformed_request_is_one_log_line(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        answer = await _raw(client, b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request")
        assert b"\r\nServer: minzheng\r\n" in answer
        await asyncio.sleep(0.05)
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(records) == 1
    assert records[0].exc_info is None and records[0].exc_text is None
    assert "malformed HTTP request" in records[0].getMessage()
