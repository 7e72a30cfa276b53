"""Relay latency with 50 escalations open at once, through the Bot API double.

    .venv/bin/python benchmarks/escalations.py [--cases 50] [--messages 1000] [--rate 20]

Target (issue 12): from one side's message to its delivery on the other side, p99 <= 200 ms;
nothing lost or duplicated. Prints figures; asserts nothing.

How it is measured:
- ``minzheng serve`` runs alone in its own process (SQLite, polling, the advisors' forum group
  at the double); this process runs the double and plays the residents and the advisors, so the
  double's work is not counted against the service.
- Before the service starts: ``minzheng seed``, then one advisor account per case, each linked to
  its own Telegram id. Then ``--cases`` residents each ask for an advisor and say what they need;
  each case gets its topic and card, and its advisor claims it.
- Then ``--messages`` messages at a steady ``--rate`` a second (an open loop: message i is due at
  t0 + i/rate and timed from when it was pushed), alternating: a resident writes (every tenth a
  photo with a caption, which the service copies with copyMessage), then an advisor answers in
  the topic. Each carries a unique token; its latency runs from the moment the update is queued
  in the double (waking the service's pending getUpdates) to the moment the double has read the
  service's sendMessage or copyMessage carrying the token to the other side.
- Telegram lets a bot send at most 20 messages a minute into one group, and the service's rate
  limiter (``bot.telegram.ratelimit``) keeps to it: every card, every resident's message relayed
  and every alert is one of them, so 50 cases opened at once would take five minutes to get
  their cards, and the residents' side could relay only 20 messages a minute in all. That is a
  limit of Telegram, not of the relay. To measure the relay itself, the service runs here with
  the group limit lifted (``--role serve``: ``minzheng serve`` with ``group_max_rate=0``; the
  overall limit stays), unless ``--telegram-limits`` is given, which keeps the limiter as
  shipped: then use few cases and a low rate (e.g. ``--cases 5 --messages 20 --rate 0.3``).
- The rate is below ``MINZHENG_SEND_RATE`` (25 a second for all chats together, Telegram's
  limit being about 30): every relayed message is one call to Telegram, so a faster rate would
  only measure the rate limiter's queue.
- Lost: a token never delivered within 30 s of the last push. Duplicated: a token delivered more
  than once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bot import (  # noqa: E402
    MINZHENG,
    Proc,
    free_port,
    percentile,
    service_env,
    wait_ask_ready,
)
from bot.conversation import texts  # noqa: E402
from tests.support.fake_bot_api import FakeBotApi  # noqa: E402

GROUP = -1005000000001
RESIDENT_BASE = 810_000_000
ADVISOR_BASE = 820_000_000
TARGET_P99_MS = 200.0
SCRIPT = str(Path(__file__).resolve())


async def prepare_database(folder: Path, env: dict[str, str], cases: int) -> None:
    seeded = await asyncio.create_subprocess_exec(
        MINZHENG, "seed", cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await seeded.communicate()
    if seeded.returncode != 0:
        raise RuntimeError(f"minzheng seed failed: {err.decode(errors='replace')}")
    from bot.console.models import Role, StaffUser
    from bot.database import engine_context, session_factory

    async with (
        engine_context(env["MINZHENG_DATABASE_URL"]) as engine,
        session_factory(engine)() as session,
        session.begin(),
    ):
        for n in range(cases):
            session.add(
                StaffUser(
                    name=f"顾问{n:03d}",
                    role=Role.advisor,
                    password_hash="not-used",
                    telegram_user_id=ADVISOR_BASE + n,
                )
            )


async def until(predicate: Any, timeout: float, proc: Proc, what: str) -> Any:
    try:
        async with asyncio.timeout(timeout):
            while not (value := predicate()):
                proc.check_alive()
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise RuntimeError(f"timed out waiting for {what}") from None
    return value


def buttons(params: dict[str, Any]) -> dict[str, str]:
    markup = params.get("reply_markup") or {}
    markup = json.loads(markup) if isinstance(markup, str) else markup
    return {
        b["text"]: b.get("callback_data", "")
        for row in markup.get("inline_keyboard", [])
        for b in row
    }


async def open_cases(fake: FakeBotApi, proc: Proc, cases: int) -> dict[int, int]:
    """Every resident asks for an advisor; each advisor claims one case. Resident → thread."""
    for n in range(cases):
        fake.push_text(RESIDENT_BASE + n, texts.ADVISOR)
    await until(
        lambda: all(fake.messages_to(RESIDENT_BASE + n) for n in range(cases)), 60, proc, "prompts"
    )
    for n in range(cases):
        fake.push_text(RESIDENT_BASE + n, f"第{n}位居民：想找人帮忙做饭")
    await until(lambda: len(fake.topics) >= cases, 120, proc, "the cases' topics")
    threads: dict[int, int] = {}
    for (_, thread), _topic in list(fake.topics.items()):
        card = await until(lambda t=thread: fake.thread_messages(GROUP, t), 60, proc, "a card")
        resident = next(n for n in range(cases) if f"第{n}位居民：" in str(card[0].get("text", "")))
        threads[resident] = thread
        fake.push_group_button(GROUP, ADVISOR_BASE + resident, buttons(card[0])["认领"])
    await until(
        lambda: all(len(fake.messages_to(RESIDENT_BASE + n)) >= 3 for n in range(cases)),
        120,
        proc,
        "the claims",
    )
    return threads


async def steady(
    fake: FakeBotApi, proc: Proc, threads: dict[int, int], messages: int, rate: float
) -> dict[str, Any]:
    pushed: dict[str, tuple[str, float]] = {}
    start = time.monotonic()
    residents = sorted(threads)
    for i in range(messages):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        resident = residents[(i // 2) % len(residents)]
        token = f"T{i:06d}"
        if i % 2 == 0:
            if (i // 2) % 10 == 0:
                fake.push_photo(RESIDENT_BASE + resident, caption=token)
            else:
                fake.push_text(RESIDENT_BASE + resident, f"{token} 我想问一下")
            pushed[token] = ("resident→advisor", time.monotonic())
        else:
            fake.push_group_text(
                GROUP, ADVISOR_BASE + resident, f"{token} 好的", thread_id=threads[resident]
            )
            pushed[token] = ("advisor→resident", time.monotonic())
    last_push = time.monotonic()
    seen: Counter[str] = Counter()
    delivered: dict[str, float] = {}
    position = 0

    def scan() -> bool:
        nonlocal position
        calls = fake.calls
        while position < len(calls):
            call = calls[position]
            position += 1
            if call.method not in ("sendMessage", "copyMessage") or call.error:
                continue
            text = str(call.params.get("text") or call.params.get("caption") or "")
            for word in text.replace("：", " ").split():
                if word in pushed:
                    seen[word] += 1
                    delivered.setdefault(word, call.at)
        return len(delivered) >= len(pushed)

    with contextlib.suppress(RuntimeError):  # what never came is counted as lost
        await until(scan, 30 + messages / rate, proc, "the deliveries")
    elapsed = last_push - start
    by_way: dict[str, list[float]] = {}
    for token, (way, at) in pushed.items():
        if token in delivered:
            by_way.setdefault(way, []).append((delivered[token] - at) * 1000)
    return {
        "pushed": len(pushed),
        "rate": len(pushed) / elapsed if elapsed else 0.0,
        "lost": len(pushed) - len(delivered),
        "duplicated": sum(1 for count in seen.values() if count > 1),
        "latency_ms": by_way,
    }


async def main(args: argparse.Namespace) -> None:
    fake = FakeBotApi()
    await fake.start()
    fake.add_group(GROUP, forum=True)
    with tempfile.TemporaryDirectory(prefix="minzheng-escalations-") as tmp:
        folder = Path(tmp)
        port = free_port()
        env = service_env(
            folder,
            port,
            {
                "MINZHENG_TELEGRAM_TOKEN": fake.token,
                "MINZHENG_TELEGRAM_API_BASE_URL": fake.base_url,
                "MINZHENG_ADVISOR_CHAT_ID": str(GROUP),
                "MINZHENG_ADVISOR_HOURS": "00:00-23:59",
            },
        )
        await prepare_database(folder, env, args.cases)
        log = folder / "serve.log"
        command = [MINZHENG, "serve"]
        if not args.telegram_limits:
            command = [sys.executable, SCRIPT, "--role", "serve"]
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=folder, env=env, stdout=sink, stderr=sink
            )
        proc = Proc(process, log, "minzheng serve")
        try:
            await wait_ask_ready(proc, port)
            await until(
                lambda: "advisors' group on" in log.read_text(errors="replace"),
                60,
                proc,
                "the advisors' group",
            )
            opened = time.monotonic()
            threads = await open_cases(fake, proc, args.cases)
            print(
                f"{args.cases} cases opened, given topics and claimed in "
                f"{time.monotonic() - opened:.1f} s"
            )
            figures = await steady(fake, proc, threads, args.messages, args.rate)
        finally:
            await proc.stop()
            errors = proc.errors()
        await fake.stop()
    print(
        f"{figures['pushed']} messages at {figures['rate']:.1f}/s with {args.cases} cases open: "
        f"lost {figures['lost']}, duplicated {figures['duplicated']}"
    )
    everything: list[float] = []
    for way, values in sorted(figures["latency_ms"].items()):
        everything += values
        print(
            f"  {way}: n={len(values)} p50 {percentile(values, 50):.1f} ms, "
            f"p95 {percentile(values, 95):.1f} ms, p99 {percentile(values, 99):.1f} ms, "
            f"max {max(values):.1f} ms"
        )
    p99 = percentile(everything, 99)
    ok = p99 <= TARGET_P99_MS and figures["lost"] == 0 and figures["duplicated"] == 0
    print(
        f"relay p99 {p99:.1f} ms (target <= {TARGET_P99_MS:.0f} ms), nothing lost or doubled: "
        f"{'met' if ok else 'NOT met'}"
    )
    if errors:
        print(f"errors in the service's log: {dict(errors)}")


def role_serve() -> None:
    """``minzheng serve`` with Telegram's 20-a-minute group limit lifted from its rate limiter
    (the overall limit, MINZHENG_SEND_RATE, and the retries stay)."""
    import bot.telegram.lifecycle as lifecycle
    from bot.cli import main as minzheng
    from bot.telegram.ratelimit import SendBudget, SharedRateLimiter

    def without_group_limit(budget: SendBudget, max_retries: int) -> SharedRateLimiter:
        return SharedRateLimiter(budget, max_retries, group_per_minute=None)

    vars(lifecycle)["SharedRateLimiter"] = without_group_limit
    sys.exit(minzheng(["serve"]))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--telegram-limits", action="store_true")
    parser.add_argument("--role", choices=["serve"], help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.role == "serve":
        role_serve()
    asyncio.run(main(arguments))
