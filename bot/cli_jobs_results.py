"""What ``minzheng jobs run-due|status`` find, as plain values that outlive the session, and the
database work that finds them. ``bot.cli_jobs`` runs it and prints it as JSON,
``bot.cli_jobs_text`` for people.

jobs' names are imported where they are used: `minzheng --help` loads no jobs module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from jobs.models import SchedulerLease
    from jobs.rules import Due

# A leader writes its heartbeat every minute; three missed ones and it is taken for stopped.
STALE_AFTER = timedelta(minutes=3)
Key = tuple[int, str, str, str]


# run-due ---------------------------------------------------------------------------------------


@dataclass
class RuleOutcome:
    rule_id: int
    name: str
    kind: str
    topic: str
    due: list[Due]
    queued: int
    already: int

    @property
    def occurrences(self) -> list[str]:
        return sorted({due.occurrence for due in self.due})


@dataclass
class RunDue:
    now: datetime
    dry_run: bool
    active_rules: int
    recipients: int
    rules: list[RuleOutcome]
    # What the outbox held before this run: tells a new reminder from one already queued.
    queued_before: set[Key] = field(default_factory=set)

    @property
    def queued(self) -> int:
        return sum(rule.queued for rule in self.rules)

    @property
    def already(self) -> int:
        return sum(rule.already for rule in self.rules)

    @property
    def total(self) -> int:
        return sum(len(rule.due) for rule in self.rules)

    def was_queued(self, due: Due) -> bool:
        return (due.rule_id, due.occurrence, due.channel, due.recipient_key) in self.queued_before


async def _queued_keys(session: AsyncSession, rule_ids: list[int], now: datetime) -> set[Key]:
    """The outbox's keys for these rules whose occurrence is still live at ``now``: every
    reminder due at ``now`` expires later, so older rows cannot match and are not read."""
    from sqlalchemy import select
    from sqlmodel import col

    from jobs.models import OutboxRow

    if not rule_ids:
        return set()
    rows = await session.execute(
        select(
            col(OutboxRow.rule_id),
            col(OutboxRow.occurrence),
            col(OutboxRow.channel),
            col(OutboxRow.recipient_key),
        ).where(col(OutboxRow.rule_id).in_(rule_ids), col(OutboxRow.expires_at) > now)
    )
    return {(r[0], r[1], r[2], r[3]) for r in rows}


async def run_due(session: AsyncSession, *, now: datetime, tz: ZoneInfo, dry_run: bool) -> RunDue:
    """Evaluate (and, unless ``dry_run``, queue) in the caller's transaction."""
    from sqlalchemy import select
    from sqlmodel import col

    from jobs import evaluate
    from jobs.models import ReminderRule

    rules = await evaluate.active_rules(session)
    before = await _queued_keys(session, [rule.id for rule in rules], now)
    evaluation = await evaluate.run_due(session, now=now, tz=tz, dry_run=dry_run, rules=rules)
    names: dict[int, str] = {}
    if evaluation.rules:
        rows = await session.execute(
            select(col(ReminderRule.id), col(ReminderRule.name)).where(
                col(ReminderRule.id).in_(list(evaluation.rules))
            )
        )
        names = {rule_id: name for rule_id, name in rows.tuples() if rule_id is not None}
    by_id = {rule.id: rule for rule in rules}
    outcomes = [
        RuleOutcome(
            rule_id=rule_id,
            name=names.get(rule_id, ""),
            kind=by_id[rule_id].kind.value,
            topic=by_id[rule_id].topic,
            due=report.due,
            queued=report.queued,
            already=report.already,
        )
        for rule_id, report in evaluation.rules.items()
    ]
    return RunDue(
        now=now,
        dry_run=dry_run,
        active_rules=len(rules),
        recipients=evaluation.recipients,
        rules=outcomes,
        queued_before=before,
    )


# status ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lease:
    """The scheduler's lease row as read (a plain value: it outlives the session)."""

    holder: str
    since: datetime
    heartbeat_at: datetime
    next_tick_at: datetime | None
    next_purge_at: datetime | None
    last_evaluated_at: datetime | None
    last_drained_at: datetime | None

    @classmethod
    def of(cls, row: SchedulerLease) -> Lease:
        return cls(
            holder=row.holder,
            since=row.since,
            heartbeat_at=row.heartbeat_at,
            next_tick_at=row.next_tick_at,
            next_purge_at=row.next_purge_at,
            last_evaluated_at=row.last_evaluated_at,
            last_drained_at=row.last_drained_at,
        )


@dataclass
class Status:
    now: datetime
    outbox: dict[str, int]
    oldest_due: datetime | None
    rules: dict[str, int]
    lease: Lease | None

    @property
    def lag_s(self) -> float | None:
        if self.oldest_due is None:
            return None
        return max(0.0, (self.now - self.oldest_due).total_seconds())

    @property
    def heartbeat_age_s(self) -> float | None:
        if self.lease is None:
            return None
        return max(0.0, (self.now - self.lease.heartbeat_at).total_seconds())

    @property
    def leader_alive(self) -> bool:
        age = self.heartbeat_age_s
        return age is not None and age <= STALE_AFTER.total_seconds()


async def status(session: AsyncSession, *, now: datetime) -> Status:
    from sqlalchemy import func, select
    from sqlmodel import col

    from jobs import outbox
    from jobs.leader import LEASE
    from jobs.models import ReminderRule, RuleState, SchedulerLease

    rows = await session.execute(
        select(col(ReminderRule.state), func.count()).group_by(col(ReminderRule.state))
    )
    rules = {state.value: 0 for state in RuleState}
    rules.update({state: int(n) for state, n in rows.tuples()})
    lease = await session.get(SchedulerLease, LEASE)
    return Status(
        now=now,
        outbox=await outbox.counts(session),
        oldest_due=await outbox.oldest_due(session, now),
        rules=rules,
        lease=Lease.of(lease) if lease is not None else None,
    )
