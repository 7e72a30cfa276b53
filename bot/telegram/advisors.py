"""Telegram handlers for the advisors' group (``MINZHENG_ADVISOR_CHAT_ID``): the buttons on a
case's card (认领 · 结案 · 转电话回访 · 已回电) and what advisors write in a case's topic, which
reaches the resident. Only registered advisors act; anyone else is told, and nothing of theirs
is relayed. Also ``/link CODE``, sent privately, which links an advisor's Telegram account.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.conversation.buttons import CalledBack, Claim, CloseCase, OfferCallback, decode
from bot.escalations import advisors, callbacks
from bot.escalations.service import Refused

if TYPE_CHECKING:
    from bot.telegram.handlers import MinzhengContext

log = logging.getLogger(__name__)

NOT_ADVISOR = (
    "您还不是登记的养老顾问，消息不会转给居民。请在控制台“我的账号”里生成绑定码，"
    "再私聊本助手发送 /link 绑定码。"
)
ONLY_IN_GROUP = "案件只能在养老顾问群里处理。"
ONLY_TEXT = "目前只能把文字转给居民，照片和文件请在文字里说明。"
# A Telegram user may try this many link codes an hour (against guessing).
LINK_TRIES_PER_HOUR = 5


def _is_advisor_button(data: object) -> bool:
    return isinstance(data, str) and isinstance(
        decode(data), Claim | CloseCase | OfferCallback | CalledBack
    )


async def _notice(message: Message, text: str) -> None:
    try:
        await message.reply_text(text, do_quote=True)
    except TelegramError as exc:
        # A closed topic takes no reply: nothing more to say there.
        log.info("could not answer in the advisors' group", extra={"reason": str(exc)})


async def on_card_button(update: Update, context: MinzhengContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    services = context.services
    data = decode(query.data or "")
    now = datetime.now(services.tz)
    pressed_in = query.message.chat.id if query.message is not None else None
    if pressed_in != services.advisor_chat_id:
        # A card's buttons act only in the advisors' group (not on a copy elsewhere).
        await query.answer(ONLY_IN_GROUP, show_alert=True)
        return
    async with services.sessions() as session:
        advisor = await advisors.by_telegram(session, query.from_user.id)
    if advisor is None:
        await query.answer(NOT_ADVISOR, show_alert=True)
        return
    async with services.sessions() as session, session.begin():
        answer = "好的"
        try:
            if isinstance(data, Claim):
                claimed = await services.cases.claim(session, data.case_id, advisor, now=now)
                if claimed.won:
                    answer = f"认领成功：案件 #{data.case_id} 由您（{advisor.badge}）负责。"
                elif claimed.holder is None:
                    answer = "这个案件已经结案了。"
                else:
                    answer = f"晚了一步：案件 #{data.case_id} 已由工号 {claimed.holder} 认领。"
            elif isinstance(data, CloseCase):
                closed = await services.cases.close(
                    session, data.case_id, by="advisor", actor=advisor.name, now=now
                )
                answer = "已结案。" if closed else "这个案件已经结案了。"
            elif isinstance(data, OfferCallback):
                answer = await callbacks.offer_callback(
                    services.cases, session, data.case_id, now=now
                )
            elif isinstance(data, CalledBack):
                await callbacks.mark_called(
                    services.cases, session, data.case_id, advisor, result=data.result, now=now
                )
                answer = f"已记下：{callbacks.CALL_RESULTS[data.result]}。"
        except Refused as refused:
            answer = str(refused)
    await query.answer(answer[:200], show_alert=not answer.startswith(("认领成功", "已")))
    if isinstance(data, Claim | CloseCase | OfferCallback | CalledBack):
        await services.relay.sync(data.case_id)


async def on_group_message(update: Update, context: MinzhengContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or user.is_bot:
        return
    services = context.services
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    thread_id = message.message_thread_id if message.is_topic_message else None
    now = datetime.now(services.tz)
    async with services.sessions() as session, session.begin():
        case_id = await advisors.case_at_desk(
            session, message.chat_id, thread_id=thread_id, reply_to=reply_to
        )
        if case_id is None:
            return  # the group's own talk, not a case
        advisor = await advisors.by_telegram(session, user.id)
        if advisor is None:
            notice: str | None = NOT_ADVISOR
        elif not message.text:
            notice = ONLY_TEXT
        else:
            notice = None
            try:
                await services.cases.from_advisor(
                    session,
                    case_id,
                    advisor,
                    text=message.text,
                    via="telegram",
                    source=(message.chat_id, message.message_id),
                    now=now,
                )
            except Refused as refused:
                notice = str(refused)
    if notice is not None:
        await _notice(message, notice)
        return
    await services.relay.sync(case_id)


async def on_link(update: Update, context: MinzhengContext) -> None:
    """/link CODE in a private chat: this Telegram account becomes the advisor's."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or not message.text:
        return
    services = context.services
    tries = services.link_tries.setdefault(user.id, [])
    hour_ago = time.monotonic() - 3600
    tries[:] = [t for t in tries if t > hour_ago]
    if len(tries) >= LINK_TRIES_PER_HOUR:
        await message.reply_text("试得太多了，请一小时后再试。")
        return
    tries.append(time.monotonic())
    parts = message.text.split(maxsplit=1)
    if len(parts) < 2:
        await message.reply_text("请发送：/link 绑定码（绑定码在控制台“我的账号”里生成）。")
        return
    now = datetime.now(services.tz)
    async with services.sessions() as session, session.begin():
        staff = await advisors.redeem_link_code(session, parts[1], user.id, now=now)
    if staff is None:
        await message.reply_text("绑定码不对或已过期，请在控制台重新生成。")
        return
    await message.reply_text(
        f"已绑定：您的 Telegram 账号现在是控制台账号“{staff.name}”（工号 {staff.id}）。"
    )


def register_handlers(application: Application, advisor_chat_id: int | None) -> None:
    application.add_handler(CommandHandler("link", on_link, filters=filters.ChatType.PRIVATE))
    if advisor_chat_id is None:
        return
    desk = filters.Chat(chat_id=advisor_chat_id)
    application.add_handler(CallbackQueryHandler(on_card_button, pattern=_is_advisor_button))
    application.add_handler(
        MessageHandler(desk & ~filters.COMMAND & ~filters.StatusUpdate.ALL, on_group_message)
    )
