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
Telegram's flood limit can be switched on (``flood_limit``: more messages in a second than it
allows get 429), and messages can be held unanswered (``hold``): a crash test kills the bot
while its sends are in flight, and a held call whose client went away was never delivered.

Every message pushed in and every message the bot sent is remembered, so that replies carry the
message they reply to and ``copyMessage`` can copy it. Supergroups, their members and forum
topics are in ``fake_bot_groups``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiohttp import web

from tests.support import telegram_html
from tests.support.fake_bot_groups import SERVICE_EVENTS, GroupsMixin

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

# The methods that put a new message in a chat.
SENDS = ("sendMessage", "sendPhoto", "sendDocument", "sendVenue", "sendLocation", "copyMessage")
# What a message shows, which copyMessage copies (its caption may be replaced).
_CONTENT = tuple(
    "text entities photo voice audio video animation document sticker video_note contact "
    "location venue poll dice caption caption_entities".split()
)
_CAPTIONED = ("photo", "voice", "audio", "video", "animation", "document")
# First names for group members a test does not name, so that different members read apart.
_NAMES = ("李伯伯", "王阿姨", "陈老伯", "赵阿姨", "刘师傅", "周阿姨", "吴伯伯", "孙阿姨")


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
class Upload:
    """A file sent in a multipart form, as the call's parameter of that name."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class _Failure:
    method: str
    error: ApiError
    times: int


class FakeBotApi(GroupsMixin):
    _bot_user = BOT_USER

    def __init__(self, token: str = "123456:TEST-fake-token") -> None:
        super().__init__()
        self.token = token
        self.calls: list[Call] = []
        self.commands: list[Params] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._pending: list[Params] = []
        # What the bot has sent, by (chat id, message id): the messages residents see.
        self.messages: dict[tuple[int, int], Params] = {}
        # What residents sent, by (chat id, message id): what replies and copies refer to.
        self.received: dict[tuple[int, int], Params] = {}
        # Residents and group members by user id, and the files the double handed out by id.
        self.users: dict[int, Params] = {}
        self.files: dict[str, Any] = {}
        self.blocked: set[int] = set()
        self._failures: list[_Failure] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._unnamed = itertools.count()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        # Seconds each call takes before it is answered (a network's round trip), and how many
        # calls were being answered at once, at most.
        self.latency = 0.0
        self.in_flight = 0
        self.most_in_flight = 0
        # Telegram's flood limit (messages a second, all chats), when set; the 429s given.
        self.flood_per_second: int | None = None
        self.flood_refusals = 0
        self._recent_sends: collections.deque[float] = collections.deque()
        # While cleared, messages wait unanswered (``hold``/``release``).
        self._open = asyncio.Event()
        self._open.set()
        self.held = 0
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
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "copyMessage": self._copy_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "close": lambda params: True,
            "logOut": lambda params: True,
            **self._group_methods(),
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
        message: Params = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "from": self._user(user_id or chat_id, first_name),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self.push_update({"message": message})

    def push_forward(
        self, chat_id: int, text: str, *, from_bot: bool, sent_at: int | None = None
    ) -> Params:
        """Queue a message the resident forwarded: one the bot sent them (``from_bot``), or one
        from somebody else claiming to be the bureau (a hidden user, as Telegram shows one)."""
        date = sent_at or int(time.time())
        origin: Params = (
            {"type": "user", "sender_user": self._bot_user, "date": date}
            if from_bot
            else {"type": "hidden_user", "sender_user_name": "松江民政局", "date": date}
        )
        message: Params = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "张阿姨"},
            "from": self._user(chat_id, "张阿姨"),
            "text": text,
            "forward_origin": origin,
            "forward_date": date,
        }
        return self.push_update({"message": message})

    def push_location(self, chat_id: int, latitude: float, longitude: float) -> Params:
        message = self._message(chat_id)
        message["location"] = {"latitude": latitude, "longitude": longitude}
        return self.push_update({"message": message})

    def push_voice(self, chat_id: int) -> Params:
        message = self._message(chat_id)
        message["voice"] = {"file_id": "voice-1", "file_unique_id": "v1", "duration": 3}
        return self.push_update({"message": message})

    def push_photo(
        self, chat_id: int, caption: str | None = None, user_id: int | None = None
    ) -> Params:
        """A photo from the resident of a private chat, or from ``user_id`` in a group."""
        message = self._incoming(chat_id, user_id)
        message["photo"] = self._new_photo()
        if caption:
            message["caption"] = caption
        return self.push_update({"message": message})

    def push_document(
        self,
        chat_id: int,
        file_name: str = "材料.pdf",
        caption: str | None = None,
        *,
        user_id: int | None = None,
    ) -> Params:
        message = self._incoming(chat_id, user_id)
        message["document"] = self._new_document(file_name, 48213)
        if caption:
            message["caption"] = caption
        return self.push_update({"message": message})

    def push_contact(
        self,
        chat_id: int,
        phone_number: str,
        *,
        user_id: int | None = None,
        first_name: str = "居民",
    ) -> Params:
        """A resident shares a contact: by default their own, as a request_contact button does
        (``contact.user_id`` is then the sender's)."""
        message = self._incoming(chat_id)
        message["contact"] = {
            "phone_number": phone_number,
            "first_name": first_name,
            "user_id": user_id or chat_id,
        }
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

    def push_update(self, body: Params) -> Params:
        update = {"update_id": next(self._update_ids), **body}
        message = body.get("message")
        if isinstance(message, dict):
            self._remember(message)
        self._pending.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    def sent(self, method: str = "sendMessage") -> list[Params]:
        """The parameters of every call of ``method`` that Telegram would have accepted."""
        return [c.params for c in self.calls if c.method == method and c.error is None]

    def messages_to(self, chat_id: int) -> list[Params]:
        """The parameters of every message the bot sent to ``chat_id`` (any of ``SENDS``)."""
        return [
            c.params
            for c in self.calls
            if c.method in SENDS and c.error is None and str(c.params["chat_id"]) == str(chat_id)
        ]

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

    # Messages coming in -----------------------------------------------------------------------

    def _user(
        self, user_id: int, first_name: str | None = None, *, default: str | None = None
    ) -> Params:
        """The same User for the same id; a member nobody named gets a name of their own."""
        user = self.users.get(user_id)
        if user is None or (first_name and first_name != user["first_name"]):
            if not first_name:
                n = next(self._unnamed)
                first_name = default or (_NAMES[n] if n < len(_NAMES) else f"居民{n + 1}")
            user = {"id": user_id, "is_bot": False, "first_name": first_name}
            self.users[user_id] = user
        return dict(user)

    def _message(self, chat_id: int, sender: Params | None = None) -> Params:
        user = self._user(chat_id, default="张阿姨")
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": user["first_name"]},
            "from": sender or user,
        }

    def _incoming(self, chat_id: int, user_id: int | None = None) -> Params:
        """A new message from the resident of a private chat, or from ``user_id`` in a group."""
        if chat_id < 0:
            if user_id is None:
                raise ValueError("a message in a group needs the user_id of who wrote it")
            return self._group_message(chat_id, user_id)
        message = self._message(chat_id)
        if user_id is not None:
            message["from"] = self._user(user_id)
        return message

    def _remember(self, message: Params) -> None:
        chat = message["chat"]
        self.received[(int(chat["id"]), int(message["message_id"]))] = message
        if chat.get("type") == "private" or int(chat["id"]) not in self.chats:
            self.chats[int(chat["id"])] = dict(chat)

    def _known(self, chat_id: int, message_id: int) -> Params | None:
        key = (chat_id, message_id)
        return self.messages.get(key) or self.received.get(key)

    def _new_photo(self) -> list[Params]:
        n = next(self._file_ids)
        sizes: list[Params] = [
            {
                "file_id": f"photo-{n}-{width}",
                "file_unique_id": f"p{n}w{width}",
                "width": width,
                "height": width * 3 // 4,
                "file_size": width * width // 8,
            }
            for width in (90, 320, 1280)
        ]
        for size in sizes:
            self.files[size["file_id"]] = sizes
        return sizes

    def _new_document(self, file_name: str, size: int, mime_type: str = "") -> Params:
        n = next(self._file_ids)
        document: Params = {
            "file_id": f"document-{n}",
            "file_unique_id": f"d{n}",
            "file_name": file_name,
            "mime_type": mime_type
            or mimetypes.guess_type(file_name)[0]
            or "application/octet-stream",
            "file_size": size,
        }
        self.files[document["file_id"]] = document
        return document

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
            if call.method == "sendMessage":
                await self._wait_if_held(call)
                self._flood_check()
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

    def flood_limit(self, per_second: int | None) -> None:
        """Answer 429 (retry after 1 s) to messages beyond ``per_second`` in any second."""
        self.flood_per_second = per_second

    def hold(self) -> None:
        """Messages from now on wait unanswered, delivered to nobody, until ``release``."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def _wait_if_held(self, call: Call) -> None:
        if self._open.is_set():
            return
        self.held += 1
        try:
            await self._open.wait()
        except asyncio.CancelledError:
            # The bot went away (killed) before Telegram answered: nothing was delivered.
            call.error = ApiError(499, "client closed the connection before an answer")
            raise
        finally:
            self.held -= 1

    def _flood_check(self) -> None:
        if self.flood_per_second is None:
            return
        now = time.monotonic()
        while self._recent_sends and self._recent_sends[0] <= now - 1.0:
            self._recent_sends.popleft()
        if len(self._recent_sends) >= self.flood_per_second:
            self.flood_refusals += 1
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        self._recent_sends.append(now)

    def _refuse(self, code: int, description: str) -> NoReturn:
        raise ApiError(code, description)

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

    def _send_photo(self, params: Params) -> Params:
        _require(params, "chat_id", "photo")
        photo = self._file(params, "photo")
        if isinstance(photo, dict):
            raise ApiError(400, "Bad Request: can't use file of type Document as Photo")
        message = self._outgoing(params)
        message["photo"] = photo if isinstance(photo, list) else self._new_photo()
        message.update(_caption(params))
        message.update(_inline_markup(params))
        return self._keep(message)

    def _send_document(self, params: Params) -> Params:
        _require(params, "chat_id", "document")
        document = self._file(params, "document")
        if isinstance(document, list):
            raise ApiError(400, "Bad Request: can't use file of type Photo as Document")
        message = self._outgoing(params)
        if isinstance(document, Upload):
            document = self._new_document(
                document.filename, len(document.data), document.content_type
            )
        elif isinstance(document, str):  # an HTTP URL Telegram downloads
            document = self._new_document(document.rsplit("/", 1)[-1] or "file", 0)
        message["document"] = document
        message.update(_caption(params))
        message.update(_inline_markup(params))
        return self._keep(message)

    def _file(self, params: Params, name: str) -> Any:
        """A file parameter: an upload, an HTTP URL, or the id of a file Telegram has."""
        value = params[name]
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            return value
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _copy_message(self, params: Params) -> Params:
        _require(params, "chat_id", "from_chat_id", "message_id")
        original = self._known(int(params["from_chat_id"]), int(params["message_id"]))
        if original is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        if any(event in original for event in SERVICE_EVENTS):
            raise ApiError(400, "Bad Request: message can't be copied")
        message = self._outgoing(params)
        message.update({key: original[key] for key in _CONTENT if key in original})
        if "caption" in params and any(key in original for key in _CAPTIONED):
            message.pop("caption", None)
            message.pop("caption_entities", None)
            message.update(_caption(params))
        message.update(_inline_markup(params))
        self._keep(message)
        return {"message_id": message["message_id"]}

    def _edit_message_text(self, params: Params) -> Params:
        _require(params, "chat_id", "message_id", "text")
        message = self._editable(params)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        edited = {k: v for k, v in message.items() if k not in ("entities", "reply_markup")}
        edited.update(_formatted(params))
        edited.update(_inline_markup(params))
        edited["edit_date"] = int(time.time())
        if all(edited.get(k) == message.get(k) for k in ("text", "entities", "reply_markup")):
            raise _not_modified()
        return self._keep(edited)

    def _edit_message_reply_markup(self, params: Params) -> Params:
        _require(params, "chat_id", "message_id")
        message = self._editable(params)
        edited = {k: v for k, v in message.items() if k != "reply_markup"}
        edited.update(_inline_markup(params))
        if edited.get("reply_markup") == message.get("reply_markup"):
            raise _not_modified()
        edited["edit_date"] = int(time.time())
        return self._keep(edited)

    def _editable(self, params: Params) -> Params:
        """The bot's own message that ``chat_id`` and ``message_id`` name."""
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            if key in self.received:
                raise ApiError(400, "Bad Request: message can't be edited")
            raise ApiError(400, "Bad Request: message to edit not found")
        if int(message["chat"]["id"]) in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if any(event in message for event in SERVICE_EVENTS):
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _outgoing(self, params: Params) -> Params:
        """A new message from the bot to ``chat_id``, or Telegram's 403 if it was blocked, in the
        topic and replying to the message ``params`` name."""
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        self._check_bot_in_chat(chat_id)
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": BOT_USER,
        }
        thread_id, replied = self._placement(chat_id, params)
        if thread_id is not None:
            self._check_thread(chat_id, thread_id)
        self._threaded(message, thread_id, replied)
        return message

    def _keep(self, message: Params) -> Params:
        self.messages[(int(message["chat"]["id"]), int(message["message_id"]))] = message
        return message

    def _answer_callback_query(self, params: Params) -> bool:
        _require(params, "callback_query_id")
        return True

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


def _parsed(text: str, mode: str) -> tuple[str, list[Params]]:
    """The text Telegram stores for ``text`` in ``parse_mode``, with its entities."""
    if mode.upper() == "HTML":
        try:
            return telegram_html.parse(text)
        except telegram_html.HtmlError as exc:
            raise ApiError(400, f"Bad Request: {exc}") from exc
    if mode:
        raise ApiError(400, f"Bad Request: unsupported parse_mode {mode!r} in this double")
    return text, []


def _formatted(params: Params) -> Params:
    text, entities = _parsed(str(params["text"]), str(params.get("parse_mode") or ""))
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if telegram_html.utf16_length(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return {"text": text, "entities": entities} if entities else {"text": text}


def _caption(params: Params) -> Params:
    """A media message's caption (none if empty), with its entities."""
    if params.get("caption") in (None, ""):
        return {}
    caption, entities = _parsed(str(params["caption"]), str(params.get("parse_mode") or ""))
    if telegram_html.utf16_length(caption) > 1024:
        raise ApiError(400, "Bad Request: message caption is too long")
    if not caption.strip():
        return {}
    return {"caption": caption, "caption_entities": entities} if entities else {"caption": caption}


def _not_modified() -> ApiError:
    return ApiError(
        400,
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same as a current content and reply markup of the message",
    )


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
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            elif isinstance(value, web.FileField):
                params[key] = Upload(value.filename, value.content_type, value.file.read())
    return params


def _error(exc: ApiError) -> web.Response:
    body: Params = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.code)
