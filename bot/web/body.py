"""Reading residents' JSON bodies: whole, bounded, and never a 500 whatever arrives.

A body may come in several TCP writes or chunked; ``StreamReader.read(n)`` returns only what has
arrived so far, so the body is read to its end (or past the limit). Parsing refuses what would
crash the standard library's ``json`` (nesting deep enough to recurse out, integer literals longer
than Python converts) with a plain message, and text is cleaned of what cannot be encoded again
(lone surrogates) or stored (NUL).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

TOO_LONG = "消息太长了，请用一两句话说明您想问的事。"
NOT_JSON = '请求格式不对：请发送 JSON，例如 {"question": "怎么申请低保"}'
TOO_DEEP = "请求格式不对：内容嵌套太深。"

# Lone UTF-16 surrogates (from "\\ud800" escapes) and NUL cannot be sent back as UTF-8 or stored
# by PostgreSQL; other control characters are noise in a question.
_UNSTORABLE = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# json nests by recursion: far below Python's limit, and far above any real request.
MAX_DEPTH = 32


class BadBody(Exception):
    """The body cannot be used; ``message`` says why in the resident's language."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def clean_text(text: str) -> str:
    """The text with lone surrogates, NUL and other control characters (not newlines or tabs)
    taken out: what remains can be encoded, stored and shown."""
    return _UNSTORABLE.sub("", text)


async def read_bounded(request: web.Request, limit: int) -> bytes:
    """The whole body, however it arrives; ``BadBody`` (413) once it passes ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise BadBody(TOO_LONG, 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise BadBody(TOO_LONG, 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _depth(raw: str) -> int:
    """How deeply brackets nest outside strings (a cheap scan before ``json.loads`` recurses)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json(raw: bytes, *, not_json: str = NOT_JSON) -> Any:
    """The JSON value of a body; ``BadBody`` with a plain message for anything unusable."""
    text = raw.decode("utf-8", errors="replace")
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise BadBody(TOO_DEEP)
    try:
        return json.loads(text or "null")
    except (ValueError, RecursionError):
        # ValueError covers malformed JSON and integers past Python's digit limit.
        raise BadBody(not_json) from None


async def read_json(request: web.Request, limit: int, *, not_json: str = NOT_JSON) -> Any:
    return parse_json(await read_bounded(request, limit), not_json=not_json)


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def bad_request(message: str, status: int = 400, error: str = "bad_request") -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status, dumps=dumps)
