"""Telegram handlers for residents (private chats). Thin: turn an update into an action, ask
the conversation, send its replies. Everything a resident can do is decided in
``bot.conversation``; the advisors' group has its own handlers (``bot.telegram.advisors``).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
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

from bot.conversation.buttons import ADVISOR_KINDS, decode
from bot.conversation.flood import FloodGuard
from bot.conversation.messages import (
    Action,
    Command,
    Contact,
    Forwarded,
    Location,
    Media,
    Press,
    Reply,
    Text,
)
from bot.conversation.texts import COMMANDS as RESIDENT_COMMAND_NAMES
from bot.conversation.texts import FLOOD_NOTICE
from bot.telegram import texts
from bot.telegram.render import PIECE_CHARS, SEND_LOCATION, markup, pieces
from bot.telegram.services import SERVICES, BotServices
from directory.service import DirectoryNotReady
from knowledge.service import KnowledgeNotReady

log = logging.getLogger(__name__)

COMMANDS = [BotCommand(name, what) for name, what in RESIDENT_COMMAND_NAMES.items()]
RESIDENT_COMMANDS = list(RESIDENT_COMMAND_NAMES)
MEDIA = (
    filters.VOICE
    | filters.AUDIO
    | filters.Sticker.ALL
    | filters.PHOTO
    | filters.Document.ALL
    | filters.VIDEO
    | filters.VIDEO_NOTE
)


class MinzhengContext(
    CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]
):
    """The callback context, with the services the handlers use."""

    @property
    def services(self) -> BotServices:
        services = self.application.bot_data.get(SERVICES)
        if services is None:
            raise RuntimeError("the bot was started without its services")
        return services

    @property
    def flood(self) -> FloodGuard:
        return self.services.flood

    def chat_lock(self, chat_id: int) -> asyncio.Lock:
        """Updates of one chat in order; of different chats, at once."""
        locks = self.services.chat_locks
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


def _source(message: Message) -> tuple[int, int]:
    return message.chat_id, message.message_id


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
    services = context.services
    key = services.resident_key(user.id)
    async with context.chat_lock(message.chat_id):
        delay, notify = context.flood.check(key)
        try:
            if notify:
                await send(message, Reply(FLOOD_NOTICE))
            if delay:
                await asyncio.sleep(delay)
            try:
                # Only a private chat is kept to answer in: an advisor's answer must never
                # land in a group the resident wrote from.
                private = message.chat.type == ChatType.PRIVATE
                replies = await services.conversation.handle(
                    "telegram", key, action, chat_id=str(message.chat_id) if private else None
                )
            except (KnowledgeNotReady, DirectoryNotReady):
                replies = [Reply(texts.STARTING)]
            for reply in replies:
                await send(message, reply, pressed)
        except ResidentBlockedBot:
            # Telegram's 403: stop sending; a case under way is closed, the advisor told.
            await services.conversation.unreachable("telegram", key, datetime.now(services.tz))
            log.info("resident blocked the bot; marked inactive", extra={"resident": key})


async def on_command(update: Update, context: MinzhengContext) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    head, _, args = message.text.partition(" ")
    name = head.lstrip("/").split("@")[0].lower()
    await _answer(update, context, Command(name, args=args.strip()[:100]))


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
    await _answer(update, context, Text(text, source=_source(message)))


async def on_location(update: Update, context: MinzhengContext) -> None:
    message = update.effective_message
    if message is None or message.location is None:
        return
    location = message.location
    await _answer(
        update,
        context,
        Location(location.latitude, location.longitude, source=_source(message)),
    )


async def on_contact(update: Update, context: MinzhengContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or message.contact is None or user is None:
        return
    contact = message.contact
    own = contact.user_id == user.id
    await _answer(update, context, Contact(contact.phone_number, own=own, source=_source(message)))


def _media_kind(message: Message) -> str:
    for kind in ("photo", "voice", "audio", "document", "video", "video_note", "sticker"):
        if getattr(message, kind):
            return kind
    return "document"


async def on_media(update: Update, context: MinzhengContext) -> None:
    message = update.effective_message
    if message is None:
        return
    action = Media(_media_kind(message), caption=message.caption, source=_source(message))
    await _answer(update, context, action)


async def on_forwarded(update: Update, context: MinzhengContext) -> None:
    """A message forwarded to the bot: is it really from us? (before any other handler)."""
    message = update.effective_message
    if message is None or message.forward_origin is None:
        return
    origin = message.forward_origin
    sender = getattr(origin, "sender_user", None)
    ours = sender is not None and sender.id == context.bot.id
    text = message.text or message.caption or ""
    await _answer(update, context, Forwarded(text[:4096], from_this_bot=ours, sent_at=origin.date))


def _resident_button(data: object) -> bool:
    """Buttons of residents' messages; the advisors' card buttons have their own handler."""
    return isinstance(data, str) and not isinstance(decode(data), ADVISOR_KINDS)


async def on_button(update: Update, context: MinzhengContext) -> None:
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    await _answer(update, context, Press(query.data or ""), pressed=query)


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


def register_handlers(application: Application, advisor_chat_id: int | None = None) -> None:
    """Residents' private chats here; the advisors' group in ``bot.telegram.advisors``, added
    first so that its updates never reach the residents' handlers."""
    from bot.telegram import advisors

    advisors.register_handlers(application, advisor_chat_id)
    private = filters.ChatType.PRIVATE
    # Other groups the bot was added to: it answers when mentioned; never in the advisors'.
    groups: filters.BaseFilter = filters.ChatType.GROUPS
    if advisor_chat_id is not None:
        groups = groups & ~filters.Chat(chat_id=advisor_chat_id)
    mentioned = groups & filters.Entity(MessageEntity.MENTION)
    application.add_handler(MessageHandler(filters.FORWARDED & private, on_forwarded))
    application.add_handler(CommandHandler(RESIDENT_COMMANDS, on_command, filters=private | groups))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & (private | mentioned), on_text)
    )
    application.add_handler(MessageHandler(filters.LOCATION & private, on_location))
    application.add_handler(MessageHandler(filters.CONTACT & private, on_contact))
    application.add_handler(CallbackQueryHandler(on_button, pattern=_resident_button))
    application.add_handler(MessageHandler(private & MEDIA, on_media))
    application.add_error_handler(on_error)
