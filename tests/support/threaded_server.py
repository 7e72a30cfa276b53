"""An application served from its own thread and event loop, for tests that call it with plain
blocking clients (hypothesis drives synchronous test functions)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class ThreadedServer:
    def __init__(
        self,
        app: web.Application,
        ready: Callable[[web.Application], Awaitable[None]] | None = None,
    ) -> None:
        self._app = app
        self._ready = ready
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="threaded-server", daemon=True)
        self.port = 0

    @property
    def app(self) -> web.Application:
        return self._app

    def run_coroutine(self, coroutine: Awaitable[T], timeout: float = 30) -> T:
        """Run a coroutine on the server's loop (to read its database, say) and wait for it."""

        async def wrapped() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result(timeout)

    def start(self, timeout: float = 60) -> str:
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("the threaded server did not start")
        if self._error is not None:
            raise self._error
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._app, access_log=None)
        try:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            sockets: Any = getattr(site._server, "sockets", None)
            self.port = sockets[0].getsockname()[1]
            if self._ready is not None:
                await self._ready(self._app)
        except BaseException as exc:
            self._error = exc
            self._started.set()
            await runner.cleanup()
            return
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()
