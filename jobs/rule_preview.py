"""What a rule would send, before and while it sends: whom it reaches, how many copies go to
family members, when a campaign goes out next, and a sample of the very text.

Reads only, in the caller's session; ``jobs.rule_editing`` keeps the rules themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from jobs.evaluate import recent_notices, recipients
from jobs.models import FactKind, RuleKind
from jobs.rules import (
    CALENDAR_VALID,
    Recipient,
    Rule,
    cron_trigger,
    evaluate,
    fill,
    in_audience,
    placeholders,
)
from jobs.sender import Outgoing

# What a preview puts in the placeholders: no resident's own facts are shown to staff.
SAMPLE_TOWN = "岳阳街道"
SAMPLE_ITEM = {FactKind.rental_due: "轮椅", FactKind.review_due: "低保复核"}


def next_at(rule: Rule, now: datetime, tz: ZoneInfo) -> datetime | None:
    """When a campaign goes out next (still within its time to go, if it has begun); None for
    rules whose time is each resident's own (due dates, ages) or a change notice's."""
    now = now.astimezone(tz)
    if rule.kind is RuleKind.calendar and rule.on_date is not None:
        at = datetime.combine(rule.on_date, time(rule.send_at // 60, rule.send_at % 60), tz)
        return at if now < at + CALENDAR_VALID else None
    if rule.kind is RuleKind.calendar and rule.cron is not None:
        fire: datetime | None = cron_trigger(rule.cron, tz).get_next_fire_time(None, now)
        return fire
    return None


def could_get(rule: Rule, recipient: Recipient, today: date) -> bool:
    """Whether the rule reaches this resident on some day: in its audience, with the fact or
    the birth month it counts from."""
    if not in_audience(rule, recipient, today):
        return False
    if rule.kind is RuleKind.due:
        return any(fact.kind == rule.fact_kind for fact in recipient.facts)
    if rule.kind is RuleKind.age:
        return recipient.birth is not None
    return True


@dataclass(frozen=True)
class Preview:
    """How many a rule reaches and a sample of what they read (render it with
    ``bot.reminders.render``)."""

    audience: int
    copies: int
    due_now: int
    next_at: datetime | None
    sample: Outgoing
    values: dict[str, str]


def sample_values(rule: Rule, now: datetime, tz: ZoneInfo) -> dict[str, str]:
    values = {"街镇": min(rule.towns) if rule.towns else SAMPLE_TOWN}
    if rule.kind is RuleKind.due and rule.days_before is not None:
        due_on = now.astimezone(tz).date() + timedelta(days=rule.days_before)
        values["物品"] = SAMPLE_ITEM.get(FactKind(rule.fact_kind), "轮椅") if rule.fact_kind else ""
        values["到期日"] = f"{due_on.month}月{due_on.day}日"
        values["天数"] = str(rule.days_before)
    if rule.kind is RuleKind.age and rule.age is not None:
        values["年龄"] = str(rule.age)
    return values


async def preview(session: AsyncSession, *, rule: Rule, now: datetime, tz: ZoneInfo) -> Preview:
    people = await recipients(session)
    today = now.astimezone(tz).date()
    reached = [person for person in people if could_get(rule, person, today)]
    notices = await recent_notices(session, now)
    due_now = sum(due.for_key is None for due in evaluate([rule], reached, now, tz, notices))
    values = sample_values(rule, now, tz)
    sample = Outgoing(
        id=0,
        channel="telegram",
        recipient_key="preview",
        text=fill(rule.message, values),
        topic=rule.topic,
        sensitive=rule.sensitive,
        entry_id=rule.entry_id,
    )
    return Preview(
        audience=len(reached),
        # What reveals hardship is not copied to family members.
        copies=0 if rule.sensitive else sum(len(person.copies) for person in reached),
        due_now=due_now,
        next_at=next_at(rule, now, tz),
        sample=sample,
        values={name: values[name] for name in placeholders(rule.message) if name in values},
    )
