"""What python-telegram-bot keeps per resident (``user_data``), stored by ``DatabasePersistence``.

Rows are keyed by the resident's pseudonymous key (a keyed hash of the Telegram id, the same key
as the question log), never by the raw id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from bot.conversation.models import utcnow
from knowledge.models import UtcDateTime


class TelegramData(SQLModel, table=True):
    __tablename__ = "telegram_data"

    # "user" (python-telegram-bot's user_data); room for "chat" should it be needed.
    kind: str = Field(primary_key=True, max_length=16)
    key: str = Field(primary_key=True, max_length=64)
    # A JSON object.
    data: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False)
    )
