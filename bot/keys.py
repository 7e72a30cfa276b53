"""Typed keys for everything shared on the aiohttp ``Application`` (no string keys, no globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.conversation.core import Conversation
from bot.database import DatabaseState
from bot.escalations.relay import Relay
from bot.escalations.service import Cases
from bot.keyring import KeyRing
from bot.reminders.service import Reminders
from bot.settings import Settings
from bot.web.metrics import HttpMetrics
from directory.service import Directory
from knowledge.service import KnowledgeBase

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
DATABASE_STATE = web.AppKey("database_state", DatabaseState)
METRICS = web.AppKey("metrics", HttpMetrics)
KNOWLEDGE = web.AppKey("knowledge", KnowledgeBase)
DIRECTORY = web.AppKey("directory", Directory)
CONVERSATION = web.AppKey("conversation", Conversation)
KEYRING = web.AppKey("keyring", KeyRing)
CASES = web.AppKey("cases", Cases)
RELAY = web.AppKey("relay", Relay)
REMINDERS = web.AppKey("reminders", Reminders)
if TYPE_CHECKING:
    from telegram.ext import Application as TelegramApplication

# Absent when Telegram is off (no token); python-telegram-bot is then never imported.
TELEGRAM: web.AppKey[TelegramApplication[Any, Any, Any, Any, Any, Any]] = web.AppKey("telegram")
