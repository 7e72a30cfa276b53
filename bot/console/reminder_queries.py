"""What the 提醒 pages read: the rules with their audience and runs, the outbox's counts and
latest rows, the opt-outs per topic, the bind codes. Read-only; residents appear only as counts
or as the first characters of their pseudonymous key, never by chat id."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console.models import AuditEvent
from jobs import rule_preview
from jobs.evaluate import recipients
from jobs.models import (
    OUTBOX_STATE_NAMES,
    RULE_KIND_NAMES,
    RULE_STATE_NAMES,
    BindCode,
    OutboxRow,
    OutboxState,
    ReminderProfile,
    ReminderRule,
    ReminderSubscription,
    RuleKind,
    RuleRun,
    RuleState,
)
from jobs.rules import Rule
from jobs.topics import TOPICS, label

KEY_CHARS = 6
GROUPS = 50
LATEST = 50
CODES = 100
# The outbox's states in the order a reminder moves through them.
STATES = tuple(OutboxState)
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RuleRow:
    id: int
    name: str
    kind: str
    kind_code: str
    topic: str
    state: str
    state_name: str
    audience: int
    last_run: datetime | None
    next_at: datetime | None


def kind_name(kind: str) -> str:
    try:
        return RULE_KIND_NAMES[RuleKind(kind)]
    except ValueError:
        return kind


def state_name(state: str) -> str:
    try:
        return RULE_STATE_NAMES[RuleState(state)]
    except ValueError:
        return state


async def last_runs(session: AsyncSession) -> dict[int, datetime]:
    rows = await session.execute(
        select(col(RuleRun.rule_id), func.max(col(RuleRun.ran_at))).group_by(col(RuleRun.rule_id))
    )
    return {rule_id: at for rule_id, at in rows}


async def rule_rows(session: AsyncSession, *, now: datetime, tz: ZoneInfo) -> list[RuleRow]:
    """Every rule, archived last, with how many residents it reaches on some day."""
    rules = list(await session.scalars(select(ReminderRule).order_by(col(ReminderRule.id).desc())))
    people = await recipients(session)
    runs = await last_runs(session)
    today = now.astimezone(tz).date()
    found = []
    for row in rules:
        assert row.id is not None
        rule = Rule.of(row)
        found.append(
            RuleRow(
                id=row.id,
                name=row.name,
                kind=kind_name(row.kind),
                kind_code=row.kind,
                topic=label(row.topic),
                state=row.state,
                state_name=state_name(row.state),
                audience=sum(rule_preview.could_get(rule, person, today) for person in people),
                last_run=runs.get(row.id),
                next_at=rule_preview.next_at(rule, now, tz)
                if row.state == RuleState.active
                else None,
            )
        )
    return sorted(found, key=lambda r: r.state == RuleState.archived)


def occurrence_name(occurrence: str) -> str:
    """An occurrence as staff read it; a due date's key names a fact, so only its date shows."""
    if occurrence.startswith("fact-"):
        return "到期日 " + occurrence[-10:]  # fact-<id>-<YYYY-MM-DD>
    if occurrence.startswith("age-"):
        return f"满 {occurrence[4:]} 岁"
    if occurrence.startswith("notice-"):
        return f"内容更新通知 #{occurrence[7:]}"
    return occurrence.replace("T", " ")


@dataclass
class SendGroup:
    """One rule's reminders of one occurrence, counted by state."""

    rule_id: int
    rule_name: str
    occurrence: str
    counts: dict[str, int] = field(default_factory=dict)
    latest: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def send_groups(session: AsyncSession, *, rule_id: int | None = None) -> list[SendGroup]:
    """Counts by state per rule and occurrence, the latest activity first."""
    query = select(
        col(OutboxRow.rule_id),
        col(OutboxRow.occurrence),
        col(OutboxRow.state),
        func.count(),
        func.max(col(OutboxRow.updated_at)),
    ).group_by(col(OutboxRow.rule_id), col(OutboxRow.occurrence), col(OutboxRow.state))
    if rule_id is not None:
        query = query.where(col(OutboxRow.rule_id) == rule_id)
    names = await rule_names(session)
    groups: dict[tuple[int, str], SendGroup] = {}
    for rid, occurrence, state, count, latest in await session.execute(query):
        shown = occurrence_name(occurrence)
        group = groups.setdefault(
            (rid, shown), SendGroup(rid, names.get(rid, f"规则 #{rid}"), shown)
        )
        group.counts[state] = group.counts.get(state, 0) + count
        if latest is not None and (group.latest is None or latest > group.latest):
            group.latest = latest
    ordered = sorted(groups.values(), key=lambda g: g.latest or _EPOCH, reverse=True)
    return ordered[:GROUPS]


async def rule_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(col(ReminderRule.id), col(ReminderRule.name)))
    return {rule_id: name for rule_id, name in rows if rule_id is not None}


@dataclass(frozen=True)
class Sent:
    """One outbox row as the history shows it: who only as a shortened pseudonymous key."""

    rule_name: str
    occurrence: str
    recipient: str
    copy: bool
    state_name: str
    attempts: int
    error: str
    not_before: datetime
    sent_at: datetime | None
    updated_at: datetime


async def latest_rows(session: AsyncSession, *, rule_id: int | None = None) -> list[Sent]:
    query = select(OutboxRow).order_by(col(OutboxRow.updated_at).desc(), col(OutboxRow.id).desc())
    if rule_id is not None:
        query = query.where(col(OutboxRow.rule_id) == rule_id)
    names = await rule_names(session)
    found = []
    for row in await session.scalars(query.limit(LATEST)):
        try:
            shown_state = OUTBOX_STATE_NAMES[OutboxState(row.state)]
        except ValueError:
            shown_state = row.state
        found.append(
            Sent(
                rule_name=names.get(row.rule_id, f"规则 #{row.rule_id}"),
                occurrence=occurrence_name(row.occurrence),
                recipient=row.recipient_key[:KEY_CHARS],
                copy=row.for_key is not None,
                state_name=shown_state,
                attempts=row.attempts,
                error=row.error or "",
                not_before=row.not_before,
                sent_at=row.sent_at,
                updated_at=row.updated_at,
            )
        )
    return found


@dataclass(frozen=True)
class TopicCount:
    code: str
    label: str
    sensitive: bool
    subscribed: int
    unsubscribed: int


async def topic_counts(session: AsyncSession) -> list[TopicCount]:
    rows = await session.execute(
        select(
            col(ReminderSubscription.topic), col(ReminderSubscription.subscribed), func.count()
        ).group_by(col(ReminderSubscription.topic), col(ReminderSubscription.subscribed))
    )
    counts: dict[str, dict[bool, int]] = defaultdict(dict)
    for topic, subscribed, count in rows:
        counts[topic][bool(subscribed)] = count
    return [
        TopicCount(
            code=topic.code,
            label=topic.label,
            sensitive=topic.sensitive,
            subscribed=counts[topic.code].get(True, 0),
            unsubscribed=counts[topic.code].get(False, 0),
        )
        for topic in TOPICS
    ]


async def bind_codes(session: AsyncSession) -> list[BindCode]:
    rows = await session.scalars(
        select(BindCode).order_by(col(BindCode.created_at).desc()).limit(CODES)
    )
    return list(rows)


async def rule_events(session: AsyncSession, rule_id: int, limit: int = 10) -> list[AuditEvent]:
    rows = await session.scalars(
        select(AuditEvent)
        .where(
            col(AuditEvent.target_type) == "reminder_rule",
            col(AuditEvent.target_id) == str(rule_id),
        )
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
    )
    return list(rows)


async def consented(session: AsyncSession) -> int:
    """Residents who agreed to reminders (those who blocked the bot included)."""
    return int(await session.scalar(select(func.count()).select_from(ReminderProfile)) or 0)
