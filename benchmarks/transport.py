"""CPU a Bot API call costs the bot: PTB's HTTPXRequest against the service's AiohttpRequest.

    .venv/bin/python benchmarks/transport.py [--calls 3000] [--rounds 3]

Each figure is one ``bot.send_message`` with a typical answer (about 300 Chinese characters,
HTML, a six-button inline keyboard) sent to the Bot API double, and PTB parsing the message it
returns. The double runs in this process; the bot runs in a child process of its own, so that
only the bot's work is counted (its process CPU time over the calls, divided by the calls). Two
ways of calling: one call at a time (as a bare PTB bot does, one update after another) and 32
calls in flight (as the service does in a burst, at its 32 send slots). Kinds alternate within
each round. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fake_bot_api import FakeBotApi  # noqa: E402

KINDS = ("httpx", "aiohttp")
IN_FLIGHT = (1, 32)
TEXT = (
    "<b>最低生活保障（低保）怎么申请</b>\n"
    + "由申请人向户籍所在地的街道（镇）社区事务受理服务中心提出书面申请，"
    "提交身份证、户口簿和家庭收入、财产情况的材料。"
    * 5
    + "\n来源：松江区民政局 · 最后核对 2026-11-01"
)


async def child(base_url: str, token: str, kind: str, in_flight: int, calls: int) -> None:
    from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
    from telegram.constants import ParseMode
    from telegram.request import BaseRequest, HTTPXRequest

    from bot.telegram.transport import AiohttpRequest

    request: BaseRequest = (
        AiohttpRequest() if kind == "aiohttp" else HTTPXRequest(connection_pool_size=in_flight)
    )
    labels = ["有帮助", "没帮助", "所需材料", "办理地点", "申请条件", "相关问题"]
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=f"x:{label}") for label in pair]
            for pair in zip(labels[::2], labels[1::2], strict=True)
        ]
    )
    slots = asyncio.Semaphore(in_flight)

    async def send(n: int) -> None:
        async with slots:
            await bot.send_message(
                1000 + n % 200, TEXT, parse_mode=ParseMode.HTML, reply_markup=keyboard
            )

    async with Bot(token, base_url=base_url, request=request) as bot:
        await asyncio.gather(*(send(n) for n in range(200)))  # warm connections and caches
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(send(n) for n in range(calls)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({"cpu_ms": cpu / calls * 1000, "calls_per_s": calls / wall}))


async def measure(api: FakeBotApi, kind: str, in_flight: int, calls: int) -> dict[str, float]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        kind,
        str(in_flight),
        str(calls),
        api.base_url,
        api.token,
        stdout=subprocess.PIPE,
    )
    out, _ = await process.communicate()
    api.calls.clear()
    api.messages.clear()
    result: dict[str, float] = json.loads(out)
    return result


async def main(calls: int, rounds: int) -> None:
    api = FakeBotApi()
    await api.start()
    figures: dict[tuple[str, int], list[dict[str, float]]] = {}
    try:
        for round_ in range(rounds):
            for in_flight in IN_FLIGHT:
                kinds = KINDS if round_ % 2 == 0 else KINDS[::-1]
                for kind in kinds:
                    result = await measure(api, kind, in_flight, calls)
                    figures.setdefault((kind, in_flight), []).append(result)
                    print(
                        f"round {round_ + 1}  {kind:8} {in_flight:2} in flight: "
                        f"{result['cpu_ms']:.3f} ms CPU a call, "
                        f"{result['calls_per_s']:,.0f} calls/s"
                    )
    finally:
        await api.stop()
    print(f"\nmedian of {rounds} rounds, {calls} calls each, ms of the bot's CPU a call:")
    for in_flight in IN_FLIGHT:
        row = {k: statistics.median(r["cpu_ms"] for r in figures[(k, in_flight)]) for k in KINDS}
        print(
            f"  {in_flight:2} in flight: httpx {row['httpx']:.3f}  aiohttp {row['aiohttp']:.3f}"
            f"  ({row['httpx'] / row['aiohttp']:.1f}x)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, in_flight, calls, base_url, token = sys.argv[2:7]
        asyncio.run(child(base_url, token, kind, int(in_flight), int(calls)))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.calls, options.rounds))
