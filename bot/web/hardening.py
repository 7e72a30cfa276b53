"""What every response carries, whatever route made it, and how broken requests are reported.

- Headers that keep browsers from guessing types, leaking addresses or caching personal data,
  and that allow geolocation only on the resident chat page.
- ``Server`` names no versions.
- 404 and 405 under ``/api`` and ``/admin`` answer in Chinese (JSON for the API, a page for the
  console) instead of aiohttp's English text.
- A malformed HTTP request (a scanner, a broken client) is one log line, not a traceback.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web, web_response
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from bot.web.body import bad_request

SERVER = "minzheng"
# Routes whose answers hold what a resident or staff member said or may see.
_PRIVATE_PREFIXES = ("/api/chat", "/api/ask", "/admin", "/telegram")
_NOT_FOUND = "没有这个地址。请检查网址是否输入正确。"
_NOT_ALLOWED = "这个地址不支持这种请求方式。"


async def secure_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare``: set on every response, errors and static files included."""
    headers = response.headers
    headers["Server"] = SERVER
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    geolocation = "(self)" if request.path == "/chat" else "()"
    headers.setdefault(
        "Permissions-Policy", f"geolocation={geolocation}, camera=(), microphone=(), payment=()"
    )
    if request.path.startswith(_PRIVATE_PREFIXES):
        headers["Cache-Control"] = "no-store"


def _console_page(status: int, message: str) -> web.Response:
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{status} · 松江民政助手</title></head>"
        '<body style="font: 20px/1.6 sans-serif; max-width: 40em; margin: 2em auto; '
        'padding: 0 1em">'
        f"<main><h1>{html.escape(message)}</h1>"
        '<p><a href="/admin/">回到工作台首页</a></p></main></body></html>'
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


@web.middleware
async def chinese_routing_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The router's own 404 and 405 (no route matched), in Chinese for residents and staff."""
    routing_error = request.match_info.http_exception
    if routing_error is None or routing_error.status not in (404, 405):
        return await handler(request)
    message = _NOT_FOUND if routing_error.status == 404 else _NOT_ALLOWED
    if request.path.startswith("/api"):
        response = bad_request(message, routing_error.status, error="not_found")
        if routing_error.status == 405:
            response = bad_request(message, 405, error="method_not_allowed")
    elif request.path.startswith("/admin"):
        response = _console_page(routing_error.status, message)
    else:
        return await handler(request)
    if isinstance(routing_error, web.HTTPMethodNotAllowed):
        response.headers["Allow"] = ",".join(sorted(routing_error.allowed_methods))
    return response


class OneLineForMalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse with a traceback; that is a scanner or a broken
    client, not a bug: keep one line that says what was wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "malformed HTTP request refused: %s"
            record.args = (" ".join(f"{exc.code} {exc.message}".split())[:200],)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install_process_wide() -> None:
    """What cannot be set per application: the log filter, and the ``Server`` header of the
    answers aiohttp gives before any application sees the request (a malformed request's 400),
    which ``on_response_prepare`` never reaches."""
    web_response.SERVER_SOFTWARE = SERVER
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, OneLineForMalformedRequests) for f in logger.filters):
        logger.addFilter(OneLineForMalformedRequests())
