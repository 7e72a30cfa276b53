"""A Telegram Bot API double: a real aiohttp server speaking the Bot API's HTTP protocol.

python-telegram-bot talks to it over real HTTP exactly as it would to Telegram
(``MINZHENG_TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot``). Tests push updates in as a
resident would send them and read back what the bot sent.

Behaviour follows the Bot API documentation: ``{"ok": true, "result": …}`` envelopes, 401 for an
unknown token, 404 for an unknown method, 400 for missing parameters, ``getUpdates`` long polling
with ``offset`` confirming earlier updates, and 409 from ``getUpdates`` while a webhook is set.
Messages in ``parse_mode=HTML`` are parsed as strictly as Telegram does (``telegram_html``): a
reply Telegram would refuse gets Telegram's 400 here. On demand, a method answers 429 with
``retry_after`` (``fail_next``), and a resident who blocked the bot gives 403 (``block``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support import telegram_html

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "松江民政助手",
    "username": "songjiang_minzheng_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

Params = dict[str, Any]


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: Params | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class Call:
    method: str
    params: Params
    at: float = field(default_factory=time.monotonic)
    # How the parameters came: "application/json", a form's type, or "" for a query string.
    content_type: str = ""
    # Set when the double refused the call (the error it answered).
    error: ApiError | None = None


@dataclass
class _Failure:
    method: str
    error: ApiError
    times: int


class FakeBotApi:
    def __init__(self, token: str = "123456:TEST-fake-token") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.commands: list[Params] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._pending: list[Params] = []
        # What the bot has sent, by (chat id, message id): the messages residents see.
        self.messages: dict[tuple[int, int], Params] = {}
        self.blocked: set[int] = set()
        self._failures: list[_Failure] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        # Seconds each call takes before it is answered (a network's round trip), and how many
        # calls were being answered at once, at most.
        self.latency = 0.0
        self.in_flight = 0
        self.most_in_flight = 0
        self._methods: dict[str, Callable[[Params], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": lambda params: self.commands,
            "answerCallbackQuery": self._answer_callback_query,
            "sendVenue": self._send_venue,
            "sendLocation": self._send_location,
            "editMessageText": self._edit_message_text,
            "close": lambda params: True,
            "logOut": lambda params: True,
        }

    # Server life ------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def start(self) -> str:
        # A resident-side disconnect ends a long poll at once, as it does at Telegram.
        self._runner = web.AppRunner(
            self.application(), access_log=None, handler_cancellation=True, shutdown_timeout=1
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # What a test does -------------------------------------------------------------------------

    def push_text(
        self, chat_id: int, text: str, *, user_id: int | None = None, first_name: str = "张阿姨"
    ) -> Params:
        """Queue an update as if a resident sent ``text`` in a private chat."""
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": first_name}
        message: Params = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.push_update({"message": message})

    def push_location(self, chat_id: int, latitude: float, longitude: float) -> Params:
        message = self._message(chat_id)
        message["location"] = {"latitude": latitude, "longitude": longitude}
        return self.push_update({"message": message})

    def push_voice(self, chat_id: int) -> Params:
        message = self._message(chat_id)
        message["voice"] = {"file_id": "voice-1", "file_unique_id": "v1", "duration": 3}
        return self.push_update({"message": message})

    def push_button(self, chat_id: int, data: str) -> Params:
        """A resident presses an inline button under one of the bot's messages: the latest one in
        the chat that carries ``data``, as Telegram would send it back."""
        user = {"id": chat_id, "is_bot": False, "first_name": "张阿姨"}
        message = self.message_with_button(chat_id, data)
        if message is None:
            message = self._message(chat_id, sender=BOT_USER)
            message["text"] = "…"
        query = {
            "id": f"cb-{next(self._update_ids)}",
            "from": user,
            "message": message,
            "chat_instance": str(chat_id),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def push_group_text(self, chat_id: int, user_id: int, text: str) -> Params:
        """A resident writes in a group the bot is in; ``@bot`` mentions become entities."""
        message: Params = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "supergroup", "title": "松江长者群"},
            "from": {"id": user_id, "is_bot": False, "first_name": "李伯伯"},
            "text": text,
        }
        mention = f"@{BOT_USER['username']}"
        entities = []
        if text.startswith("/"):
            command = text.split()[0]
            entities.append({"type": "bot_command", "offset": 0, "length": len(command)})
        if mention in text:
            start = telegram_html.utf16_length(text[: text.index(mention)])
            entities.append({"type": "mention", "offset": start, "length": len(mention)})
        if entities:
            message["entities"] = entities
        return self.push_update({"message": message})

    def message_with_button(self, chat_id: int, data: str) -> Params | None:
        for (chat, _), message in sorted(self.messages.items(), reverse=True):
            if chat != chat_id:
                continue
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if any(b.get("callback_data") == data for row in rows for b in row):
                return message
        return None

    def fail_next(
        self,
        method: str,
        code: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail with Telegram's error ``code``."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._failures.append(_Failure(method, ApiError(code, description, parameters), times))

    def block(self, chat_id: int) -> None:
        """The resident blocked the bot: every message to them gets Telegram's 403."""
        self.blocked.add(chat_id)

    def _message(self, chat_id: int, sender: Params | None = None) -> Params:
        user = {"id": chat_id, "is_bot": False, "first_name": "张阿姨"}
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "张阿姨"},
            "from": sender or user,
        }

    def _send_venue(self, params: Params) -> Params:
        _require(params, "chat_id", "latitude", "longitude", "title", "address")
        message = self._outgoing(params)
        message["venue"] = {
            "location": _location(params),
            "title": params["title"],
            "address": params["address"],
        }
        return self._keep(message)

    def _send_location(self, params: Params) -> Params:
        _require(params, "chat_id", "latitude", "longitude")
        message = self._outgoing(params)
        message["location"] = _location(params)
        return self._keep(message)

    def _answer_callback_query(self, params: Params) -> bool:
        _require(params, "callback_query_id")
        return True

    def push_update(self, body: Params) -> Params:
        update = {"update_id": next(self._update_ids), **body}
        self._pending.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    def sent(self, method: str = "sendMessage") -> list[Params]:
        """The parameters of every call of ``method`` that Telegram would have accepted."""
        return [c.params for c in self.calls if c.method == method and c.error is None]

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10.0) -> Call:
        """The first call, past or future, for which ``predicate`` is true."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                while True:
                    for call in self.calls:
                        if predicate(call):
                            return call
                    await self._changed.wait()

    async def wait_for_message(self, chat_id: int, timeout: float = 10.0) -> Params:
        call = await self.wait_for(
            lambda c: (
                c.method == "sendMessage"
                and c.error is None
                and int(c.params["chat_id"]) == chat_id
            ),
            timeout,
        )
        return call.params

    # The protocol -----------------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        # Telegram's method names are case-insensitive.
        handler = next(
            (fn for name, fn in self._methods.items() if name.lower() == method.lower()), None
        )
        if handler is None:
            return _error(ApiError(404, "Not Found"))
        content_type = request.content_type if request.can_read_body else ""
        params = await _read_params(request)
        call = Call(
            method=_canonical(method, self._methods),
            params=params,
            content_type=content_type,
        )
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.latency and call.method != "getUpdates":
                await asyncio.sleep(self.latency)
            self._planned_failure(call.method)
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            call.error = exc
            return _error(exc)
        finally:
            self.in_flight -= 1
            self.calls.append(call)
            await self._notify()
        return web.json_response({"ok": True, "result": result})

    def _planned_failure(self, method: str) -> None:
        for failure in self._failures:
            if failure.method == method and failure.times > 0:
                failure.times -= 1
                raise failure.error

    def _get_me(self, params: Params) -> Params:
        return BOT_USER

    async def _get_updates(self, params: Params) -> list[Params]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(int(params.get("timeout") or 0), 0)
        if offset:
            # An offset confirms every update before it: Telegram forgets them.
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not self._pending and time.monotonic() < deadline:
                try:
                    async with asyncio.timeout(deadline - time.monotonic()):
                        await self._changed.wait()
                except TimeoutError:
                    break
        return self._pending[:limit]

    def _send_message(self, params: Params) -> Params:
        _require(params, "chat_id", "text")
        message = self._outgoing(params)
        message.update(_formatted(params))
        message.update(_inline_markup(params))
        return self._keep(message)

    def _edit_message_text(self, params: Params) -> Params:
        _require(params, "chat_id", "message_id", "text")
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if int(message["chat"]["id"]) in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        edited = {k: v for k, v in message.items() if k not in ("entities", "reply_markup")}
        edited.update(_formatted(params))
        edited.update(_inline_markup(params))
        edited["edit_date"] = int(time.time())
        if all(edited.get(k) == message.get(k) for k in ("text", "entities", "reply_markup")):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        return self._keep(edited)

    def _outgoing(self, params: Params) -> Params:
        """A new message from the bot to ``chat_id``, or Telegram's 403 if it was blocked."""
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
        }

    def _keep(self, message: Params) -> Params:
        self.messages[(int(message["chat"]["id"]), int(message["message_id"]))] = message
        return message

    def _delete_webhook(self, params: Params) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        return True

    def _set_webhook(self, params: Params) -> bool:
        _require(params, "url")
        self.webhook_url = str(params["url"]) or None
        self.webhook_secret = params.get("secret_token")
        return True

    def _set_my_commands(self, params: Params) -> bool:
        _require(params, "commands")
        commands = params["commands"]
        self.commands = json.loads(commands) if isinstance(commands, str) else commands
        return True


def _canonical(method: str, methods: dict[str, Any]) -> str:
    return next((name for name in methods if name.lower() == method.lower()), method)


def _formatted(params: Params) -> Params:
    """The text Telegram stores for ``text`` in ``parse_mode``, with its entities."""
    text = str(params["text"])
    mode = str(params.get("parse_mode") or "")
    entities: list[Params] = []
    if mode.upper() == "HTML":
        try:
            text, entities = telegram_html.parse(text)
        except telegram_html.HtmlError as exc:
            raise ApiError(400, f"Bad Request: {exc}") from exc
    elif mode:
        raise ApiError(400, f"Bad Request: unsupported parse_mode {mode!r} in this double")
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if telegram_html.utf16_length(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return {"text": text, "entities": entities} if entities else {"text": text}


def _location(params: Params) -> Params:
    latitude, longitude = float(params["latitude"]), float(params["longitude"])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ApiError(400, "Bad Request: wrong latitude or longitude")
    return {"latitude": latitude, "longitude": longitude}


def _inline_markup(params: Params) -> Params:
    """A message carries only an inline keyboard; a reply keyboard belongs to the chat."""
    raw = params.get("reply_markup")
    markup = json.loads(raw) if isinstance(raw, str) else raw
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return {"reply_markup": markup}
    return {}


def _require(params: Params, *names: str) -> None:
    for name in names:
        if params.get(name) in (None, ""):
            raise ApiError(400, f"Bad Request: {name} is empty")


async def _read_params(request: web.Request) -> Params:
    """The Bot API takes query strings, url-encoded or multipart forms, and JSON bodies."""
    params: Params = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.can_read_body:
        form = await request.post()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


def _error(exc: ApiError) -> web.Response:
    body: Params = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.code)
