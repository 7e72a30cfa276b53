"""Residents who asked for reminders, in bulk, as the bot would have kept them: a Resident with
the sealed chat id, a consented profile and one topic. For the crash and replica tests and the
reminders benchmark (tens of thousands of rows in seconds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keyring import KeyRing
from bot.residents.models import Resident
from jobs.models import ReminderProfile, ReminderRule, ReminderSubscription, RuleState

CHUNK = 5000


async def seed_recipients(
    sessions: async_sessionmaker[AsyncSession],
    keyring: KeyRing,
    chat_ids: Sequence[int],
    *,
    topic: str,
    now: datetime,
    quiet: tuple[int, int] = (21 * 60, 8 * 60),
    town: str | None = None,
    birth: tuple[int, int] | None = None,
) -> list[str]:
    """Keys of the residents made, in the order of ``chat_ids``."""
    keys = [keyring.pseudonym("telegram", str(chat)) for chat in chat_ids]
    for start in range(0, len(keys), CHUNK):
        part = range(start, min(start + CHUNK, len(keys)))
        async with sessions() as session, session.begin():
            await session.execute(
                insert(Resident),
                [
                    {
                        "channel": "telegram",
                        "user_key": keys[i],
                        "chat_sealed": keyring.seal(str(chat_ids[i])),
                        "reachable_for": "reminder",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in part
                ],
            )
            await session.execute(
                insert(ReminderProfile),
                [
                    {
                        "channel": "telegram",
                        "user_key": keys[i],
                        "consented_at": now,
                        "town": town,
                        "birth_year": birth[0] if birth else None,
                        "birth_month": birth[1] if birth else None,
                        "quiet_start": quiet[0],
                        "quiet_end": quiet[1],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in part
                ],
            )
            await session.execute(
                insert(ReminderSubscription),
                [
                    {
                        "channel": "telegram",
                        "user_key": keys[i],
                        "topic": topic,
                        "subscribed": True,
                        "changed_at": now,
                    }
                    for i in part
                ],
            )
    return keys


async def add_campaign(
    sessions: async_sessionmaker[AsyncSession],
    *,
    on: date,
    topic: str,
    message: str,
    send_at: int = 0,
) -> int:
    async with sessions() as session, session.begin():
        rule = ReminderRule(
            name="测试活动",
            kind="calendar",
            topic=topic,
            message=message,
            on_date=on,
            send_at=send_at,
            state=RuleState.active,
            created_by="test",
            updated_by="test",
            approved_by="reviewer",
        )
        session.add(rule)
        await session.flush()
        assert rule.id is not None
        return rule.id
