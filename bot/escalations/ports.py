"""What the escalation service needs from the outside, as small protocols: the advisors' desk
(a Telegram group, in ``bot.telegram.desk``) and a line to a resident who is not writing at that
moment (Telegram's sendMessage). Tests use fakes of these; the web chat and the console need
neither, since they read the transcript themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.conversation.messages import Button, Reply


@dataclass(frozen=True)
class Card:
    """A case as the group sees it: the topic's name, the card's text and its buttons."""

    case_id: int
    title: str
    text: str
    buttons: tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class DeskRef:
    chat_id: int
    # The forum topic; None in an ordinary group, where advisors reply to the card.
    thread_id: int | None
    card_message_id: int


@dataclass(frozen=True)
class DeskPost:
    text: str
    # A resident's Telegram message (chat id, message id) to copy rather than to retell: a
    # photo, a voice message, a document. ``text`` is then its caption.
    copy_from: tuple[int, int] | None = None
    # HTML already (a mention of the advisor); otherwise the text is escaped.
    html: bool = False


class Unreachable(Exception):
    """The resident cannot be sent anything: they blocked the bot (Telegram's 403)."""


class Desk(Protocol):
    async def open_case(self, card: Card) -> DeskRef: ...

    async def edit_card(self, ref: DeskRef, card: Card) -> None: ...

    async def post(self, ref: DeskRef, post: DeskPost) -> int: ...

    async def set_closed(self, ref: DeskRef, closed: bool) -> None: ...

    async def delete_case(self, ref: DeskRef) -> None: ...

    async def post_general(self, chat_id: int, post: DeskPost) -> int: ...


class ResidentLine(Protocol):
    async def send(self, chat_id: str, reply: Reply) -> None: ...
