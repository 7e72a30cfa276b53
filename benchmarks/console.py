"""The staff console under load, against a real ``minzheng serve`` process on SQLite.

Targets (issue 11), printed, never asserted:
- with 10,000 entries, the knowledge-base list page and its search: p99 ≤ 100 ms;
- publishing one entry is answered by the bot within 5 s;
- clustering 100,000 logged questions ≤ 10 s, off the event loop, the loop never blocked more
  than 50 ms meanwhile (measured as the worst response time of a page that needs no database).

    .venv/bin/python benchmarks/console.py [--entries 10000] [--questions 100000] [--requests 200]

Takes a few minutes: most of it is loading 10,000 entries and 100,000 questions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ask import synthetic_snapshot  # noqa: E402
from bot.console import accounts  # noqa: E402
from bot.console.models import Role  # noqa: E402
from bot.conversation.models import QuestionLog  # noqa: E402
from bot.database import engine_context, session_factory  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from knowledge.loader import Content, load_shipped  # noqa: E402
from knowledge.schema import EntryIn  # noqa: E402
from knowledge.store import import_content, snapshot_from_content  # noqa: E402

PASSWORD = "benchmark-password-2026"
FILLERS = ["", "", "请问", "你好，", "我想问一下", "麻烦问下"]
ENDINGS = ["", "", "？", "吗", "呢", "啊", "。谢谢"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def synthetic_entries(n: int) -> list[EntryIn]:
    shipped = snapshot_from_content(load_shipped())
    made = synthetic_snapshot(n, shipped)
    return [
        EntryIn(
            id=e.id,
            title=e.title,
            category=e.category,
            questions=list(e.questions),
            keywords=list(e.keywords),
            answer=e.answer,
            source=e.source,
            reviewed=e.reviewed,
            review_by=e.review_by,
        )
        for e in made.entries
    ]


def synthetic_log(n: int, seed: int = 7) -> list[str]:
    """What residents typed that found no answer: a few thousand questions, Zipf-like, each
    typed with fillers and endings of its own."""
    rng = random.Random(seed)
    base = [q for e in load_shipped().entries for q in e.questions]
    topics = rng.sample(base, min(3000, len(base)))
    weights = [1 / (rank + 1) for rank in range(len(topics))]
    return [
        rng.choice(FILLERS) + rng.choices(topics, weights)[0] + rng.choice(ENDINGS)
        for _ in range(n)
    ]


async def prepare(database_url: str, entries: int, questions: int) -> None:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        sessions = session_factory(engine)
        content = load_shipped()
        bulk = Content(
            entries=[*content.entries, *synthetic_entries(entries - len(content.entries))]
        )
        bulk.synonyms, bulk.out_of_scope = content.synonyms, content.out_of_scope
        async with sessions() as session, session.begin():
            await import_content(session, bulk)
        async with sessions() as session, session.begin():
            for name in ("编辑甲", "审核乙"):
                await accounts.add_user(
                    session, name=name, role=Role.staff, password=PASSWORD, actor="benchmark"
                )
        now = datetime.now(UTC)
        texts = synthetic_log(questions)
        rows = [
            {
                "user_key": f"bench-{i % 5000}",
                "channel": "web",
                "text": text,
                "entry_id": None,
                "score": 0.1,
                "fallback": True,
                "asked_at": now - timedelta(minutes=i % (60 * 24 * 20)),
            }
            for i, text in enumerate(texts)
        ]
        from sqlalchemy import insert

        async with sessions() as session, session.begin():
            for start in range(0, len(rows), 10_000):
                await session.execute(insert(QuestionLog), rows[start : start + 10_000])


class Staff:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.page = ""

    async def get(self, path: str) -> tuple[int, float]:
        started = time.perf_counter()
        async with self.http.get(self.base + path, allow_redirects=False) as response:
            self.page = await response.text()
            return response.status, time.perf_counter() - started

    async def post(self, path: str, data: dict[str, str]) -> int:
        token = re.search(r'name="csrf" value="([^"]+)"', self.page)
        fields = {**data, "csrf": token.group(1) if token else ""}
        async with self.http.post(self.base + path, data=fields, allow_redirects=False) as r:
            self.page = await r.text()
            return r.status

    async def sign_in(self, name: str) -> None:
        await self.get("/admin/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', self.page)
        assert token
        async with self.http.post(
            self.base + "/admin/login",
            data={"login_csrf": token.group(1), "name": name, "password": PASSWORD},
            allow_redirects=False,
        ) as response:
            assert response.status == 303, await response.text()
        await self.get("/admin/")


async def ask(http: aiohttp.ClientSession, base: str, question: str) -> dict[str, Any]:
    async with http.post(base + "/api/ask", json={"question": question}) as response:
        return dict(await response.json())


async def wait_ready(base: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                if (await ask(http, base, "老年食堂在哪里")).get("entry_id"):
                    return
            except (aiohttp.ClientError, ValueError):
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError("the server did not become ready")


async def publish_once(editor: Staff, reviewer: Staff, marker: str) -> float:
    """Seconds from the approval's answer to the bot answering with the new text."""
    await editor.get("/admin/kb/elder-meal-point/edit")
    fields = dict(re.findall(r'<input id="f-[^"]*" name="([^"]+)" value="([^"]*)"', editor.page))
    for name, value in re.findall(
        r'<textarea id="f-[^"]*" name="([^"]+)"[^>]*>(.*?)</textarea>', editor.page, re.S
    ):
        fields[name] = value
    for name, body in re.findall(
        r'<select id="f-[^"]*" name="([^"]+)"[^>]*>(.*?)</select>', editor.page, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        fields[name] = chosen.group(1) if chosen else ""
    for name in ("reviewed", "review_by"):
        found = re.search(rf'name="{name}" type="date" value="([^"]*)"', editor.page)
        fields[name] = found.group(1) if found else ""
    revision = re.search(r'name="revision" value="(\d+)"', editor.page)
    fields.update(
        revision=revision.group(1) if revision else "0",
        answer=f"请到离您最近的老年助餐点用餐（{marker}）。",
        then="submit",
    )
    import html

    fields = {k: html.unescape(v) for k, v in fields.items()}
    assert await editor.post("/admin/kb/elder-meal-point/edit", fields) == 303, editor.page[:500]
    await reviewer.get("/admin/kb/elder-meal-point")
    assert await reviewer.post("/admin/kb/elder-meal-point/approve", {}) == 303
    approved = time.perf_counter()
    while marker not in str(
        (await ask(reviewer.http, reviewer.base, "老年食堂在哪里")).get("answer")
    ):
        await asyncio.sleep(0.02)
        if time.perf_counter() - approved > 120:
            return float("inf")
    return time.perf_counter() - approved


async def clustering_under_probe(staff: Staff) -> tuple[float, float, int]:
    """Seconds to build the clusters page afresh, the worst /chat response meanwhile, and the
    number of clusters shown in all."""
    worst = 0.0
    done = asyncio.Event()

    async def probe() -> None:
        nonlocal worst
        async with aiohttp.ClientSession() as http:
            while not done.is_set():
                started = time.perf_counter()
                async with http.get(staff.base + "/chat") as response:
                    await response.read()
                worst = max(worst, time.perf_counter() - started)
                await asyncio.sleep(0.01)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.3)
    worst = 0.0
    status, took = await staff.get("/admin/unanswered?days=30&fresh=1")
    done.set()
    await prober
    assert status == 200, staff.page[:300]
    total = re.search(r"共 (\d+) 组", staff.page)
    return took, worst, int(total.group(1)) if total else -1


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite+aiosqlite:///{folder}/bench.db"
        started = time.perf_counter()
        await prepare(database_url, args.entries, args.questions)
        print(
            f"prepared {args.entries} entries, {args.questions} questions "
            f"in {time.perf_counter() - started:.0f} s"
        )
        port = _free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "MINZHENG_DATABASE_URL": database_url,
            "MINZHENG_HTTP_PORT": str(port),
            "MINZHENG_LOG_LEVEL": "WARNING",
        }
        minzheng = str(Path(sys.executable).with_name("minzheng"))
        process = await asyncio.create_subprocess_exec(minzheng, "serve", cwd=folder, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            started = time.perf_counter()
            await wait_ready(base)
            print(
                f"server ready (index of {args.entries} entries) in "
                f"{time.perf_counter() - started:.1f} s"
            )
            editor, reviewer = Staff(base), Staff(base)
            await editor.sign_in("编辑甲")
            await reviewer.sign_in("审核乙")
            rng = random.Random(3)
            lists, searches = [], []
            words = ["助餐", "低保", "结婚", "轮椅", "养老", "殡葬", "synthetic-12", "补贴", "证明"]
            for _ in range(args.requests):
                _, took = await editor.get(f"/admin/kb?page={rng.randint(1, 200)}")
                lists.append(took)
                _, took = await editor.get(f"/admin/kb?q={rng.choice(words)}")
                searches.append(took)
            publishes = [await publish_once(editor, reviewer, f"第{n}次更正") for n in range(1, 4)]
            cluster_s, worst_probe, clusters = await clustering_under_probe(editor)
            await editor.http.close()
            await reviewer.http.close()
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()

    def row(name: str, values: list[float]) -> str:
        ms = [v * 1000 for v in values]
        return (
            f"{name:<34} p50 {statistics.median(ms):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms"
            f"   max {max(ms):7.1f} ms"
        )

    print()
    print(f"knowledge base of {args.entries} entries, {args.requests} requests each:")
    print(row("list page (/admin/kb?page=N)", lists))
    print(row("search (/admin/kb?q=word)", searches))
    print("publish → bot answers with it:    " + ", ".join(f"{s:.2f} s" for s in publishes))
    print(
        f"clusters of {args.questions} logged questions: {cluster_s:.2f} s for the page "
        f"({clusters} clusters); worst /chat response meanwhile {worst_probe * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
