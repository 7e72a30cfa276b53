"""What a resident chose, as data functions taking a session: consent first, then topics, town,
birth year and month, quiet hours. Every change is written to ``reminder_change`` with its time;
nothing is written before consent; 全部退订 deletes it all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from jobs import outbox
from jobs.models import (
    CaregiverLink,
    CareState,
    CodeAttempt,
    OutboxRow,
    ReminderChange,
    ReminderFact,
    ReminderProfile,
    ReminderSubscription,
)
from jobs.topics import BY_CODE

# The quiet hours a resident may choose from (all cover the night).
QUIET_CHOICES = ((21 * 60, 8 * 60), (20 * 60, 8 * 60), (22 * 60, 7 * 60), (21 * 60, 9 * 60))


class NoConsent(Exception):
    """Nothing is kept before the resident consents."""


def _log(
    session: AsyncSession, channel: str, user_key: str, change: str, detail: str, now: datetime
) -> None:
    session.add(
        ReminderChange(channel=channel, user_key=user_key, change=change, detail=detail, at=now)
    )


async def profile(session: AsyncSession, channel: str, user_key: str) -> ReminderProfile | None:
    return await session.scalar(
        select(ReminderProfile).where(
            col(ReminderProfile.channel) == channel, col(ReminderProfile.user_key) == user_key
        )
    )


async def require(session: AsyncSession, channel: str, user_key: str) -> ReminderProfile:
    found = await profile(session, channel, user_key)
    if found is None:
        raise NoConsent
    return found


async def consent(
    session: AsyncSession, channel: str, user_key: str, now: datetime
) -> ReminderProfile:
    found = await profile(session, channel, user_key)
    if found is not None:
        return found
    found = ReminderProfile(
        channel=channel, user_key=user_key, consented_at=now, created_at=now, updated_at=now
    )
    session.add(found)
    _log(session, channel, user_key, "consent", "同意提醒说明", now)
    return found


async def consent_sensitive(
    session: AsyncSession, channel: str, user_key: str, now: datetime
) -> None:
    found = await require(session, channel, user_key)
    if found.sensitive_consented_at is None:
        found.sensitive_consented_at = now
        found.updated_at = now
        _log(session, channel, user_key, "sensitive_consent", "同意涉及困难救助的提醒", now)


async def topics(session: AsyncSession, channel: str, user_key: str) -> dict[str, bool]:
    rows = await session.execute(
        select(col(ReminderSubscription.topic), col(ReminderSubscription.subscribed)).where(
            col(ReminderSubscription.channel) == channel,
            col(ReminderSubscription.user_key) == user_key,
        )
    )
    return {topic: bool(on) for topic, on in rows}


async def set_topic(
    session: AsyncSession, channel: str, user_key: str, topic: str, on: bool, now: datetime
) -> None:
    """Switch ``topic``; switching a sensitive one on needs its own consent first."""
    found = await require(session, channel, user_key)
    if topic not in BY_CODE:
        raise ValueError(f"no topic {topic!r}")
    if on and BY_CODE[topic].sensitive and found.sensitive_consented_at is None:
        raise NoConsent
    row = await session.scalar(
        select(ReminderSubscription).where(
            col(ReminderSubscription.channel) == channel,
            col(ReminderSubscription.user_key) == user_key,
            col(ReminderSubscription.topic) == topic,
        )
    )
    if row is not None and row.subscribed == on:
        return
    if row is None:
        session.add(
            ReminderSubscription(
                channel=channel, user_key=user_key, topic=topic, subscribed=on, changed_at=now
            )
        )
    else:
        row.subscribed, row.changed_at = on, now
    found.updated_at = now
    _log(session, channel, user_key, "topic_on" if on else "topic_off", topic, now)
    if not on:
        await outbox.cancel(
            session, now=now, why="居民已退订", channel=channel, recipient_key=user_key, topic=topic
        )
        # The family's copies of it too.
        await outbox.cancel(session, now=now, why="居民已退订", for_key=user_key, topic=topic)


async def set_town(
    session: AsyncSession, channel: str, user_key: str, town: str | None, now: datetime
) -> None:
    found = await require(session, channel, user_key)
    found.town, found.updated_at = town, now
    _log(session, channel, user_key, "town", town or "", now)


async def set_birth(
    session: AsyncSession, channel: str, user_key: str, year: int, month: int, now: datetime
) -> None:
    found = await require(session, channel, user_key)
    found.birth_year, found.birth_month, found.updated_at = year, month, now
    _log(session, channel, user_key, "birth", "", now)


async def set_quiet(
    session: AsyncSession, channel: str, user_key: str, start: int, end: int, now: datetime
) -> None:
    if (start, end) not in QUIET_CHOICES:
        raise ValueError("not one of the quiet hours offered")
    found = await require(session, channel, user_key)
    found.quiet_start, found.quiet_end, found.updated_at = start, end, now
    _log(session, channel, user_key, "quiet", f"{start}-{end}", now)


async def active_again(session: AsyncSession, channel: str, user_key: str, now: datetime) -> None:
    """The resident wrote again after blocking the bot: reminders may go to them again."""
    await session.execute(
        update(ReminderProfile)
        .where(
            col(ReminderProfile.channel) == channel,
            col(ReminderProfile.user_key) == user_key,
            col(ReminderProfile.inactive_since).is_not(None),
        )
        .values(inactive_since=None, updated_at=now)
    )


async def history(session: AsyncSession, channel: str, user_key: str) -> list[ReminderChange]:
    rows = await session.scalars(
        select(ReminderChange)
        .where(col(ReminderChange.channel) == channel, col(ReminderChange.user_key) == user_key)
        .order_by(col(ReminderChange.at), col(ReminderChange.id))
    )
    return list(rows)


async def forget(session: AsyncSession, channel: str, user_key: str) -> None:
    """全部退订: everything reminders kept of this resident goes, copies for family included;
    copies they received of someone else's reminders end too."""
    await session.execute(
        delete(OutboxRow).where(
            col(OutboxRow.channel) == channel,
            or_(col(OutboxRow.recipient_key) == user_key, col(OutboxRow.for_key) == user_key),
        )
    )
    for model in (ReminderSubscription, ReminderFact, ReminderChange, CodeAttempt):
        await session.execute(
            delete(model).where(col(model.channel) == channel, col(model.user_key) == user_key)
        )
    await session.execute(
        delete(CaregiverLink).where(
            or_(
                (col(CaregiverLink.resident_channel) == channel)
                & (col(CaregiverLink.resident_key) == user_key),
                (col(CaregiverLink.caregiver_channel) == channel)
                & (col(CaregiverLink.caregiver_key) == user_key),
            )
        )
    )
    await session.execute(
        delete(ReminderProfile).where(
            col(ReminderProfile.channel) == channel, col(ReminderProfile.user_key) == user_key
        )
    )


async def receives_copies(
    session: AsyncSession, channel: str, user_key: str
) -> list[CaregiverLink]:
    rows = await session.scalars(
        select(CaregiverLink).where(
            col(CaregiverLink.caregiver_channel) == channel,
            col(CaregiverLink.caregiver_key) == user_key,
            col(CaregiverLink.state) == CareState.active,
        )
    )
    return list(rows)
