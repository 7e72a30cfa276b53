"""What the Telegram handlers use, built by the composition root and put in ``bot_data``
under one key (``SERVICES``), typed."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.conversation.core import Conversation
from bot.conversation.flood import FloodGuard
from bot.escalations.relay import Relay
from bot.escalations.service import Cases
from bot.keyring import KeyRing

SERVICES = "services"


@dataclass
class BotServices:
    conversation: Conversation
    keyring: KeyRing
    sessions: async_sessionmaker[AsyncSession]
    cases: Cases
    relay: Relay
    tz: ZoneInfo
    # The advisors' group; None when no group is configured.
    advisor_chat_id: int | None = None
    flood: FloodGuard = field(default_factory=FloodGuard)
    chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )
    # When each Telegram user last tried a link code (against guessing), this process.
    link_tries: dict[int, list[float]] = field(default_factory=dict)

    def resident_key(self, user_id: int) -> str:
        return self.keyring.pseudonym("telegram", str(user_id))
