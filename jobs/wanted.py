"""Is a reminder still wanted as it goes? Unsubscribing, withdrawing a consent or ending a
family copy cancels what waits; this check at send time covers a row taken at that very
moment, and any path that forgot to cancel."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from jobs.models import (
    CaregiverLink,
    CareState,
    OutboxRow,
    ReminderProfile,
    ReminderRule,
    ReminderSubscription,
    RuleState,
)
from jobs.topics import SENSITIVE


async def rule_in_force(session: AsyncSession, rule_id: int) -> bool:
    state = await session.scalar(
        select(col(ReminderRule.state)).where(col(ReminderRule.id) == rule_id)
    )
    return state == RuleState.active


async def why_not(session: AsyncSession, row: OutboxRow) -> str | None:
    """None when the reminder may go; else why not, in staff's words (the history shows it)."""
    channel, owner = row.channel, row.recipient_key
    if row.caregiver_link_id is not None:
        link = await session.get(CaregiverLink, row.caregiver_link_id)
        if link is None or link.state != CareState.active or link.caregiver_key != owner:
            return "家人副本已结束"
        channel, owner = link.resident_channel, link.resident_key
    subscribed = await session.scalar(
        select(col(ReminderSubscription.subscribed)).where(
            col(ReminderSubscription.channel) == channel,
            col(ReminderSubscription.user_key) == owner,
            col(ReminderSubscription.topic) == row.topic,
        )
    )
    if not subscribed:
        return "居民已退订"
    if row.topic in SENSITIVE:
        consented = await session.scalar(
            select(col(ReminderProfile.sensitive_consented_at)).where(
                col(ReminderProfile.channel) == channel, col(ReminderProfile.user_key) == owner
            )
        )
        if consented is None:
            return "居民未同意此类提醒"
    return None
