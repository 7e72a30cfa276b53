"""The ``jobs.sender.Messenger`` on Telegram: the recipient's sealed chat id opened, the
reminder rendered as residents see it, sent in the bulk lane of the shared budget.

At most once: a send that failed before reaching Telegram (no connection) is tried again; one
whose answer was lost on the way back (a read timeout, a dropped connection) may have been
delivered, so it is not sent again but recorded as failed with that reason.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot

from bot.keyring import KeyRing
from bot.reminders.render import notification
from bot.residents import reach
from bot.telegram.render import markup, pieces
from jobs.sender import Blocked, Delivered, Outcome, Outgoing, RetryLater, Undeliverable

log = logging.getLogger(__name__)

# Telegram answered that it is unwell: the message was not taken.
SERVER_TROUBLE = ("Bad Gateway", "Service Unavailable", "Gateway Timeout")


def never_left(exc: NetworkError) -> bool:
    """The request never reached Telegram (no connection, the connect timed out, DNS, the
    proxy), or Telegram said it took nothing: safe to send again."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return True
    return not isinstance(exc, TimedOut) and any(s in str(exc) for s in SERVER_TROUBLE)


class TelegramMessenger:
    def __init__(
        self,
        bot: ExtBot[Any],
        *,
        sessions: async_sessionmaker[AsyncSession],
        keyring: KeyRing,
        tz: ZoneInfo,
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.keyring = keyring
        self.tz = tz

    async def _chat(self, reminder: Outgoing) -> str | None:
        async with self.sessions() as session:
            found = await reach.resident(session, reminder.channel, reminder.recipient_key)
            if found is not None and found.inactive_since is not None:
                return None
            return reach.chat_id(self.keyring, found)

    async def send(self, reminder: Outgoing) -> Outcome:
        if reminder.channel != "telegram":
            return Undeliverable("只有 Telegram 能收提醒")
        chat = await self._chat(reminder)
        if chat is None:
            return Undeliverable("没有保存居民的 Telegram 账号")
        reply = notification(reminder)
        try:
            message = await self.bot.send_message(
                chat,
                pieces(reply.text)[0],
                parse_mode=ParseMode.HTML,
                reply_markup=markup(reply),
                rate_limit_args={"bulk": True},
            )
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
            return RetryLater(seconds, "Telegram 限流（429）")
        except Forbidden:
            await self._inactive(reminder)
            return Blocked()
        except BadRequest as exc:
            return Undeliverable(f"Telegram 拒收：{exc.message}")
        except NetworkError as exc:
            if never_left(exc):
                return RetryLater(30, f"连不上 Telegram：{exc}")
            log.warning("a reminder's send is in doubt; not sent again", extra={"row": reminder.id})
            return Undeliverable("发送超时，可能已送达，为免重复不再重发")
        return Delivered(message.message_id)

    async def _inactive(self, reminder: Outgoing) -> None:
        async with self.sessions() as session, session.begin():
            await reach.mark_inactive(
                session,
                channel=reminder.channel,
                user_key=reminder.recipient_key,
                now=datetime.now(self.tz),
            )
