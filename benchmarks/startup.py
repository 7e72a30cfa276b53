"""Cold start of ``minzheng serve`` to ``/healthz`` 200, and resident memory at idle.

Targets (issue: foundation): start ≤ 2 s, idle RSS ≤ 120 MB. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--telegram]

Each run starts a fresh process in a new empty folder, so it also creates the SQLite database and
applies the migrations, as a first start on a new machine would. With ``--telegram`` the runs also
start python-telegram-bot polling against a local Bot API double.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fake_bot_api import FakeBotApi


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def one_run(fake: FakeBotApi | None, idle_s: float) -> tuple[float, float, float]:
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MINZHENG_HTTP_PORT": str(port),
        "MINZHENG_LOG_LEVEL": "WARNING",
    }
    if fake is not None:
        env["MINZHENG_TELEGRAM_TOKEN"] = fake.token
        env["MINZHENG_TELEGRAM_API_BASE_URL"] = fake.base_url
    url = f"http://127.0.0.1:{port}/healthz"
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            cwd=folder,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with aiohttp.ClientSession() as session:
                while True:
                    try:
                        async with session.get(url) as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    if process.returncode is not None:
                        raise RuntimeError("serve exited during start")
                    await asyncio.sleep(0.01)
            ready = time.perf_counter() - started
            await asyncio.sleep(idle_s)
            rss = _rss_mb(process.pid)
            stop_started = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            await process.wait()
            stopped = time.perf_counter() - stop_started
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return ready, rss, stopped


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before RSS")
    parser.add_argument("--telegram", action="store_true", help="also run Telegram polling")
    args = parser.parse_args()
    fake = None
    if args.telegram:
        fake = FakeBotApi()
        await fake.start()
    try:
        results = [await one_run(fake, args.idle) for _ in range(args.runs)]
    finally:
        if fake is not None:
            await fake.stop()
    starts = [r[0] for r in results]
    rss = [r[1] for r in results]
    stops = [r[2] for r in results]
    mode = "web + Telegram polling" if args.telegram else "web only (Telegram off)"
    print(f"minzheng serve, {mode}, {args.runs} cold starts on {os.cpu_count()} cores")
    print(
        f"  start to /healthz 200: median {statistics.median(starts):.2f} s, "
        f"max {max(starts):.2f} s (target <= 2 s)"
    )
    print(
        f"  RSS at idle after {args.idle:.0f} s: median {statistics.median(rss):.1f} MB, "
        f"max {max(rss):.1f} MB (target <= 120 MB)"
    )
    print(f"  SIGTERM to exit: median {statistics.median(stops):.2f} s, max {max(stops):.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
