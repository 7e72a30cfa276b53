"""The resident web chat over HTTP: the page, and the conversation through POST /api/chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import Client

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def resident(module_server: TestServer) -> AsyncIterator[Client]:
    """A resident's own browser: a client with its own cookie jar."""
    client = TestClient(module_server)
    await client.start_server()
    try:
        yield client
    finally:
        # The server is shared: close only this client's session.
        await client.session.close()


async def act(client: Client, action: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.post("/api/chat", json={"action": action})
    assert response.status == 200, await response.text()
    body = await response.json()
    return list(body["replies"])


async def test_the_page_is_large_accessible_and_self_contained(resident: Client) -> None:
    response = await resident.get("/chat")
    assert response.status == 200
    html = await response.text()
    assert "松江民政助手" in html and 'lang="zh-CN"' in html
    assert "font: 22px" in html and 'aria-live="polite"' in html
    assert "http://" not in html and "https://" not in html  # no CDN, no web font
    # Only the page's own script may run (by its hash): no inline handler, no injected script.
    policy = response.headers["Content-Security-Policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "'sha256-" in script_src and "unsafe-inline" not in script_src


async def test_a_conversation_keeps_its_session(resident: Client) -> None:
    [greeting] = await act(resident, {"type": "command", "name": "start"})
    assert "松江民政助手" in greeting["text"] and greeting["keyboard"]
    assert "mz_chat" in {c.key for c in resident.session.cookie_jar}
    [menu] = await act(resident, {"type": "text", "text": "找服务点"})
    meal = next(b for row in menu["buttons"] for b in row if b["data"] == "cat|meal_point")
    [ask] = await act(resident, {"type": "press", "data": meal["data"]})
    assert ask["request_location"]
    # The step is remembered under the cookie: a town name now finds meal points there.
    [places] = await act(resident, {"type": "text", "text": "九亭"})
    assert places["places"] and all("助餐点" in p["name"] for p in places["places"])


async def test_answers_and_fallbacks(resident: Client) -> None:
    [answer] = await act(resident, {"type": "text", "text": "住餐点在哪里"})
    assert "助餐" in answer["text"] and "最后核对" in answer["text"]
    [advice] = await act(resident, {"type": "text", "text": "护照过期了怎么办"})
    assert "12345" in advice["text"]


async def test_a_location_from_the_browser(resident: Client) -> None:
    [reply] = await act(resident, {"type": "location", "latitude": 31.03, "longitude": 121.23})
    assert 0 < len(reply["places"]) <= 5


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "JSON"),
        (b'{"question": "x"}', "action"),
        (b'{"action": {"type": "dance"}}', "type"),
        (b'{"action": {"type": "location", "latitude": 95, "longitude": 1}}', "纬度"),
        (b'{"action": {"type": "location", "latitude": "x"}}', "位置"),
        (b'{"action": {"type": "command", "name": "rm -rf"}}', "type"),
    ],
)
async def test_bad_requests_get_a_chinese_message(
    resident: Client, payload: bytes, fragment: str
) -> None:
    response = await resident.post(
        "/api/chat", data=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert fragment in (await response.json())["message"]


async def test_a_forged_cookie_gets_a_new_session(resident: Client) -> None:
    resident.session.cookie_jar.update_cookies({"mz_chat": "someone-else.0000"})
    response = await resident.post(
        "/api/chat", json={"action": {"type": "command", "name": "start"}}
    )
    assert response.status == 200
    assert response.cookies["mz_chat"].value != "someone-else.0000"


async def test_an_advisor_asked_for_on_the_web_opens_a_case(resident: Client) -> None:
    [reply] = await act(resident, {"type": "text", "text": "联系养老顾问"})
    assert "养老顾问" in reply["text"]
    [opened] = await act(resident, {"type": "text", "text": "我一个人住，想找人帮忙做饭"})
    assert "案件号" in opened["text"] and "这个页面" in opened["text"]
