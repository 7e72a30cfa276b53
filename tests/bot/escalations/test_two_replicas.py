"""Two ``minzheng serve`` processes on one PostgreSQL database and one Bot API double, updates
spread between them as a load balancer would in webhook mode: every message is relayed exactly
once and the two agree on who claimed a case."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.console import accounts
from bot.console.models import Role
from bot.conversation import texts
from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from bot.seeding import seed_if_empty
from tests.bot.escalations.test_telegram_e2e import _buttons
from tests.bot.test_serve import ServeProcess
from tests.bot.test_serve import start_serve as start_serve  # a fixture
from tests.conftest import BACKEND, TEST_SECRET_KEY
from tests.support.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="replicas share a database only on PostgreSQL"
)

GROUP = -1009876543210
RESIDENT = 727272
ADVISORS = {"顾问张": 9101, "顾问李": 9102}
SECRET = "replica-webhook-secret"


class Replica:
    def __init__(self, serve: ServeProcess, url: str) -> None:
        self.serve = serve
        self.url = url

    async def deliver(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        async with http.post(
            self.url + "telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        ) as response:
            assert response.status == 200, await response.text()


REPLICAS: list[Replica] = []
API: list[FakeBotApi] = []


async def _until(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    try:
        async with asyncio.timeout(timeout):
            while not (value := predicate()):
                await asyncio.sleep(0.05)
    except TimeoutError:
        logs = "\n\n".join(r.serve.log_text()[-3000:] for r in REPLICAS)
        logs += "\nBot API calls: " + ", ".join(f"{c.method}:{c.error}" for c in API[0].calls)
        raise AssertionError(f"waited {timeout} s in vain; the replicas' logs:\n{logs}") from None
    return value


async def test_two_replicas_relay_each_message_once_and_agree_on_a_claim(
    start_serve: Any, fake_bot_api: FakeBotApi, database_url: str
) -> None:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        await seed_if_empty(engine)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            for name, telegram_id in ADVISORS.items():
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
    fake_bot_api.add_group(GROUP, forum=True)
    API[:] = [fake_bot_api]
    env = {
        "MINZHENG_DATABASE_URL": database_url,
        "MINZHENG_SECRET_KEY": TEST_SECRET_KEY,
        "MINZHENG_TELEGRAM_TOKEN": fake_bot_api.token,
        "MINZHENG_TELEGRAM_API_BASE_URL": fake_bot_api.base_url,
        "MINZHENG_TELEGRAM_MODE": "webhook",
        "MINZHENG_WEBHOOK_URL": "https://minzheng.example.org/telegram/webhook",
        "MINZHENG_WEBHOOK_SECRET": SECRET,
        "MINZHENG_ADVISOR_CHAT_ID": str(GROUP),
        "MINZHENG_ADVISOR_HOURS": "00:00-23:59",
    }
    replicas = []
    for _ in range(2):
        serve = await start_serve(**env)
        url = (await serve.wait_for_record("serving"))["url"]
        await serve.wait_for_record("advisors' group on", timeout=60)
        await serve.wait_for_record("knowledge index built", timeout=60)
        replicas.append(Replica(serve, url))
    REPLICAS[:] = replicas
    a, b = replicas
    to_resident = lambda: fake_bot_api.messages_to(RESIDENT)  # noqa: E731
    async with aiohttp.ClientSession() as http:
        await a.deliver(http, fake_bot_api.push_text(RESIDENT, texts.ADVISOR))
        await _until(lambda: len(to_resident()) >= 1)
        await b.deliver(http, fake_bot_api.push_text(RESIDENT, "我一个人住，想找人帮忙做饭"))
        await _until(lambda: len(to_resident()) >= 2)
        [(_, thread)] = await _until(lambda: list(fake_bot_api.topics))
        card = (await _until(lambda: fake_bot_api.thread_messages(GROUP, thread)))[0]
        claim = _buttons(card)["认领"]
        # Both advisors press 认领 at once, each through another replica.
        presses = [
            fake_bot_api.push_group_button(GROUP, telegram_id, claim)
            for telegram_id in ADVISORS.values()
        ]
        await asyncio.gather(a.deliver(http, presses[0]), b.deliver(http, presses[1]))
        answers = await _until(
            lambda: (
                found
                if len(
                    found := [
                        c.params.get("text", "")
                        for c in fake_bot_api.calls
                        if c.method == "answerCallbackQuery"
                    ]
                )
                >= 2
                else None
            )
        )
        assert sum("认领成功" in t for t in answers) == 1, answers
        assert sum("晚了一步" in t for t in answers) == 1, answers
        await _until(lambda: len(to_resident()) >= 3)
        winner = next(
            telegram_id
            for telegram_id, press in zip(ADVISORS.values(), presses, strict=True)
            if any(
                "认领成功" in c.params.get("text", "")
                and c.params.get("callback_query_id") == press["callback_query"]["id"]
                for c in fake_bot_api.calls
            )
        )
        # Ten messages each way, spread over the two replicas; one of the resident's twice
        # (a load balancer retrying).
        for n in range(10):
            replica = replicas[n % 2]
            await replica.deliver(http, fake_bot_api.push_text(RESIDENT, f"居民第{n}句"))
            await replica.deliver(
                http,
                fake_bot_api.push_group_text(GROUP, winner, f"顾问第{n}句", thread_id=thread),
            )
        retried = fake_bot_api.push_text(RESIDENT, "居民重发的一句")
        await asyncio.gather(a.deliver(http, retried), b.deliver(http, retried))
        expected_topic = {f"居民：居民第{n}句" for n in range(10)} | {"居民：居民重发的一句"}
        await _until(
            lambda: (
                expected_topic
                <= {m.get("text") for m in fake_bot_api.thread_messages(GROUP, thread)}
            )
        )
        await _until(
            lambda: sum(str(m.get("text", "")).endswith("句") for m in to_resident()) >= 10
        )
        await asyncio.sleep(1.0)  # anything doubled would have arrived by now
    in_topic = Counter(m.get("text") for m in fake_bot_api.thread_messages(GROUP, thread))
    assert all(in_topic[text] == 1 for text in expected_topic), in_topic
    to_them = Counter(m.get("text") for m in to_resident())
    advisor_lines = [t for t in to_them if t and "顾问第" in t]
    assert len(advisor_lines) == 10 and all(to_them[t] == 1 for t in advisor_lines), to_them
    assert len([c for c in fake_bot_api.calls if c.method == "createForumTopic"]) == 1
    for replica in replicas:
        code, _ = await replica.serve.stop()
        assert code == 0, replica.serve.log_text()
