"""Reminders' figures (issue 13), printed, never asserted.

1. Evaluation: ``--residents`` (100,000) residents with profiles: all chose 祭扫, three in ten
   辅具, half 津贴, four in ten 为老活动; a rental due date for one in five, a birth month for
   all, towns in turn. Six active rules, all due on the same morning (a heavy day): a campaign
   to every 祭扫 subscriber, a town campaign with an age band, due dates, an age milestone, a
   change notice to every 津贴 subscriber, a weekly crontab to every 辅具 subscriber.
   Timed: ``jobs.evaluate.run_due`` evaluating every rule and queueing what is due, in one
   transaction, and the same evaluation again (nothing new to queue).
2. A campaign to ``--campaign`` (10,000) residents through the Bot API double, ``minzheng
   serve`` as a process at ``MINZHENG_SEND_RATE=--rate`` (30). The double refuses with 429 what
   goes over ``--rate`` messages in any second, as Telegram would. Meanwhile other residents ask
   questions (``--questions-per-s``); their reply time is measured from the update being put in
   the double to the reply arriving there. Reported: reminders per second over the campaign,
   429s given and left unretried, duplicates and residents missed, the replies' p50/p99.
3. With ``--crash``: the same campaign, ``serve`` killed with SIGKILL a third of the way
   through while sends are in flight at the double (unanswered), then started again. Reported:
   duplicates and residents missed after the restart.

Targets: evaluation ≤ 10 s; ≥ 0.95 × rate reminders/s; no 429 left unretried; 0 duplicates;
reply p99 ≤ 100 ms during the campaign.

    .venv/bin/python benchmarks/reminders.py [--residents N] [--campaign N] [--crash]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from benchmarks.bot import MINZHENG, Proc, free_port, percentile, service_env  # noqa: E402
from bot.database import engine_context, session_factory  # noqa: E402
from bot.keyring import KeyRing  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from directory.places import TOWNS  # noqa: E402
from jobs import evaluate, outbox  # noqa: E402
from jobs.models import (  # noqa: E402
    ChangeNotice,
    ReminderFact,
    ReminderRule,
    ReminderSubscription,
    RuleState,
)
from tests.support.fake_bot_api import FakeBotApi  # noqa: E402
from tests.support.reminders import add_campaign, seed_recipients  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
SECRET = "benchmark-secret-key-that-is-long-enough-0123456789"
TEXT = "冬至祭扫请提前预约，错峰出行。"
QUESTIONS = ["低保怎么申请", "老年助餐点在哪里", "轮椅怎么租", "结婚登记要带什么", "临时救助"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rule(**values: Any) -> ReminderRule:
    return ReminderRule(state=RuleState.active, created_by="bench", updated_by="bench", **values)


async def evaluation(residents: int) -> None:
    now = datetime.now(TZ).replace(hour=10, minute=30)
    today = now.date()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        async with engine_context(url) as engine:
            await upgrade(engine)
            sessions = session_factory(engine)
            started = time.perf_counter()
            chats = list(range(1, residents + 1))
            shuffled = random.Random(1)
            keys: list[str] = []
            for town, chunk in zip(itertools.cycle(TOWNS), _chunks(chats, 5000), strict=False):
                year = shuffled.randint(1930, 1975)
                keys += await seed_recipients(
                    sessions,
                    KeyRing(SECRET),
                    chunk,
                    topic="memorial",
                    now=now,
                    town=town.name,
                    birth=(year, now.month),
                )
            async with sessions() as session, session.begin():
                # Who chose what: everyone 祭扫, three in ten 辅具, half 津贴, four in ten 为老活动.
                for topic, share in (("rental", 0.3), ("allowance", 0.5), ("elderly", 0.4)):
                    chosen = [k for n, k in enumerate(keys) if (n * 7919 % 1000) < share * 1000]
                    await session.execute(
                        insert(ReminderSubscription),
                        [
                            {
                                "channel": "telegram",
                                "user_key": k,
                                "topic": topic,
                                "subscribed": True,
                                "changed_at": now,
                            }
                            for k in chosen
                        ],
                    )
                await session.execute(
                    insert(ReminderFact),
                    [
                        {
                            "channel": "telegram",
                            "user_key": k,
                            "kind": "rental_due",
                            "topic": "rental",
                            "due_on": today + timedelta(days=n % 7),
                            "label": "轮椅",
                            "code_id": f"c{n}",
                            "bound_at": now,
                        }
                        for n, k in enumerate(keys)
                        if n % 5 == 0
                    ],
                )
                session.add_all(
                    [
                        _rule(
                            name="冬至",
                            kind="calendar",
                            topic="memorial",
                            message=TEXT,
                            on_date=today,
                            send_at=600,
                        ),
                        _rule(
                            name="九亭重阳",
                            kind="calendar",
                            topic="elderly",
                            message="{街镇}为老活动",
                            on_date=today,
                            send_at=600,
                            towns="九亭镇 泗泾镇",
                            age_min=80,
                        ),
                        _rule(
                            name="辅具到期",
                            kind="due",
                            topic="rental",
                            message="您租的{物品}将在{到期日}到期。",
                            days_before=3,
                            fact_kind="rental_due",
                            send_at=600,
                        ),
                        _rule(
                            name="满65",
                            kind="age",
                            topic="allowance",
                            message="您满{年龄}岁了",
                            age=65,
                            send_at=600,
                        ),
                        _rule(
                            name="政策",
                            kind="change",
                            topic="allowance",
                            message="政策有更新",
                            entry_id="elder-allowance",
                        ),
                        _rule(
                            name="每周",
                            kind="calendar",
                            topic="rental",
                            message="本周辅具租赁点照常开放。",
                            cron=f"0 10 * * {today.isoweekday() % 7}",
                        ),
                    ]
                )
                session.add(
                    ChangeNotice(
                        subject="entry", ref="elder-allowance", created_by="bench", created_at=now
                    )
                )
            seeded = time.perf_counter() - started
            started = time.perf_counter()
            async with sessions() as session, session.begin():
                first = await evaluate.run_due(session, now=now, tz=TZ)
            took = time.perf_counter() - started
            started = time.perf_counter()
            async with sessions() as session:
                again = await evaluate.run_due(session, now=now, tz=TZ, dry_run=True)
            dry = time.perf_counter() - started
    print("## 1. Evaluating every rule")
    print(f"residents with profiles: {residents:,} (seeded in {seeded:.1f} s)")
    print(f"rules due now: {len(first.rules)}; reminders due: {len(first.due):,}")
    print(f"queued: {first.queued:,}")
    verdict = "met" if took <= 10 else "MISSED"
    print(f"evaluate + queue, one transaction: {took:.2f} s (target ≤ 10 s: {verdict})")
    already = sum(r.already for r in again.rules.values())
    print(f"evaluate again as a dry run (already queued: {already:,}): {dry:.2f} s")
    print(f"peak RSS of this process: {rss_mb():.0f} MB")


async def _until(what: Any, timeout: float, every: float) -> None:
    async with asyncio.timeout(timeout):
        while not (done := what()):
            await asyncio.sleep(every)
    assert done


async def _minzheng(folder: Path, env: dict[str, str], *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        MINZHENG, *args, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"minzheng {' '.join(args)} failed: {err.decode(errors='replace')}")


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Campaign:
    def __init__(self, fake: FakeBotApi, chats: list[int]) -> None:
        self.fake = fake
        self.chats = set(chats)

    def received(self) -> Counter[int]:
        return Counter(
            int(c.params["chat_id"])
            for c in self.fake.calls
            if c.method == "sendMessage"
            and c.error is None
            and c.params.get("text") == TEXT
            and int(c.params["chat_id"]) in self.chats
        )

    def send_times(self) -> list[float]:
        return sorted(
            c.at
            for c in self.fake.calls
            if c.method == "sendMessage" and c.error is None and c.params.get("text") == TEXT
        )


async def _serve(folder: Path, env: dict[str, str], name: str) -> Proc:
    log = folder / f"{name}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            MINZHENG, "serve", cwd=folder, env=env, stdout=sink, stderr=sink
        )
    return Proc(process, log, name)


async def _questions(fake: FakeBotApi, per_s: float, stop: asyncio.Event) -> list[float]:
    """Residents asking while the campaign runs; seconds from update to reply, each."""
    waits: list[float] = []
    late: list[int] = []
    chats = itertools.cycle(range(900_000, 900_050))
    texts = itertools.cycle(QUESTIONS)
    while not stop.is_set():
        chat = next(chats)
        seen = len(fake.messages_to(chat))
        pushed = time.monotonic()
        fake.push_text(chat, next(texts))

        async def answered(chat: int = chat, seen: int = seen, pushed: float = pushed) -> None:
            try:
                await _until(lambda: len(fake.messages_to(chat)) > seen, 10, 0.002)
            except TimeoutError:
                # Asked while serve was down (the crash drill): answered after the restart.
                late.append(chat)
                return
            waits.append(time.monotonic() - pushed)

        asyncio.get_running_loop().create_task(answered())
        await asyncio.sleep(1 / per_s)
    await asyncio.sleep(2)
    if late:
        print(f"questions not answered within 10 s (asked while serve was down): {len(late)}")
    return waits


async def campaign(size: int, rate: float, per_s: float, crash: bool) -> None:
    fake = FakeBotApi()
    await fake.start()
    fake.flood_limit(int(rate))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = service_env(
            folder,
            free_port(),
            {
                "MINZHENG_SECRET_KEY": SECRET,
                "MINZHENG_TELEGRAM_TOKEN": fake.token,
                "MINZHENG_TELEGRAM_API_BASE_URL": fake.base_url,
                "MINZHENG_SEND_RATE": str(rate),
            },
        )
        url = env["MINZHENG_DATABASE_URL"]
        now = datetime.now(TZ)
        chats = list(range(100_000, 100_000 + size))
        async with engine_context(url) as engine:
            await upgrade(engine)
            sessions = session_factory(engine)
            await seed_recipients(
                sessions, KeyRing(SECRET), chats, topic="memorial", now=now, quiet=(0, 0)
            )
        await _minzheng(folder, env, "seed")
        serve = await _serve(folder, env, "serve")
        await _until_polling(fake, serve)
        # Residents' questions are answered once the index is built.
        await _wait_answer(fake, serve)
        async with engine_context(url) as engine:
            await add_campaign(
                session_factory(engine), on=now.date(), topic="memorial", message=TEXT
            )
        await _minzheng(folder, env, "jobs", "run-due")
        run = Campaign(fake, chats)
        stop = asyncio.Event()
        asking = asyncio.create_task(_questions(fake, per_s, stop))
        restarted = None
        async with asyncio.timeout(size / rate * 3 + 300):
            if crash:
                while sum(run.received().values()) < size // 3:
                    serve.check_alive()
                    await asyncio.sleep(0.2)
                fake.hold()
                await _until(lambda: fake.held >= 1, 30, 0.01)
                await asyncio.sleep(0.5)
                serve.process.kill()
                await serve.process.wait()
                await _until(lambda: fake.held == 0, 10, 0.01)
                fake.release()
                killed_at = sum(run.received().values())
                restarted = await _serve(folder, env, "serve-again")
                serve = restarted
            while len(run.received()) < size:
                serve.check_alive()
                await asyncio.sleep(0.2)
        stop.set()
        waits = await asking
        await asyncio.sleep(2)
        received = run.received()
        times = run.send_times()
        async with engine_context(url) as engine, session_factory(engine)() as session:
            states = {k: v for k, v in (await outbox.counts(session)).items() if v}
        errors = serve.errors()
        await serve.stop()
    await fake.stop()
    title = (
        "## 3. Crash drill: kill -9 a third of the way, then restart"
        if crash
        else "## 2. A campaign through the double"
    )
    print(title)
    print(
        f"recipients: {size:,}; MINZHENG_SEND_RATE={rate:g}; the double refuses over {int(rate)}/s"
    )
    if crash:
        print(f"delivered before the kill: {killed_at:,}")
    elif len(times) > 1:
        span = times[-1] - times[0]
        achieved = (len(times) - 1) / span
        everything = sum(
            1
            for c in fake.calls
            if c.method == "sendMessage" and c.error is None and times[0] <= c.at <= times[-1]
        )
        total = (everything - 1) / span
        verdict = "met" if total >= 0.95 * rate else "MISSED"
        print(f"reminders/s over the campaign: {achieved:.2f}")
        print(f"all messages/s meanwhile (reminders and replies, one budget): {total:.2f}")
        print(f"target ≥ {0.95 * rate:.1f} messages/s: {verdict}")
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    print(f"duplicates: {duplicates}; residents missed: {size - len(received)}")
    failed = states.get("failed_permanent", 0)
    print(f"429s the double gave: {fake.flood_refusals}; rows failed for good: {failed}")
    print(f"outbox at the end: {states}")
    if waits:
        p50, p99 = percentile(waits, 50) * 1000, percentile(waits, 99) * 1000
        verdict = "met" if p99 <= 100 else "MISSED"
        print(f"replies during the campaign: {len(waits)}; p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        print(f"reply p99 target ≤ 100 ms: {verdict}")
    if errors:
        print(f"errors in the service's log: {dict(errors)}")


async def _until_polling(fake: FakeBotApi, proc: Proc) -> None:
    async with asyncio.timeout(90):
        while not any(c.method == "getUpdates" for c in fake.calls):
            proc.check_alive()
            await asyncio.sleep(0.05)


async def _wait_answer(fake: FakeBotApi, proc: Proc) -> None:
    chat = 899_999
    async with asyncio.timeout(120):
        while True:
            seen = len(fake.messages_to(chat))
            fake.push_text(chat, "低保怎么申请")
            for _ in range(50):
                await asyncio.sleep(0.1)
                if any(
                    "低保" in m.get("text", "") and "来源" in m.get("text", "")
                    for m in fake.messages_to(chat)[seen:]
                ):
                    return
            proc.check_alive()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--campaign", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=30.0)
    # One question a second is 86,400 a day: more than a district's residents ask.
    parser.add_argument("--questions-per-s", type=float, default=1.0)
    parser.add_argument("--crash", action="store_true", help="also run the crash drill")
    parser.add_argument("--skip-evaluation", action="store_true")
    parser.add_argument("--skip-campaign", action="store_true")
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    if not args.skip_evaluation:
        await evaluation(args.residents)
    if not args.skip_campaign:
        await campaign(args.campaign, args.rate, args.questions_per_s, crash=False)
    if args.crash:
        await campaign(args.campaign, args.rate, args.questions_per_s, crash=True)


if __name__ == "__main__":
    asyncio.run(main(parse()))
