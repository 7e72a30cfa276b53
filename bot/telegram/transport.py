"""python-telegram-bot's HTTP requests over aiohttp's client instead of httpx.

A sendMessage with a typical answer (HTML, a six-button keyboard), and PTB reading the message it
returns, cost the bot 1.7–2.2 ms of CPU through PTB's ``HTTPXRequest`` one call at a time and
2.4–3.7 ms with 32 calls in flight (httpcore's pool matches every waiting request against every
connection and polls every idle socket each time a request starts or ends); through this class
0.8–1.0 ms and 0.63–0.75 ms (``benchmarks/transport.py``, two runs on this 2-core machine). The
bot makes one or two such calls for every message a resident sends.

PTB documents ``BaseRequest`` as the place to plug in another HTTP library: it keeps the Bot
API's semantics (status codes to ``RetryAfter``, ``Forbidden``, ``BadRequest``…, JSON parsing),
and this class only moves bytes. The service's web server is aiohttp already.

Bodies are JSON (the Bot API takes ``application/json``), which is cheaper to build than the
url-encoded form httpx sends; calls that upload a file go as ``multipart/form-data``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# Bot API calls in flight at once. At Telegram's 30 messages/s and a few hundred milliseconds a
# call, about ten are in flight; the rest wait their turn.
SEND_SLOTS = 32

# PTB's own defaults for HTTPXRequest, in seconds.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0

_JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": BaseRequest.USER_AGENT}
_FORM_HEADERS = {"User-Agent": BaseRequest.USER_AGENT}


class AiohttpRequest(BaseRequest):
    """A ``telegram.request.BaseRequest`` on an ``aiohttp.ClientSession``.

    At most ``slots`` calls are on the wire at once, each on its own keep-alive connection;
    further calls wait on a semaphore, in order and untimed (the rate limiter in front of the bot
    already paces them), so a burst is queued rather than failed with a pool timeout.

    Timeouts: ``connect_timeout`` bounds opening a connection, ``read_timeout`` the wait for
    each chunk of the answer (PTB passes the long poll's length plus this for getUpdates).
    aiohttp has no write timeout; PTB's ``write_timeout`` is accepted and ignored, as the bodies
    the service sends are a few kilobytes.
    """

    def __init__(
        self,
        slots: int = SEND_SLOTS,
        connect_timeout: float | None = CONNECT_TIMEOUT_S,
        read_timeout: float | None = READ_TIMEOUT_S,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self._slots_count = slots
        self._slots = asyncio.Semaphore(slots)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._timeout = self._client_timeout(read_timeout, connect_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        # A session belongs to the running loop, so it is made here, not in __init__.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._slots_count),
                timeout=self._timeout,
                # The Bot API sets no cookies worth keeping.
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    @staticmethod
    def _client_timeout(read: float | None, connect: float | None) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        timeout = (
            self._timeout
            if read == self._read_timeout and connect == self._connect_timeout
            else self._client_timeout(read, connect)
        )
        data: bytes | aiohttp.FormData | None = None
        headers = _FORM_HEADERS
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                data = _form(request_data.json_parameters, files)
            else:
                # ``parameters`` are JSON-ready values; one dumps for the whole body.
                data = json.dumps(request_data.parameters, ensure_ascii=False).encode()
                headers = _JSON_HEADERS
        try:
            async with (
                self._slots,
                session.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    timeout=timeout,
                    proxy=self._proxy_for(url),
                ) as response,
            ):
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut(f"Timed out: {type(exc).__name__}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _proxy_for(self, url: str) -> str | None:
        """HTTP(S)_PROXY and NO_PROXY from the environment, as PTB's httpx request honours
        them: where Telegram is reachable only through a proxy, setting it is enough. Looked up
        once per host (aiohttp's ``trust_env`` would read the environment and ~/.netrc on every
        call)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = not parts.hostname or proxy_bypass(parts.hostname)
            self._proxies[key] = None if bypass else getproxies().get(parts.scheme)
        return self._proxies[key]


def _form(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, field in files.items():
        filename, content, mimetype = field
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
