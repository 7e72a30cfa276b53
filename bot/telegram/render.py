"""Replies of the conversation core as Telegram messages: HTML-escaped text in pieces under
Telegram's 4,096 characters, inline buttons, big reply-keyboard buttons, a location request."""

from __future__ import annotations

import html
from functools import lru_cache

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.conversation.messages import Button, Reply
from bot.conversation.texts import CANCEL, SHARE_PHONE

# Below Telegram's 4,096, leaving room for the escaping of < > &.
PIECE_CHARS = 3500
SEND_LOCATION = "📍 发送我的位置"


def pieces(text: str, limit: int = PIECE_CHARS) -> list[str]:
    """Split at line breaks where possible; never cut inside an HTML entity."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            out.append(current)
            current = line
        else:
            current = candidate
    if current or not out:
        out.append(current)
    return [html.escape(piece, quote=False) or "…" for piece in out]


def markup(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if reply.request_contact:
        # Telegram shares a phone number only from a keyboard button, not an inline one.
        return _ASK_CONTACT
    if reply.buttons:
        return inline_markup(reply.buttons)
    if reply.request_location:
        return _ASK_LOCATION
    if reply.keyboard:
        return _keyboard(reply.keyboard)
    return None


# PTB's markup objects are immutable, so one built for a row of buttons serves every message
# that carries the same buttons (an entry's answer always does): about 40 µs a message saved.
@lru_cache(maxsize=4096)
def inline_markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows]
    )


@lru_cache(maxsize=64)
def _keyboard(rows: tuple[tuple[str, ...], ...]) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup([list(row) for row in rows], resize_keyboard=True)


_ASK_CONTACT = ReplyKeyboardMarkup(
    [[KeyboardButton(SHARE_PHONE, request_contact=True)], [KeyboardButton(CANCEL)]],
    resize_keyboard=True,
    one_time_keyboard=True,
)
_ASK_LOCATION = ReplyKeyboardMarkup(
    [[KeyboardButton(SEND_LOCATION, request_location=True)]],
    resize_keyboard=True,
    one_time_keyboard=True,
)
