"""A resident on the web chat with an eldercare advisor: the page has no push, so what the
advisor side says is fetched from ``GET /api/chat/updates``; what the resident says goes into
the case's transcript and gets no answer from the bot."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import keys
from bot.console import accounts
from bot.console.models import Role
from bot.conversation import texts
from bot.escalations import queries
from bot.escalations.models import Author, CaseState, Escalation, EscalationMessage
from bot.escalations.service import Advisor, Cases
from tests.conftest import Client

pytestmark = pytest.mark.asyncio(loop_scope="module")

CASE_NUMBER = re.compile(r"案件号 #(\d+)")


async def _browser(server: TestServer) -> AsyncIterator[Client]:
    client = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        # The server is shared: close only this client's session.
        await client.session.close()


@pytest_asyncio.fixture(loop_scope="module")
async def resident(module_server: TestServer) -> AsyncIterator[Client]:
    """A resident's own browser: a client with its own cookie jar."""
    async for client in _browser(module_server):
        yield client


@pytest_asyncio.fixture(loop_scope="module")
async def other_resident(module_server: TestServer) -> AsyncIterator[Client]:
    async for client in _browser(module_server):
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def advisor(module_server: TestServer) -> Advisor:
    async with module_server.app[keys.SESSIONS]() as session, session.begin():
        user = await accounts.add_user(
            session, name="顾问王", role=Role.advisor, password="advisor-password-1", actor="test"
        )
    assert user.id is not None
    return Advisor(user.id, user.name)


def _cases(server: TestServer) -> Cases:
    return server.app[keys.CASES]


def _sessions(server: TestServer) -> async_sessionmaker[AsyncSession]:
    return server.app[keys.SESSIONS]


def _now(server: TestServer) -> datetime:
    return datetime.now(server.app[keys.SETTINGS].tz)


async def post(client: Client, action: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/chat", json={"action": action})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def say(client: Client, text: str) -> dict[str, Any]:
    return await post(client, {"type": "text", "text": text})


async def updates(client: Client, after: int | str = 0) -> dict[str, Any]:
    response = await client.get("/api/chat/updates", params={"after": str(after)})
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await response.json()
    assert set(body) == {"replies", "after", "with_advisor"}
    return body


async def open_case(client: Client, need: str) -> int:
    """联系养老顾问, then what the resident needs: the case's number."""
    asked = await say(client, texts.ADVISOR)
    assert asked["with_advisor"] is False  # saying what they need first: no case yet
    opened = await say(client, need)
    assert opened["with_advisor"] is True
    [reply] = opened["replies"]
    found = CASE_NUMBER.search(reply["text"])
    assert found, reply["text"]
    return int(found.group(1))


async def transcript(server: TestServer, case_id: int) -> list[EscalationMessage]:
    async with _sessions(server)() as session:
        return await queries.transcript(session, case_id)


async def get_case(server: TestServer, case_id: int) -> Escalation:
    async with _sessions(server)() as session:
        case = await _cases(server).get(session, case_id)
    assert case is not None
    return case


async def claim(server: TestServer, case_id: int, advisor: Advisor) -> None:
    async with _sessions(server)() as session, session.begin():
        claimed = await _cases(server).claim(session, case_id, advisor, now=_now(server))
    assert claimed.won


async def answer(server: TestServer, case_id: int, advisor: Advisor, text: str) -> None:
    async with _sessions(server)() as session, session.begin():
        await _cases(server).from_advisor(
            session, case_id, advisor, text=text, via="console", now=_now(server)
        )


async def close(server: TestServer, case_id: int, advisor: Advisor) -> None:
    async with _sessions(server)() as session, session.begin():
        closed = await _cases(server).close(
            session, case_id, by="advisor", actor=advisor.name, now=_now(server)
        )
    assert closed is not None


def labels(reply: dict[str, Any]) -> list[str]:
    return [b["label"] for row in reply["buttons"] for b in row]


async def test_an_advisors_reply_arrives_once_and_the_residents_words_are_not_echoed(
    module_server: TestServer, resident: Client, advisor: Advisor
) -> None:
    need = "我一个人住，想找人帮忙做饭"
    case_id = await open_case(resident, need)
    waiting = await updates(resident)
    assert waiting["replies"] == [] and waiting["with_advisor"] is True

    await claim(module_server, case_id, advisor)
    await answer(module_server, case_id, advisor, "您好，请问您住在哪个街镇？")
    found = await updates(resident, waiting["after"])
    assert found["with_advisor"] is True
    taken, said = found["replies"]
    assert f"工号 {advisor.staff_id}" in taken["text"] and "已接手" in taken["text"]
    assert labels(taken) == [texts.END_ADVISOR, texts.ASK_CALLBACK]
    assert said["text"] == f"养老顾问（工号 {advisor.staff_id}）：您好，请问您住在哪个街镇？"
    assert said["buttons"] == [] and said["keyboard"] == []
    assert all(need not in r["text"] for r in found["replies"])

    # Nothing new since: the reply is not shown twice.
    again = await updates(resident, found["after"])
    assert again == {"replies": [], "after": found["after"], "with_advisor": True}
    # The cursor is the last message looked at, the resident's own ones included.
    messages = await transcript(module_server, case_id)
    assert found["after"] == messages[-1].id
    # From the start (the page opened again), the whole conversation, once.
    replay = await updates(resident, 0)
    assert [r["text"] for r in replay["replies"]] == [taken["text"], said["text"]]


async def test_the_residents_words_go_to_the_advisor_and_get_no_bot_answer(
    module_server: TestServer, resident: Client, advisor: Advisor
) -> None:
    case_id = await open_case(resident, "想问问居家养老上门服务")
    await answer(module_server, case_id, advisor, "可以的，您多大年纪？")
    seen = await updates(resident)
    for words in ("我今年七十八岁", "低保怎么申请"):  # a question too: for the advisor now
        body = await say(resident, words)
        assert body == {"replies": [], "with_advisor": True}
    messages = await transcript(module_server, case_id)
    mine = [m.text for m in messages if m.author == Author.resident]
    assert mine == ["想问问居家养老上门服务", "我今年七十八岁", "低保怎么申请"]
    assert all(m.via == "web" for m in messages if m.author == Author.resident)
    # Not echoed back by the poll.
    assert (await updates(resident, seen["after"]))["replies"] == []


async def test_the_closing_notice_arrives_with_its_buttons_and_then_polling_ends(
    module_server: TestServer, resident: Client, advisor: Advisor
) -> None:
    case_id = await open_case(resident, "想申请助餐补贴")
    await answer(module_server, case_id, advisor, "已经帮您登记好了。")
    seen = await updates(resident)
    await close(module_server, case_id, advisor)

    closing = await updates(resident, seen["after"])
    assert closing["with_advisor"] is False
    [notice] = closing["replies"]
    assert "养老顾问已结束本次服务" in notice["text"] and texts.ASK_SOLVED in notice["text"]
    assert labels(notice) == ["解决了", "没解决"]
    assert (await updates(resident, closing["after"]))["replies"] == []
    # The page reopened before the resident answers: the conversation and its question again.
    replay = await updates(resident)
    assert replay["with_advisor"] is False
    assert [r["text"] for r in replay["replies"]][-1] == notice["text"]

    solved = next(b for row in notice["buttons"] for b in row if b["label"] == "解决了")
    thanked = await post(resident, {"type": "press", "data": solved["data"]})
    assert thanked["replies"][0]["text"] == texts.SOLVED_THANKS
    assert thanked["with_advisor"] is False
    assert (await get_case(module_server, case_id)).solved is True
    # Answered: the case is the past, and a page opened later starts afresh.
    assert await updates(resident) == {"replies": [], "after": 0, "with_advisor": False}


async def test_a_resident_who_ends_it_is_not_shown_the_advisors_notice(
    module_server: TestServer, resident: Client, advisor: Advisor
) -> None:
    case_id = await open_case(resident, "想找人聊聊")
    await answer(module_server, case_id, advisor, "好的，您说。")
    seen = await updates(resident)
    taken, _ = seen["replies"]
    end = next(b for row in taken["buttons"] for b in row if b["label"] == texts.END_ADVISOR)
    ended = await post(resident, {"type": "press", "data": end["data"]})
    assert texts.RESIDENT_ENDED in ended["replies"][0]["text"] and not ended["with_advisor"]
    assert (await get_case(module_server, case_id)).closed_by == "resident"
    # The transcript says "居民已结束人工服务" for the advisors: not for the resident.
    after = await updates(resident, seen["after"])
    assert after["replies"] == [] and after["with_advisor"] is False
    assert after["after"] > seen["after"]


async def test_another_resident_and_a_page_without_a_session_see_nothing(
    module_server: TestServer, resident: Client, other_resident: Client, advisor: Advisor
) -> None:
    assert resident is not other_resident
    case_id = await open_case(resident, "想咨询养老院床位")
    await answer(module_server, case_id, advisor, "只给这位居民看的回复")
    assert len((await updates(resident))["replies"]) == 2

    await say(other_resident, "你好")  # a session of their own
    assert await updates(other_resident) == {"replies": [], "after": 0, "with_advisor": False}

    stranger = TestClient(module_server)
    await stranger.start_server()
    try:
        response = await stranger.get("/api/chat/updates?after=0")
        assert response.status == 200
        assert await response.json() == {"replies": [], "after": 0, "with_advisor": False}
        assert "Set-Cookie" not in response.headers  # a page that only looks gets no cookie
        stranger.session.cookie_jar.update_cookies({"mz_chat": "forged.0000"})
        forged = await stranger.get("/api/chat/updates")
        assert (await forged.json())["replies"] == [] and "Set-Cookie" not in forged.headers
    finally:
        await stranger.session.close()


@pytest.mark.parametrize(
    "after",
    ["abc", "-1", "1.5", "", " 1", "+1", "٣", "²", "2147483648", "9" * 40, "0x10"],
)
async def test_a_bad_after_gets_a_chinese_message(resident: Client, after: str) -> None:
    await say(resident, "你好")
    response = await resident.get("/api/chat/updates", params={"after": after})
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "bad_request" and "请求格式不对" in body["message"]


@pytest.mark.parametrize(("after", "cursor"), [("0", 0), ("007", 7), ("2147483647", 2147483647)])
async def test_any_message_id_is_a_good_after(resident: Client, after: str, cursor: int) -> None:
    await say(resident, "你好")
    assert await updates(resident, after) == {
        "replies": [],
        "after": cursor,
        "with_advisor": False,
    }


async def test_updates_are_only_read(resident: Client) -> None:
    response = await resident.post("/api/chat/updates", json={})
    assert response.status == 405
    assert "不支持" in (await response.json())["message"]
    assert (await resident.get("/api/chat/updates")).status == 200  # after defaults to 0


async def test_stop_mid_case_closes_it_and_deletes_the_transcript(
    module_server: TestServer, resident: Client, advisor: Advisor
) -> None:
    need = "我的电话是13812345678，想请人上门"
    case_id = await open_case(resident, need)
    await answer(module_server, case_id, advisor, "好的，我们尽快安排。")
    await say(resident, "谢谢")
    stopped = await post(resident, {"type": "command", "name": "stop"})
    assert "已删除" in stopped["replies"][0]["text"] and stopped["with_advisor"] is False
    await module_server.app[keys.CONVERSATION].settled()

    case = await get_case(module_server, case_id)
    assert case.state == CaseState.closed and case.closed_by == "stop"
    assert case.user_key is None and case.need is None
    # What is left is the advisors' notice, kept under no resident's key.
    left = await transcript(module_server, case_id)
    assert [(m.author, m.kind, m.user_key) for m in left] == [(Author.system, "ended", None)]
    assert await updates(resident) == {"replies": [], "after": 0, "with_advisor": False}
