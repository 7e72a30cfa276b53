"""Telegram handlers. Thin: turn an update into an action, ask the conversation core, send its
replies. Everything a resident can do is decided in ``bot.conversation``."""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from telegram import BotCommand, Message, MessageEntity, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import (
    Application,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from bot.conversation.core import Conversation, pseudonym
from bot.conversation.flood import FloodGuard
from bot.conversation.messages import Action, Command, Location, Press, Reply, Text
from bot.conversation.texts import FLOOD_NOTICE
from bot.telegram import texts
from bot.telegram.render import SEND_LOCATION, markup, pieces
from directory.service import DirectoryNotReady
from knowledge.service import KnowledgeNotReady

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "开始使用"),
    BotCommand("help", "怎么用"),
    BotCommand("hotline", "热线电话"),
    BotCommand("stop", "删除我的数据"),
]
CONVERSATION = "conversation"
SECRET = "secret"
FLOOD = "flood"
CHAT_LOCKS = "chat_locks"


class MinzhengContext(
    CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]
):
    """The callback context, with the services the handlers use."""

    @property
    def conversation(self) -> Conversation | None:
        return self.application.bot_data.get(CONVERSATION)

    @property
    def secret(self) -> str:
        return str(self.application.bot_data[SECRET])

    @property
    def flood(self) -> FloodGuard:
        return self.application.bot_data.setdefault(FLOOD, FloodGuard())

    def chat_lock(self, chat_id: int) -> asyncio.Lock:
        """Updates of one chat in order; of different chats, at once."""
        locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            self.application.bot_data.setdefault(CHAT_LOCKS, weakref.WeakValueDictionary())
        )
        lock = locks.get(chat_id)
        if lock is None:
            lock = locks[chat_id] = asyncio.Lock()
        return lock


async def send(message: Message, reply: Reply) -> None:
    venue = reply.venue
    if venue is not None and venue.latitude is not None and venue.longitude is not None:
        await message.reply_venue(
            latitude=venue.latitude,
            longitude=venue.longitude,
            title=venue.name[:100],
            address=(venue.address or "地址以实际公布为准")[:100],
            do_quote=False,
        )
    parts = pieces(reply.text)
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        await message.reply_text(
            part,
            parse_mode=ParseMode.HTML,
            reply_markup=markup(reply) if last else None,
            do_quote=False,
        )


async def _answer(update: Update, context: MinzhengContext, action: Action) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    conversation = context.conversation
    if conversation is None:
        # Wired without the core (e.g. a test of the transport alone): greet only.
        await message.reply_text(texts.GREETING)
        return
    key = pseudonym(context.secret, "telegram", str(user.id))
    async with context.chat_lock(message.chat_id):
        delay, notify = context.flood.check(key)
        if notify:
            await send(message, Reply(FLOOD_NOTICE))
        if delay:
            await asyncio.sleep(delay)
        try:
            replies = await conversation.handle("telegram", key, action)
        except (KnowledgeNotReady, DirectoryNotReady):
            replies = [Reply(texts.STARTING)]
        for reply in replies:
            await send(message, reply)


async def on_command(update: Update, context: MinzhengContext) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    name = message.text.split()[0].lstrip("/").split("@")[0].lower()
    await _answer(update, context, Command(name))


async def on_text(update: Update, context: MinzhengContext) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    text = message.text
    if message.chat.type != ChatType.PRIVATE:
        # In a group the bot only answers when mentioned: drop the mention itself.
        text = text.replace(f"@{context.bot.username}", " ")
    if text.strip() == SEND_LOCATION:
        return
    await _answer(update, context, Text(text))


async def on_location(update: Update, context: MinzhengContext) -> None:
    message = update.effective_message
    if message is None or message.location is None:
        return
    location = message.location
    await _answer(update, context, Location(location.latitude, location.longitude))


async def on_button(update: Update, context: MinzhengContext) -> None:
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    await _answer(update, context, Press(query.data or ""))


async def on_media(update: Update, context: MinzhengContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(texts.TEXT_ONLY)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: the traceback to the log, a calm word to the resident."""
    log.error("telegram handler failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.SOMETHING_WENT_WRONG)
        except Exception:
            log.exception("could not tell the resident about the failure")


def register_handlers(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    mentioned = filters.ChatType.GROUPS & filters.Entity(MessageEntity.MENTION)
    application.add_handler(CommandHandler(["start", "help", "hotline"], on_command))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & (private | mentioned), on_text)
    )
    application.add_handler(MessageHandler(filters.LOCATION & private, on_location))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(
        MessageHandler(
            private
            & (
                filters.VOICE
                | filters.AUDIO
                | filters.Sticker.ALL
                | filters.PHOTO
                | filters.Document.ALL
                | filters.VIDEO
                | filters.VIDEO_NOTE
            ),
            on_media,
        )
    )
    application.add_error_handler(on_error)
