"""Telegram handlers. Thin: read the update, call a service, reply."""

from __future__ import annotations

import logging

from telegram import BotCommand, Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.telegram import texts

log = logging.getLogger(__name__)

COMMANDS = [BotCommand("start", "开始使用")]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(texts.GREETING)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: the traceback to the log, a calm word to the resident."""
    log.error("telegram handler failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.SOMETHING_WENT_WRONG)
        except Exception:
            log.exception("could not tell the resident about the failure")


def register_handlers(application: Application) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_error_handler(on_error)
