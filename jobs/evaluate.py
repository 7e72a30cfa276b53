"""Evaluating the rules against the residents who asked for reminders, and queueing what is due.

Each rule runs once per occurrence (a campaign's date, a change notice) or once per day (due
dates and ages), however often the scheduler ticks: ``reminder_rule_run`` remembers. A dry run
ignores that and says, for everything due, whether it is new or already queued.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from jobs import outbox
from jobs.models import (
    CaregiverLink,
    CareState,
    ChangeNotice,
    ReminderFact,
    ReminderProfile,
    ReminderRule,
    ReminderSubscription,
    RuleKind,
    RuleRun,
    RuleState,
)
from jobs.rules import (
    CHANGE_VALID,
    Copy,
    Due,
    Fact,
    Notice,
    Recipient,
    Rule,
    campaign_occurrences,
    evaluate,
)


async def recipients(
    session: AsyncSession, *, channel: str | None = None, user_key: str | None = None
) -> list[Recipient]:
    """Residents who consented, with their topics, facts and caregivers (blocked ones left out).
    Columns, not ORM objects: a hundred thousand residents are read in a second, not five."""
    profiles = select(
        col(ReminderProfile.channel),
        col(ReminderProfile.user_key),
        col(ReminderProfile.sensitive_consented_at).is_not(None),
        col(ReminderProfile.town),
        col(ReminderProfile.birth_year),
        col(ReminderProfile.birth_month),
    ).where(col(ReminderProfile.inactive_since).is_(None))
    subscriptions = select(
        col(ReminderSubscription.channel),
        col(ReminderSubscription.user_key),
        col(ReminderSubscription.topic),
    ).where(col(ReminderSubscription.subscribed).is_(True))
    facts = select(
        col(ReminderFact.channel),
        col(ReminderFact.user_key),
        col(ReminderFact.id),
        col(ReminderFact.kind),
        col(ReminderFact.due_on),
        col(ReminderFact.label),
    )
    links = select(
        col(CaregiverLink.resident_channel),
        col(CaregiverLink.resident_key),
        col(CaregiverLink.id),
        col(CaregiverLink.caregiver_channel),
        col(CaregiverLink.caregiver_key),
        col(CaregiverLink.label),
    ).where(col(CaregiverLink.state) == CareState.active)
    if user_key is not None:
        profiles = profiles.where(col(ReminderProfile.user_key) == user_key)
        subscriptions = subscriptions.where(col(ReminderSubscription.user_key) == user_key)
        facts = facts.where(col(ReminderFact.user_key) == user_key)
        links = links.where(col(CaregiverLink.resident_key) == user_key)
    if channel is not None:
        profiles = profiles.where(col(ReminderProfile.channel) == channel)
    topics: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ch, key, topic in await session.execute(subscriptions):
        topics[(ch, key)].add(topic)
    facts_of: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for ch, key, fact_id, kind, due_on, label in await session.execute(facts):
        facts_of[(ch, key)].append(Fact(fact_id or 0, kind, due_on, label))
    copies: dict[tuple[str, str], list[Copy]] = defaultdict(list)
    for ch, key, link_id, their_channel, their_key, label in await session.execute(links):
        if their_key is not None and their_channel is not None:
            copies[(ch, key)].append(Copy(link_id or 0, their_channel, their_key, label))
    found = []
    for ch, key, sensitive_ok, town, year, month in await session.execute(profiles):
        who = (ch, key)
        found.append(
            Recipient(
                channel=ch,
                user_key=key,
                topics=frozenset(topics.get(who, ())),
                sensitive_ok=bool(sensitive_ok),
                town=town,
                birth=(year, month) if year and month else None,
                facts=tuple(facts_of.get(who, ())),
                copies=tuple(copies.get(who, ())),
            )
        )
    return found


async def active_rules(session: AsyncSession) -> list[Rule]:
    rows = await session.scalars(
        select(ReminderRule)
        .where(col(ReminderRule.state) == RuleState.active)
        .order_by(col(ReminderRule.id))
    )
    return [Rule.of(row) for row in rows]


async def recent_notices(session: AsyncSession, now: datetime) -> list[Notice]:
    rows = await session.scalars(
        select(ChangeNotice).where(col(ChangeNotice.created_at) >= now - CHANGE_VALID)
    )
    return [Notice(row.id or 0, row.ref, row.created_at, row.town) for row in rows]


def run_key(rule: Rule, occurrence: str | None, now: datetime, tz: ZoneInfo) -> str:
    if rule.kind in (RuleKind.calendar, RuleKind.change):
        assert occurrence is not None
        return occurrence
    return f"day-{now.astimezone(tz).date().isoformat()}"


@dataclass
class RuleReport:
    rule_id: int
    due: list[Due] = field(default_factory=list)
    queued: int = 0
    already: int = 0


@dataclass
class Evaluation:
    now: datetime
    rules: dict[int, RuleReport] = field(default_factory=dict)
    recipients: int = 0

    @property
    def queued(self) -> int:
        return sum(r.queued for r in self.rules.values())

    @property
    def due(self) -> list[Due]:
        return [due for r in self.rules.values() for due in r.due]


async def _runs_done(session: AsyncSession, rule_ids: Sequence[int]) -> set[tuple[int, str]]:
    rows = await session.execute(
        select(col(RuleRun.rule_id), col(RuleRun.run_key)).where(col(RuleRun.rule_id).in_(rule_ids))
    )
    return {(rule_id, key) for rule_id, key in rows}


async def run_due(
    session: AsyncSession,
    *,
    now: datetime,
    tz: ZoneInfo,
    dry_run: bool = False,
    rules: Sequence[Rule] | None = None,
) -> Evaluation:
    """Queue (or, dry, only list) what is due at ``now``, in the caller's transaction."""
    chosen = list(rules) if rules is not None else await active_rules(session)
    report = Evaluation(now=now)
    if not chosen:
        return report
    notices = await recent_notices(session, now)
    done = set() if dry_run else await _runs_done(session, [r.id for r in chosen])
    to_run: list[tuple[Rule, str]] = []
    for rule in chosen:
        if rule.kind in (RuleKind.calendar, RuleKind.change):
            for occurrence in campaign_occurrences(rule, now, tz, notices):
                key = run_key(rule, occurrence.key, now, tz)
                if (rule.id, key) not in done:
                    to_run.append((rule, key))
        else:
            # Once a day, once the day's send time has come: evaluated earlier, the day's
            # reminders would not be due yet, and the day would be marked done without them.
            local = now.astimezone(tz)
            if local.hour * 60 + local.minute < rule.send_at:
                continue
            key = run_key(rule, None, now, tz)
            if (rule.id, key) not in done:
                to_run.append((rule, key))
    if not to_run:
        return report
    audience = await recipients(session)
    report.recipients = len(audience)
    wanted = {(rule.id, key) for rule, key in to_run}
    by_id = {rule.id: rule for rule, _ in to_run}
    for due in evaluate(by_id.values(), audience, now, tz, notices):
        if (due.rule_id, run_key(by_id[due.rule_id], due.occurrence, now, tz)) not in wanted:
            continue
        report.rules.setdefault(due.rule_id, RuleReport(due.rule_id)).due.append(due)
    for rule_report in report.rules.values():
        if dry_run:
            present = await outbox.existing(session, rule_report.due)
            rule_report.already = sum(
                (d.rule_id, d.occurrence, d.channel, d.recipient_key) in present
                for d in rule_report.due
            )
        else:
            rule_report.queued = await outbox.queue(session, rule_report.due, now)
            rule_report.already = len(rule_report.due) - rule_report.queued
    if not dry_run:
        for rule, key in to_run:
            queued = report.rules[rule.id].queued if rule.id in report.rules else 0
            session.add(RuleRun(rule_id=rule.id, run_key=key, queued=queued, ran_at=now))
    return report


async def run_for(
    session: AsyncSession, *, channel: str, user_key: str, now: datetime, tz: ZoneInfo
) -> int:
    """A resident's own rules (due dates, ages) at once, for them alone: a fact bound or a
    birth month given after today's run is not left for tomorrow. Queued once, as always."""
    personal = [r for r in await active_rules(session) if r.kind in (RuleKind.due, RuleKind.age)]
    if not personal:
        return 0
    local = now.astimezone(tz)
    minutes = local.hour * 60 + local.minute
    ready = [r for r in personal if minutes >= r.send_at]
    audience = await recipients(session, channel=channel, user_key=user_key)
    return await outbox.queue(session, evaluate(ready, audience, now, tz), now)


async def has_due_rule(session: AsyncSession, fact_kind: str) -> bool:
    """Whether an active rule reminds of facts of this kind (what /bind may promise)."""
    found = await session.scalar(
        select(col(ReminderRule.id))
        .where(
            col(ReminderRule.state) == RuleState.active,
            col(ReminderRule.kind) == RuleKind.due,
            col(ReminderRule.fact_kind) == fact_kind,
        )
        .limit(1)
    )
    return found is not None
