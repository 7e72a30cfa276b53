"""Run the aiohttp application until SIGTERM or SIGINT, then shut down within a few seconds."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket

from aiohttp import web

from bot.settings import Settings
from bot.web.app import create_app

log = logging.getLogger(__name__)

# Open requests get this long to finish after a stop signal; the whole stop stays under 5 s.
SHUTDOWN_TIMEOUT_S = 2.0


class PortInUse(Exception):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use: stop the other program or set "
            "MINZHENG_HTTP_PORT to a free port"
        )


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket first, so a busy port is reported before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    sock = bind(settings.http_host, settings.http_port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(
        create_app(settings),
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        access_log=None,
    )
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
        log.info("serving", extra={"url": _url(sock)})
        await stop.wait()
        log.info("stopping")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
        sock.close()
    log.info("stopped")


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
