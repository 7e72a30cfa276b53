"""The resident web chat: ``GET /chat`` (one accessible page, no external CDN or font) and
``POST /api/chat`` (the conversation core over JSON, with a signed session cookie)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import keys
from bot.conversation.messages import Action, Command, Location, Press, Reply, Text
from bot.keyring import KeyRing, Purpose
from bot.web.body import BadBody, bad_request, clean_text, dumps, read_json
from bot.web.origin import CROSS_SITE, same_origin
from directory.service import DirectoryNotReady
from knowledge.service import KnowledgeNotReady

PAGE = Path(__file__).with_name("static") / "chat.html"
COOKIE = "mz_chat"
NO_SCRIPT = "'none'"
MAX_BODY_BYTES = 16 * 1024
COMMANDS = {"start", "help", "hotline", "stop"}
# The help text names /start, /help, /hotline and /stop: typed in the page they are commands
# too (a Chinese keyboard may type the full-width slash).
TYPED_COMMAND = re.compile(r"[/／](start|help|hotline|stop)", re.IGNORECASE)


def _sign(keyring: KeyRing, token: str) -> str:
    return keyring.sign(Purpose.CHAT_COOKIE, token)


def session_token(request: web.Request) -> tuple[str, bool]:
    """The chat session id from the signed cookie, or a new one (and whether it is new)."""
    keyring = request.config_dict[keys.KEYRING]
    raw = request.cookies.get(COOKIE, "")
    token, _, signature = raw.partition(".")
    # A cookie we never set (any characters at all) is simply not ours: a fresh session.
    if token and raw.isascii() and hmac.compare_digest(signature, _sign(keyring, token)):
        return token, False
    return secrets.token_urlsafe(18), True


def resident_key(request: web.Request, token: str) -> str:
    return request.config_dict[keys.KEYRING].pseudonym("web", token)


def _action(body: Any) -> Action | str:
    """The action in a request body, or a message saying what is wrong with it."""
    action = body.get("action") if isinstance(body, dict) else None
    if not isinstance(action, dict):
        return '请求格式不对：请发送 {"action": {"type": "text", "text": "您的问题"}}'
    kind = action.get("type")
    if kind == "text" and isinstance(action.get("text"), str):
        text = clean_text(action["text"])
        if typed := TYPED_COMMAND.fullmatch(text.strip()):
            return Command(typed.group(1).lower())
        return Text(text[:2000])
    if kind == "press" and isinstance(action.get("data"), str) and len(action["data"]) <= 64:
        return Press(clean_text(action["data"]))
    name = action.get("name")
    if kind == "command" and isinstance(name, str) and name in COMMANDS:
        return Command(name)
    if kind == "location":
        try:
            latitude, longitude = float(action["latitude"]), float(action["longitude"])
        except (KeyError, TypeError, ValueError):
            return "位置不对：需要纬度和经度。"
        if not (math.isfinite(latitude) and math.isfinite(longitude)) or not (
            -90 <= latitude <= 90 and -180 <= longitude <= 180
        ):
            return "位置不对：纬度在 -90 到 90 之间，经度在 -180 到 180 之间。"
        return Location(latitude, longitude)
    return "不认识的操作：type 应为 text、press、location 或 command。"


def _reply_json(reply: Reply) -> dict[str, Any]:
    data = asdict(reply)
    data["buttons"] = [[asdict(b) for b in row] for row in reply.buttons]
    return data


@functools.cache
def _page() -> tuple[bytes, str]:
    """The page and its Content-Security-Policy: only the page's own script, by its hash, may
    run, so no inline handler or injected script ever would."""
    body = PAGE.read_bytes()
    scripts = re.findall(rb"<script>(.*?)</script>", body, re.DOTALL)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in scripts
    )
    policy = (
        "default-src 'self'; style-src 'unsafe-inline'; "
        f"script-src {hashes or NO_SCRIPT}; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return body, policy


async def page(request: web.Request) -> web.Response:
    body, policy = _page()
    return web.Response(
        body=body,
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": policy},
    )


async def chat(request: web.Request) -> web.Response:
    settings = request.config_dict[keys.SETTINGS]
    # The resident's data can be deleted from here (/stop): only our own page may post.
    if not same_origin(request, settings.public_url):
        return bad_request(CROSS_SITE, 403, error="forbidden")
    if request.content_type != "application/json":
        return bad_request("请求格式不对：请用 application/json 发送。", 415)
    try:
        body = await read_json(request, MAX_BODY_BYTES, not_json="请求格式不对：请发送 JSON。")
    except BadBody as exc:
        return bad_request(exc.message, exc.status)
    action = _action(body)
    if isinstance(action, str):
        return bad_request(action)
    token, new = session_token(request)
    key = resident_key(request, token)
    try:
        replies = await request.config_dict[keys.CONVERSATION].handle("web", key, action)
    except (KnowledgeNotReady, DirectoryNotReady):
        return bad_request("系统正在启动，请稍等几秒再试。", 503, error="starting")
    response = web.json_response({"replies": [_reply_json(r) for r in replies]}, dumps=dumps)
    if new:
        response.set_cookie(
            COOKIE,
            f"{token}.{_sign(request.config_dict[keys.KEYRING], token)}",
            httponly=True,
            samesite="Lax",
            secure=settings.served_over_https,
            max_age=180 * 24 * 3600,
        )
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/chat", page)
    app.router.add_post("/api/chat", chat)
