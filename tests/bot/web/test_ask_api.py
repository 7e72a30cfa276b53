from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot import keys
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import AppClient, Client
from tests.support.contract import CONTRACT_KEYS


@pytest.fixture
async def client(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> Client:
    from bot.database import engine_context
    from bot.migrate import upgrade
    from bot.seeding import seed_knowledge

    async with engine_context(database_url) as engine:
        await upgrade(engine)
        await seed_knowledge(engine)
    client = await app_client(create_app(make_settings(database_url=database_url)))
    async with asyncio.timeout(30):
        while not client.app[keys.KNOWLEDGE].ready:
            await asyncio.sleep(0.05)
    return client


async def test_ask_answers_with_the_contract_object(client: Client) -> None:
    response = await client.post("/api/ask", json={"question": "住餐点在哪里"})
    assert response.status == 200
    body = await response.json()
    assert set(body) == CONTRACT_KEYS
    assert body["entry_id"] == "elder-meal-point"
    assert "助餐" in body["answer"]


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        (b"not json", 400, "JSON"),
        (b'{"q": "wrong key"}', 400, "缺少问题"),
        (b'{"question": 42}', 400, "文字"),
        (b"[1, 2]", 400, "缺少问题"),
        (b'{"question": "' + "长".encode() * 40_000 + b'"}', 413, "太长"),
    ],
)
async def test_bad_requests_get_a_clear_chinese_message(
    client: Client, payload: bytes, status: int, fragment: str
) -> None:
    response = await client.post(
        "/api/ask", data=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status == status
    body = await response.json()
    assert fragment in body["message"]


async def test_html_and_sql_come_back_as_plain_data(client: Client) -> None:
    question = "<script>alert(1)</script>' OR 1=1; --"
    response = await client.post("/api/ask", json={"question": question})
    assert response.status == 200
    body = await response.json()
    assert body["question"] == question
    assert body["fallback"] is True


async def test_a_new_installation_answers_from_the_first_start(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> None:
    # Nothing seeded: the server loads the shipped content itself once migrations are done.
    client = await app_client(create_app(make_settings(database_url=database_url)))
    async with asyncio.timeout(60):
        while not client.app[keys.KNOWLEDGE].ready:
            await asyncio.sleep(0.05)
    response = await client.post("/api/ask", json={"question": "老年食堂在哪里"})
    body = await response.json()
    assert body["entry_id"] == "elder-meal-point"
