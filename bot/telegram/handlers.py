"""Telegram handlers. Thin: turn an update into an action, ask the conversation core, send its
replies. Everything a resident can do is decided in ``bot.conversation``."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import weakref
from datetime import datetime
from typing import Any

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden
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
from bot.telegram.render import PIECE_CHARS, SEND_LOCATION, markup, pieces
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
# In a resident's user_data: when a message to them was refused because they blocked the bot.
INACTIVE_SINCE = "inactive_since"


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


class ResidentBlockedBot(Exception):
    """Telegram answered 403: the resident blocked the bot."""


async def send(message: Message, reply: Reply, pressed: CallbackQuery | None = None) -> None:
    """Send one reply of the core as Telegram messages. Raises ``ResidentBlockedBot`` on 403."""
    try:
        if reply.acknowledges_press and pressed is not None and await _acknowledge(pressed, reply):
            return
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
    except Forbidden as exc:
        raise ResidentBlockedBot(str(exc)) from exc


async def _acknowledge(pressed: CallbackQuery, reply: Reply) -> bool:
    """Add the acknowledgement to the message whose button was pressed and take that button's
    row away, so feedback is given once. False when the message cannot be edited."""
    original = pressed.message
    if not isinstance(original, Message) or original.text is None:
        return False
    text = f"{original.text_html}\n\n✅ {html.escape(reply.text, quote=False)}"
    if len(text) > PIECE_CHARS:
        return False
    rows = [
        row
        for row in (original.reply_markup.inline_keyboard if original.reply_markup else ())
        if not any(button.callback_data == pressed.data for button in row)
    ]
    try:
        await pressed.edit_message_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup(rows) if rows else None,
        )
    except BadRequest as exc:
        log.info("could not edit the pressed message; sending anew", extra={"reason": str(exc)})
        return False
    return True


async def _answer(
    update: Update,
    context: MinzhengContext,
    action: Action,
    pressed: CallbackQuery | None = None,
) -> None:
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
    user_data = context.user_data
    async with context.chat_lock(message.chat_id):
        if user_data is not None:
            # They wrote to us, so they have not (or no longer) blocked the bot.
            user_data.pop(INACTIVE_SINCE, None)
        delay, notify = context.flood.check(key)
        try:
            if notify:
                await send(message, Reply(FLOOD_NOTICE))
            if delay:
                await asyncio.sleep(delay)
            try:
                replies = await conversation.handle("telegram", key, action, store=user_data)
            except (KnowledgeNotReady, DirectoryNotReady):
                replies = [Reply(texts.STARTING)]
            if isinstance(action, Command) and action.name == "stop":
                # /stop: the persisted step goes too, before we say it is gone.
                context.application.drop_user_data(user.id)
                await context.application.update_persistence()
            for reply in replies:
                await send(message, reply, pressed)
        except ResidentBlockedBot:
            # Telegram's 403: stop sending; reminders skip residents marked inactive.
            if user_data is not None:
                user_data[INACTIVE_SINCE] = datetime.now(conversation.tz).isoformat()
            log.info("resident blocked the bot; marked inactive", extra={"resident": key})


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
        # In a group the bot answers only when it is mentioned (not another member).
        mention = re.compile(re.escape(f"@{context.bot.username}"), re.IGNORECASE)
        if not mention.search(text):
            return
        text = mention.sub(" ", text)
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
    await _answer(update, context, Press(query.data or ""), pressed=query)


async def on_media(update: Update, context: MinzhengContext) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(texts.TEXT_ONLY)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: the traceback to the log, a calm word to the resident."""
    if isinstance(context.error, Forbidden):
        log.info("a message was refused: the resident blocked the bot")
        return
    log.error("telegram handler failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.SOMETHING_WENT_WRONG)
        except Exception:
            log.exception("could not tell the resident about the failure")


def register_handlers(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    mentioned = filters.ChatType.GROUPS & filters.Entity(MessageEntity.MENTION)
    application.add_handler(CommandHandler(["start", "help", "hotline", "stop"], on_command))
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
