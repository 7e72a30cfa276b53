"""Groups, forum topics and chat members for the Telegram Bot API double (``fake_bot_api``).

A mixin of ``FakeBotApi``: the chats the double knows (supergroups a test adds, private chats it
saw), who is a member of them and with which rights, and the topics of forum supergroups. As at
Telegram, a topic is the thread of the service message that created it: its ``message_thread_id``
is that message's id, and every message in the topic that replies to nothing else replies to it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from tests.support import telegram_html

Params = dict[str, Any]

# createForumTopic's default colour (the blue of ``telegram.constants.ForumIconColor.BLUE``).
DEFAULT_ICON_COLOR = 7322096

# What a ChatMember of each status carries besides ``status`` and ``user``, with the values it
# has unless a test says otherwise (the Bot API's ChatMemberOwner, …Administrator, …Member,
# …Restricted, …Left and …Banned).
_ADMINISTRATOR = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": True,
}
_RESTRICTED = {
    "is_member": True,
    "can_send_messages": False,
    "can_send_audios": False,
    "can_send_documents": False,
    "can_send_photos": False,
    "can_send_videos": False,
    "can_send_video_notes": False,
    "can_send_voice_notes": False,
    "can_send_polls": False,
    "can_send_other_messages": False,
    "can_add_web_page_previews": False,
    "can_react_to_messages": False,
    "can_change_info": False,
    "can_invite_users": False,
    "can_pin_messages": False,
    "can_manage_topics": False,
    "can_edit_tag": False,
    # 0: restricted for ever.
    "until_date": 0,
}
_MEMBER_FIELDS: dict[str, Params] = {
    "creator": {"is_anonymous": False},
    "administrator": _ADMINISTRATOR,
    "member": {},
    "restricted": _RESTRICTED,
    "left": {},
    "kicked": {"until_date": 0},
}
# Optional fields a test may also set.
_MEMBER_OPTIONAL: dict[str, set[str]] = {
    "creator": {"custom_title"},
    "administrator": {
        "custom_title",
        "can_post_messages",
        "can_edit_messages",
        "can_manage_direct_messages",
        "can_manage_tags",
    },
    "member": {"until_date", "tag"},
    "restricted": {"tag"},
    "left": set(),
    "kicked": set(),
}


class GroupsMixin:
    """Chats, members and forum topics. ``FakeBotApi`` provides what is declared below."""

    _bot_user: Params
    _message_ids: Iterator[int]
    _update_ids: Iterator[int]
    messages: dict[tuple[int, int], Params]

    def _refuse(self, code: int, description: str) -> NoReturn:
        """Answer the call with Telegram's error ``code`` and ``description``."""
        raise NotImplementedError

    def _keep(self, message: Params) -> Params:
        raise NotImplementedError

    def _known(self, chat_id: int, message_id: int) -> Params | None:
        raise NotImplementedError

    def _user(self, user_id: int, first_name: str | None = None) -> Params:
        raise NotImplementedError

    def push_update(self, body: Params) -> Params:
        raise NotImplementedError

    def message_with_button(self, chat_id: int, data: str) -> Params | None:
        raise NotImplementedError

    def messages_to(self, chat_id: int) -> list[Params]:
        raise NotImplementedError

    def __init__(self) -> None:
        # Chats as they appear in messages, by id: groups a test added, chats the double saw.
        self.chats: dict[int, Params] = {}
        # ChatMember objects by (chat id, user id).
        self.members: dict[tuple[int, int], Params] = {}
        # Forum topics by (chat id, message_thread_id): name, icon_color and closed.
        self.topics: dict[tuple[int, int], Params] = {}

    def _group_methods(self) -> dict[str, Callable[[Params], Any]]:
        return {
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "createForumTopic": self._create_forum_topic,
            "editForumTopic": self._edit_forum_topic,
            "closeForumTopic": lambda params: self._close_topic(params, closed=True),
            "reopenForumTopic": lambda params: self._close_topic(params, closed=False),
            "deleteForumTopic": self._delete_forum_topic,
        }

    # What a test does -------------------------------------------------------------------------

    def add_group(self, chat_id: int, title: str = "养老顾问群", *, forum: bool = True) -> None:
        """A supergroup the bot was added to as an administrator who may manage topics."""
        chat: Params = {"id": chat_id, "type": "supergroup", "title": title}
        if forum:
            chat["is_forum"] = True
        self.chats[chat_id] = chat
        self.members.setdefault(
            (chat_id, self._bot_user["id"]),
            _member(self._bot_user_in_chat(), "administrator", {}),
        )

    def set_member(
        self, chat_id: int, user_id: int, status: str = "member", **fields: Any
    ) -> Params:
        """``user_id``'s membership of ``chat_id``: a ChatMember ``status`` ("creator",
        "administrator", "member", "restricted", "left" or "kicked") with its rights, each
        defaulting as listed in ``_MEMBER_FIELDS`` unless given in ``fields``."""
        if chat_id not in self.chats:
            raise LookupError(f"chat {chat_id} is unknown here: add_group it first")
        member = _member(self._user_or_bot(user_id), status, fields)
        self.members[(chat_id, user_id)] = member
        return member

    def push_group_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        first_name: str | None = None,
    ) -> Params:
        """``user_id`` writes in a group the bot is in (in forum topic ``thread_id``, replying to
        ``reply_to_message_id``); ``@bot`` mentions become entities."""
        message = self._group_message(
            chat_id, user_id, first_name, thread_id=thread_id, reply_to=reply_to_message_id
        )
        message["text"] = text
        mention = f"@{self._bot_user['username']}"
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

    def push_group_button(
        self, chat_id: int, user_id: int, data: str, message_id: int | None = None
    ) -> Params:
        """``user_id`` presses a button on the bot's message ``message_id`` in a group, or on
        the latest one there that carries ``data``."""
        if message_id is None:
            message = self.message_with_button(chat_id, data)
        else:
            message = self.messages.get((chat_id, message_id))
        if message is None:
            raise LookupError(f"the bot sent no such message with {data!r} to chat {chat_id}")
        query = {
            "id": f"cb-{next(self._update_ids)}",
            "from": self._user(user_id),
            "message": message,
            "chat_instance": str(chat_id),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def thread_messages(self, chat_id: int, thread_id: int) -> list[Params]:
        """What the bot sent into forum topic ``thread_id`` of ``chat_id``, in order: with its
        ``message_thread_id``, or as a reply to a message in the topic."""
        return [
            params
            for params in self.messages_to(chat_id)
            if self._placement(chat_id, params)[0] == thread_id
        ]

    # Messages in groups -----------------------------------------------------------------------

    def _group_message(
        self,
        chat_id: int,
        user_id: int,
        first_name: str | None = None,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Params:
        """A new message from ``user_id`` in a group, in topic ``thread_id`` and replying to
        message ``reply_to`` (both must be known here)."""
        chat = self.chats.get(chat_id) or {
            "id": chat_id,
            "type": "supergroup",
            "title": "松江长者群",
        }
        user = self._user(user_id, first_name)
        # Who writes in a group is a member of it.
        self.members.setdefault((chat_id, user_id), _member(user, "member", {}))
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": dict(chat),
            "from": user,
        }
        replied = None
        if reply_to is not None:
            replied = self._known(chat_id, reply_to)
            if replied is None:
                raise LookupError(f"no message {reply_to} in chat {chat_id} to reply to")
            if thread_id is None and replied.get("is_topic_message"):
                thread_id = int(replied["message_thread_id"])
        if thread_id is not None and (chat_id, thread_id) not in self.topics:
            raise LookupError(f"no topic {thread_id} in chat {chat_id}: createForumTopic first")
        self._threaded(message, thread_id, replied)
        return message

    def _placement(self, chat_id: int, params: Params) -> tuple[int | None, Params | None]:
        """The forum topic a message the bot sends goes to (``message_thread_id``, else that of
        the message it replies to), and that message, if the double knows it."""
        raw = params.get("reply_parameters")
        reply = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(reply, dict) and params.get("reply_to_message_id") not in (None, ""):
            reply = {"message_id": params["reply_to_message_id"]}
        replied = None
        # A reply to a message in another chat (reply_parameters.chat_id) is not modelled.
        if isinstance(reply, dict) and str(reply.get("chat_id", chat_id)) == str(chat_id):
            replied = self._known(chat_id, int(reply["message_id"]))
        thread_id = params.get("message_thread_id")
        if thread_id not in (None, ""):
            return int(thread_id), replied
        if replied is not None and replied.get("is_topic_message"):
            return int(replied["message_thread_id"]), replied
        return None, replied

    def _threaded(self, message: Params, thread_id: int | None, replied: Params | None) -> None:
        """Put ``message`` in its forum topic and reply. As at Telegram, a message in a topic
        that replies to nothing else replies to the message that created the topic."""
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            replied = replied or self._known(int(message["chat"]["id"]), thread_id)
        if replied is not None:
            # A replied-to message does not carry its own reply_to_message.
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }

    # The protocol -----------------------------------------------------------------------------

    def _chat(self, chat_id: int) -> Params:
        """``chat_id`` as Telegram shows it in a message."""
        known = self.chats.get(chat_id)
        if known is not None:
            return dict(known)
        return {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}

    def _known_chat(self, params: Params) -> Params:
        try:
            chat = self.chats.get(int(params["chat_id"]))
        except ValueError:
            chat = None
        if chat is None:
            self._refuse(400, "Bad Request: chat not found")
        return chat

    def _get_chat(self, params: Params) -> Params:
        _need(self, params, "chat_id")
        # ChatFullInfo: the chat and what its profile shows.
        return {
            **self._known_chat(params),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(self, params: Params) -> Params:
        _need(self, params, "chat_id", "user_id")
        chat = self._known_chat(params)
        user_id = int(params["user_id"])
        member = self.members.get((chat["id"], user_id))
        if member is not None:
            return member
        if chat["type"] == "private" and user_id in (chat["id"], self._bot_user["id"]):
            return {"status": "member", "user": self._user_or_bot(user_id)}
        return {"status": "left", "user": self._user_or_bot(user_id)}

    def _create_forum_topic(self, params: Params) -> Params:
        _need(self, params, "chat_id", "name")
        chat = self._forum(params)
        name = str(params["name"])
        self._check_topic_name(name)
        bot = self.members.get((chat["id"], self._bot_user["id"]), {})
        if bot.get("status") != "creator" and not (
            bot.get("status") == "administrator" and bot.get("can_manage_topics")
        ):
            self._refuse(400, "Bad Request: not enough rights to create a topic")
        icon_color = int(params.get("icon_color") or DEFAULT_ICON_COLOR)
        thread_id = next(self._message_ids)
        self.topics[(chat["id"], thread_id)] = {
            "name": name,
            "icon_color": icon_color,
            "closed": False,
        }
        created = {"name": name, "icon_color": icon_color}
        self._service_message(chat, thread_id, {"forum_topic_created": created}, thread_id)
        return {"message_thread_id": thread_id, **created}

    def _edit_forum_topic(self, params: Params) -> bool:
        chat, thread_id, topic = self._topic(params)
        edited: Params = {}
        if params.get("name") is not None:
            self._check_topic_name(str(params["name"]))
            edited["name"] = str(params["name"])
        if params.get("icon_custom_emoji_id") is not None:
            edited["icon_custom_emoji_id"] = str(params["icon_custom_emoji_id"])
        if all(topic.get(key) == value for key, value in edited.items()):
            self._refuse(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic.update(edited)
        self._service_message(chat, thread_id, {"forum_topic_edited": edited})
        return True

    def _close_topic(self, params: Params, *, closed: bool) -> bool:
        chat, thread_id, topic = self._topic(params)
        if topic["closed"] == closed:
            self._refuse(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = closed
        event = "forum_topic_closed" if closed else "forum_topic_reopened"
        self._service_message(chat, thread_id, {event: {}})
        return True

    def _delete_forum_topic(self, params: Params) -> bool:
        chat, thread_id, _ = self._topic(params)
        del self.topics[(chat["id"], thread_id)]
        return True

    def _forum(self, params: Params) -> Params:
        try:
            chat = self.chats.get(int(params["chat_id"]))
        except ValueError:
            chat = None
        if chat is None or not chat.get("is_forum"):
            self._refuse(400, "Bad Request: the chat is not a forum")
        return chat

    def _topic(self, params: Params) -> tuple[Params, int, Params]:
        _need(self, params, "chat_id", "message_thread_id")
        chat = self._forum(params)
        thread_id = int(params["message_thread_id"])
        topic = self.topics.get((chat["id"], thread_id))
        if topic is None:
            self._refuse(400, "Bad Request: TOPIC_ID_INVALID")
        return chat, thread_id, topic

    def _check_topic_name(self, name: str) -> None:
        if not name:
            self._refuse(400, "Bad Request: name is empty")
        if len(name) > 128:
            self._refuse(400, "Bad Request: topic name is too long")

    def _check_thread(self, chat_id: int, thread_id: int) -> None:
        """A message may go into an open topic only."""
        topic = self.topics.get((chat_id, thread_id))
        if topic is None:
            self._refuse(400, "Bad Request: message thread not found")
        if topic["closed"]:
            self._refuse(400, "Bad Request: TOPIC_CLOSED")

    def _check_bot_in_chat(self, chat_id: int) -> None:
        status = self.members.get((chat_id, self._bot_user["id"]), {}).get("status")
        if status == "kicked":
            self._refuse(403, "Forbidden: bot was kicked from the supergroup chat")
        if status == "left":
            self._refuse(403, "Forbidden: bot is not a member of the supergroup chat")

    def _service_message(
        self, chat: Params, thread_id: int, event: Params, message_id: int | None = None
    ) -> Params:
        """What Telegram itself posts into a topic when the bot creates, edits or closes it."""
        return self._keep(
            {
                "message_id": message_id or next(self._message_ids),
                "message_thread_id": thread_id,
                "date": int(time.time()),
                "chat": dict(chat),
                "from": self._bot_user_in_chat(),
                "is_topic_message": True,
                **event,
            }
        )

    def _bot_user_in_chat(self) -> Params:
        """The bot as a User in messages and member lists (getMe's extra fields left out)."""
        return {key: self._bot_user[key] for key in ("id", "is_bot", "first_name", "username")}

    def _user_or_bot(self, user_id: int) -> Params:
        return self._bot_user_in_chat() if user_id == self._bot_user["id"] else self._user(user_id)


SERVICE_EVENTS = (
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
)


def _member(user: Params, status: str, fields: Params) -> Params:
    if status not in _MEMBER_FIELDS:
        raise ValueError(f"no ChatMember status {status!r}: one of {sorted(_MEMBER_FIELDS)}")
    unknown = set(fields) - set(_MEMBER_FIELDS[status]) - _MEMBER_OPTIONAL[status]
    if unknown:
        raise TypeError(f"a {status} ChatMember has no {', '.join(sorted(unknown))}")
    return {"status": status, "user": user, **_MEMBER_FIELDS[status], **fields}


def _need(api: GroupsMixin, params: Params, *names: str) -> None:
    for name in names:
        if params.get(name) in (None, ""):
            api._refuse(400, f"Bad Request: {name} is empty")
