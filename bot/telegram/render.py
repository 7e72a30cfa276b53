"""Replies of the conversation core as Telegram messages: HTML-escaped text in pieces under
Telegram's 4,096 characters, inline buttons, big reply-keyboard buttons, a location request."""

from __future__ import annotations

import html

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.conversation.messages import Reply

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
    if reply.buttons:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
                for row in reply.buttons
            ]
        )
    if reply.request_location:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(SEND_LOCATION, request_location=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if reply.keyboard:
        return ReplyKeyboardMarkup([list(row) for row in reply.keyboard], resize_keyboard=True)
    return None
