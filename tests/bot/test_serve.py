"""``minzheng serve`` as an operator runs it: a real process, real HTTP, real signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.fake_bot_api import FakeBotApi


class ServeProcess:
    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def records(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    async def wait_for_record(self, message: str, timeout: float = 15.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for record in self.records():
                    if record["msg"] == message:
                        return record
                if self.process.returncode is not None:
                    raise AssertionError(f"serve exited early:\n{self.log_text()}")
                await asyncio.sleep(0.05)

    async def stop(self) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout=15)
        return code, time.monotonic() - started


@pytest.fixture
async def start_serve(tmp_path: Path) -> AsyncIterator[Any]:
    processes: list[asyncio.subprocess.Process] = []

    async def start(**env: str) -> ServeProcess:
        log_path = tmp_path / f"serve-{len(processes)}.log"
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "MINZHENG_HTTP_PORT": "0",
            "MINZHENG_LOG_FORMAT": "json",
            **env,
        }
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "serve",
                cwd=tmp_path,
                env=full_env,
                stdout=log,
                stderr=log,
            )
        processes.append(process)
        return ServeProcess(process, log_path)

    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_serve_answers_health_and_metrics_then_stops_cleanly_on_sigterm(
    start_serve: Any, tmp_path: Path
) -> None:
    serve = await start_serve()
    url = (await serve.wait_for_record("serving"))["url"]
    await serve.wait_for_record("database ready")
    status, body = await _get(url + "healthz")
    assert (status, json.loads(body)["status"]) == (200, "ok")
    status, body = await _get(url + "metrics")
    assert status == 200
    assert "minzheng_http_requests_total" in body
    # The default SQLite database was created under var/, with the generated secret key.
    assert (tmp_path / "var" / "minzheng.db").exists()
    assert (tmp_path / "var" / "secret_key").exists()
    code, took = await serve.stop()
    assert code == 0, serve.log_text()
    assert took < 5
    assert serve.records()[-1]["msg"] == "stopped"


async def test_a_first_start_on_an_empty_database_loads_the_shipped_content(
    start_serve: Any,
) -> None:
    """``minzheng serve`` alone (as the container runs it), no ``seed`` before: the shipped
    knowledge and the sample directory are loaded, and a resident's question is answered."""
    serve = await start_serve()
    url = (await serve.wait_for_record("serving"))["url"]
    loaded = await serve.wait_for_record("empty knowledge base: loaded the shipped content")
    assert loaded["entries_created"]
    places = await serve.wait_for_record("empty directory: loaded the sample data")
    assert places["services_created"]
    async with asyncio.timeout(30):
        while True:
            async with (
                aiohttp.ClientSession() as session,
                session.post(url + "api/ask", json={"question": "低保怎么申请"}) as response,
            ):
                answer = await response.json()
            if response.status == 200 and not answer["fallback"]:
                break
            await asyncio.sleep(0.2)
    assert "dibao" in answer["entry_id"]
    code, _ = await serve.stop()
    assert code == 0
    assert not [r for r in serve.records() if r["level"] in ("error", "critical")], serve.log_text()


async def test_serve_with_telegram_polling_stops_within_five_seconds(
    start_serve: Any, fake_bot_api: FakeBotApi
) -> None:
    serve = await start_serve(
        MINZHENG_TELEGRAM_TOKEN=fake_bot_api.token,
        MINZHENG_TELEGRAM_API_BASE_URL=fake_bot_api.base_url,
    )
    await serve.wait_for_record("Telegram on")
    fake_bot_api.push_text(5151, "/start")
    reply = await fake_bot_api.wait_for_message(5151)
    assert "松江民政助手" in reply["text"]
    # Let a long poll be in flight when the signal comes (the double records a call when it
    # ends, so the poll after the reply is seen by what is in flight).
    async with asyncio.timeout(10):
        while fake_bot_api.in_flight < 1:
            await asyncio.sleep(0.02)
    code, took = await serve.stop()
    assert code == 0, serve.log_text()
    assert took < 5


async def test_serve_without_token_says_telegram_is_off(start_serve: Any) -> None:
    serve = await start_serve()
    await serve.wait_for_record("serving")
    assert any("Telegram is off" in record["msg"] for record in serve.records())
    code, _ = await serve.stop()
    assert code == 0


async def test_port_in_use_is_named_and_nothing_starts(start_serve: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = await start_serve(MINZHENG_HTTP_PORT=str(port))
        code = await asyncio.wait_for(serve.process.wait(), timeout=15)
    assert code == 1
    text = serve.log_text()
    assert f"port {port}" in text
    assert "already in use" in text
    assert "Traceback" not in text


async def test_unreachable_database_gives_503_and_retries_without_crashing(
    start_serve: Any,
) -> None:
    serve = await start_serve(
        MINZHENG_DATABASE_URL="postgresql+asyncpg://app:pw@127.0.0.1:1/minzheng"
    )
    url = (await serve.wait_for_record("serving"))["url"]
    first = await serve.wait_for_record("database unreachable or migration failed; retrying")
    assert first["attempt"] == 1
    assert "pw" not in first["database"]
    status, body = await _get(url + "healthz")
    assert status == 503
    assert json.loads(body)["database"] == "unreachable"
    async with asyncio.timeout(10):
        while len([r for r in serve.records() if r.get("attempt")]) < 2:
            await asyncio.sleep(0.1)
    assert serve.process.returncode is None
    code, took = await serve.stop()
    assert code == 0
    assert took < 5
