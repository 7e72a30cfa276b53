"""The escalation service's ports on Telegram: the advisors' group as the desk (a forum topic
per case, or in an ordinary group a card that advisors reply to), and the line to a resident.
"""

from __future__ import annotations

import html
import logging

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden

from bot.conversation.messages import Reply
from bot.escalations.ports import Card, DeskPost, DeskRef, Unreachable
from bot.telegram.render import inline_markup, markup, pieces

log = logging.getLogger(__name__)

# Telegram's answers when a topic is already as asked: not a failure.
_ALREADY = ("TOPIC_NOT_MODIFIED", "message is not modified", "TOPIC_CLOSED")


class TelegramDesk:
    def __init__(self, bot: Bot, chat_id: int, *, forum: bool) -> None:
        self.bot = bot
        self.chat_id = chat_id
        # A forum supergroup: one topic per case. Otherwise the card is replied to.
        self.forum = forum

    async def open_case(self, card: Card) -> DeskRef:
        thread_id = None
        if self.forum:
            topic = await self.bot.create_forum_topic(self.chat_id, card.title)
            thread_id = topic.message_thread_id
        message = await self.bot.send_message(
            self.chat_id,
            html.escape(card.text, quote=False),
            parse_mode=ParseMode.HTML,
            message_thread_id=thread_id,
            reply_markup=inline_markup(card.buttons) if card.buttons else None,
        )
        return DeskRef(self.chat_id, thread_id, message.message_id)

    async def edit_card(self, ref: DeskRef, card: Card) -> None:
        try:
            await self.bot.edit_message_text(
                html.escape(card.text, quote=False),
                chat_id=ref.chat_id,
                message_id=ref.card_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=inline_markup(card.buttons) if card.buttons else None,
            )
        except BadRequest as exc:
            if not any(word in exc.message for word in _ALREADY):
                raise

    async def post(self, ref: DeskRef, post: DeskPost) -> int:
        # In an ordinary group every message of a case answers its card, so that an advisor's
        # reply to any of them finds the case.
        reply_to = None if ref.thread_id is not None else ReplyParameters(ref.card_message_id)
        if post.copy_from is not None:
            copied = await self.bot.copy_message(
                ref.chat_id,
                from_chat_id=post.copy_from[0],
                message_id=post.copy_from[1],
                message_thread_id=ref.thread_id,
                # Telegram's 1,024 count the text as shown: cut it before escaping, so that no
                # entity such as &amp; is cut in two.
                caption=html.escape(post.text[:1000], quote=False),
                parse_mode=ParseMode.HTML,
                reply_parameters=reply_to,
            )
            return copied.message_id
        last: Message | None = None
        for part in pieces(post.text) if not post.html else [post.text]:
            last = await self.bot.send_message(
                ref.chat_id,
                part,
                parse_mode=ParseMode.HTML,
                message_thread_id=ref.thread_id,
                reply_parameters=reply_to,
            )
        assert last is not None
        return last.message_id

    async def set_closed(self, ref: DeskRef, closed: bool) -> None:
        if ref.thread_id is None:
            return  # an ordinary group has no topics: the card says 已结案
        try:
            if closed:
                await self.bot.close_forum_topic(ref.chat_id, ref.thread_id)
            else:
                await self.bot.reopen_forum_topic(ref.chat_id, ref.thread_id)
        except BadRequest as exc:
            if not any(word in exc.message for word in _ALREADY):
                raise

    async def post_general(self, chat_id: int, post: DeskPost) -> int:
        message = await self.bot.send_message(
            chat_id, html.escape(post.text, quote=False), parse_mode=ParseMode.HTML
        )
        return message.message_id

    async def delete_case(self, ref: DeskRef) -> None:
        """The resident deleted their data (/stop): the case's topic goes with its messages
        (in an ordinary group, its card)."""
        try:
            if ref.thread_id is not None:
                await self.bot.delete_forum_topic(ref.chat_id, ref.thread_id)
            else:
                await self.bot.delete_message(ref.chat_id, ref.card_message_id)
        except BadRequest as exc:
            log.info(
                "could not delete a case in the advisors' group", extra={"reason": exc.message}
            )


class TelegramLine:
    """Messages to a resident who is not writing at that moment (an advisor's answer)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: str, reply: Reply) -> None:
        parts = pieces(reply.text)
        try:
            for n, part in enumerate(parts):
                await self.bot.send_message(
                    int(chat_id),
                    part,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup(reply) if n == len(parts) - 1 else None,
                )
        except Forbidden as exc:
            raise Unreachable(str(exc)) from exc
