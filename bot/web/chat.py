"""The resident web chat: ``GET /chat`` (one accessible page, no external CDN or font),
``POST /api/chat`` (the conversation core over JSON, with a signed session cookie) and
``GET /api/chat/updates`` (what an eldercare advisor said since, for the page to fetch: the web
has no push, so the page polls while the resident talks with an advisor)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import math
import re
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keys
from bot.conversation import texts
from bot.conversation.messages import Action, Command, Location, Press, Reply, Text
from bot.conversation.models import ConversationState
from bot.conversation.steps import State, step_id
from bot.escalations import cards, queries
from bot.escalations.models import Author, CaseState, Escalation, EscalationMessage
from bot.escalations.records import CASE_STATES
from bot.keyring import KeyRing, Purpose
from bot.web.body import BadBody, bad_request, clean_text, dumps, read_json
from bot.web.origin import CROSS_SITE, same_origin
from directory.service import DirectoryNotReady
from knowledge.service import KnowledgeNotReady

log = logging.getLogger(__name__)

PAGE = Path(__file__).with_name("static") / "chat.html"
COOKIE = "mz_chat"
CHANNEL = "web"
NO_SCRIPT = "'none'"
MAX_BODY_BYTES = 16 * 1024
COMMANDS = set(texts.COMMANDS)
# The help text names /start, /help, /hotline and /stop: typed in the page they are commands
# too (a Chinese keyboard may type the full-width slash).
TYPED_COMMAND = re.compile(rf"[/／]({'|'.join(texts.COMMANDS)})", re.IGNORECASE)
# Transcript message ids are a 32-bit INTEGER column on PostgreSQL: a larger ``after`` would
# not even bind as a parameter.
MAX_MESSAGE_ID = 2**31 - 1
BAD_AFTER = f"请求格式不对：after 应为 0 到 {MAX_MESSAGE_ID} 之间的整数（上次收到的消息编号）。"
BUSY = "系统正忙，请稍等几秒再试。"
# Messages looked at per poll: a longer transcript comes over the next polls.
UPDATES_LIMIT = 200
# The notices of a case written for the resident (the others, 'alert', 'callback', 'called',
# 'reopened', 'ended', are for the advisors); 'closed' too, see ``_for_resident``.
RESIDENT_NOTICES = {"claimed", "callback_offer"}
# Where a resident may still be shown their last case's messages: while it runs, and until they
# answer 问题解决了吗？ (then it is the past: a page opened later starts afresh).
FOLLOWING_CASE = {s.value for s in (*CASE_STATES, State.ASK_RESOLVED)}


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
        replies = await request.config_dict[keys.CONVERSATION].handle(CHANNEL, key, action)
    except (KnowledgeNotReady, DirectoryNotReady):
        return bad_request("系统正在启动，请稍等几秒再试。", 503, error="starting")
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            case = await request.config_dict[keys.CASES].current(session, CHANNEL, key)
        with_advisor = case is not None
    except (SQLAlchemyError, OSError):
        # The action is done and its replies are due: the page asks /api/chat/updates next.
        log.warning("could not tell whether a web resident is with an advisor", exc_info=True)
        with_advisor = False
    response = web.json_response(
        {"replies": [_reply_json(r) for r in replies], "with_advisor": with_advisor},
        dumps=dumps,
    )
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


def _after(request: web.Request) -> int | None:
    """The ``after`` of the query (0 when absent), or None when it is not a message id."""
    raw = request.query.get("after", "0")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(MAX_MESSAGE_ID)):
        return None
    after = int(raw)
    return after if after <= MAX_MESSAGE_ID else None


async def _followed_case(
    request: web.Request, session: AsyncSession, key: str
) -> tuple[Escalation | None, bool]:
    """The case whose messages the resident is shown, and whether it runs: the one not closed,
    or else the last one of their step while they are still in it (the closing message and its
    问题解决了吗？ must reach them after the case closed)."""
    cases = request.config_dict[keys.CASES]
    case = await cases.current(session, CHANNEL, key)
    if case is not None:
        return case, True
    # Read as is, not with ``StepStore.load``: that locks the row (FOR UPDATE) for the action
    # being answered, and a poll must never hold up the resident's own message.
    step = await session.get(ConversationState, step_id(CHANNEL, key))
    if step is None or step.escalation_id is None or step.state not in FOLLOWING_CASE:
        return None, False
    case = await cases.get(session, step.escalation_id)
    if case is None or case.channel != CHANNEL or case.user_key != key:
        return None, False
    return case, False


def _for_resident(message: EscalationMessage, case: Escalation) -> bool:
    """Whether a transcript message is one the resident is to read (the web chat reads the
    transcript itself: no message of a web case says so with ``to_resident``)."""
    if message.author == Author.advisor:
        return True
    if message.author != Author.system:
        return False  # the resident's own words: the page showed them as they were sent
    if message.kind in RESIDENT_NOTICES:
        return True
    if message.kind == "closed":
        # Closed by an advisor, staff or the CLI: the resident is told and asked 问题解决了吗？.
        # Only the last closing counts (its moment is the case's ``closed_at``): one before a
        # reopening was answered already.
        return case.state == CaseState.closed and message.created_at == case.closed_at
    return False


async def updates(request: web.Request) -> web.Response:
    """What the advisor side said after message ``after``, as the resident reads it."""
    settings = request.config_dict[keys.SETTINGS]
    if not same_origin(request, settings.public_url):
        return bad_request(CROSS_SITE, 403, error="forbidden")
    after = _after(request)
    if after is None:
        return bad_request(BAD_AFTER)
    token, new = session_token(request)
    empty = {"replies": [], "after": after, "with_advisor": False}
    if new:
        # No session, no case: and no cookie is made for a page that only looks.
        return web.json_response(empty, dumps=dumps)
    if not request.config_dict[keys.DATABASE_STATE].migrated.is_set():
        return bad_request("系统正在启动，请稍等几秒再试。", 503, error="starting")
    key = resident_key(request, token)
    try:
        async with request.config_dict[keys.SESSIONS]() as session, session.begin():
            case, running = await _followed_case(request, session, key)
            if case is None or case.id is None:
                return web.json_response(empty, dumps=dumps)
            messages = await queries.transcript(session, case.id, after=after, limit=UPDATES_LIMIT)
    except (SQLAlchemyError, OSError):
        log.warning("could not read a web resident's case", exc_info=True)
        return bad_request(BUSY, 503, error="unavailable")
    replies = [
        _reply_json(cards.to_resident(m, case.id)) for m in messages if _for_resident(m, case)
    ]
    last = max((m.id for m in messages if m.id is not None), default=after)
    return web.json_response(
        {"replies": replies, "after": last, "with_advisor": running}, dumps=dumps
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/chat", page)
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/chat/updates", updates)
