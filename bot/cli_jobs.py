"""Reminders from the command line: ``minzheng jobs run-due|status``.

``run-due`` evaluates the active rules at a moment and says who would get what. With
``--dry-run`` nothing is written (the transaction is rolled back); without it the reminders are
queued in the outbox and the running service's leader sends them at its next tick: this
process has no bot. ``status`` only reads. Neither migrates nor seeds: a database that is not at
the latest migration is refused with a pointer to ``minzheng db upgrade``.

Residents appear only by the first characters of their pseudonymous key; the reminder tables
hold no chat id. Output is written as it is produced, so 100 000 recipients stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot import cli_jobs_text as text
from bot.settings import Settings

if TYPE_CHECKING:
    from jobs.models import SchedulerLease
    from jobs.rules import Due

EXIT_FAILED = 1
EXIT_USAGE = 2
# A leader writes its heartbeat every minute; three missed ones and it is taken for stopped.
STALE_AFTER = timedelta(minutes=3)
T = TypeVar("T")
Key = tuple[int, str, str, str]

NOW_HELP = "evaluate at this time instead of now (ISO 8601; without an offset: MINZHENG_TIMEZONE)"


class Refusal(Exception):
    """What the command will not do, in Chinese for the operator, and its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"minzheng: {message}", file=sys.stderr)
    return code


def parse_now(value: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 time; a naive one is read in ``tz``. ``ValueError`` for anything else."""
    moment = datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], *, commit: bool) -> T:
    """``work`` in one transaction, committed or rolled back, on a database at the latest
    migration (never migrated here)."""
    from bot.database import engine_context, session_factory
    from bot.migrate import current_revision, head_revision

    async def run() -> T:
        async with engine_context(settings.database_url) as engine:
            revision = await current_revision(engine)
            if revision is None:
                raise Refusal("数据库还没有建表，请先运行 `minzheng db upgrade`。")
            head = head_revision()
            if revision != head:
                raise Refusal(
                    f"数据库不在最新的迁移（现在是 {revision}，最新是 {head}），"
                    "请先运行 `minzheng db upgrade`。"
                )
            async with session_factory(engine)() as session:
                result = await work(session)
                if commit:
                    await session.commit()
                else:
                    await session.rollback()
                return result

    return asyncio.run(run())


def _execute(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], *, commit: bool = False
) -> T | int:
    """The work's result, or the exit code after the reason was printed."""
    from bot.database import describe_error

    try:
        return _run(settings, work, commit=commit)
    except Refusal as exc:
        return _fail(str(exc), exc.code)
    except Exception as exc:
        hint = "数据库是否已升级？请运行 `minzheng db upgrade`"
        return _fail(f"操作失败：{describe_error(exc)}（{hint}）")


def _write(chunks: Iterable[str]) -> int:
    """Print as it comes; a reader that stops early (``| head``) ends the command quietly."""
    try:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    return 0


def _iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).isoformat() if moment is not None else None


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


def due_data(result: RunDue, due: Due, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "channel": due.channel,
        "recipient": text.short(due.recipient_key),
        "copy_of": text.short(due.for_key),
        "occurrence": due.occurrence,
        "not_before": _iso(due.not_before, tz),
        "text": due.text,
        "sensitive": due.sensitive,
        "already_queued": result.was_queued(due),
    }


def _open(data: dict[str, Any], key: str) -> str:
    """``data`` as a JSON object left open at a list under ``key``, for the items to follow."""
    return json.dumps(data, ensure_ascii=False)[:-1] + f', "{key}": ['


def run_due_json(result: RunDue, tz: ZoneInfo) -> Iterator[str]:
    """One JSON object, in pieces: each reminder is encoded and written on its own."""
    yield _open(
        {
            "now": _iso(result.now, tz),
            "dry_run": result.dry_run,
            "active_rules": result.active_rules,
            "recipients": result.recipients,
            "due": result.total,
            "queued": result.queued,
            "already": result.already,
        },
        "rules",
    )
    for i, rule in enumerate(result.rules):
        head = {
            "rule_id": rule.rule_id,
            "name": rule.name,
            "kind": rule.kind,
            "topic": rule.topic,
            "occurrences": rule.occurrences,
            "queued": rule.queued,
            "already": rule.already,
        }
        yield ("," if i else "") + _open(head, "due")
        for j, due in enumerate(rule.due):
            yield ("," if j else "") + json.dumps(due_data(result, due, tz), ensure_ascii=False)
        yield "]}"
    yield "]}\n"


def cmd_run_due(settings: Settings, args: argparse.Namespace) -> int:
    tz = settings.tz
    if args.now is None:
        now = datetime.now(tz)
    else:
        try:
            now = parse_now(args.now, tz)
        except ValueError:
            return _fail(
                f"--now 要 ISO 8601 时间，例如 2026-12-01T10:00（按 {settings.timezone} 时间）"
                f"或 2026-12-01T10:00+08:00，而不是 {args.now!r}。",
                EXIT_USAGE,
            )

    async def work(session: AsyncSession) -> RunDue:
        return await run_due(session, now=now, tz=tz, dry_run=args.dry_run)

    result = _execute(settings, work, commit=not args.dry_run)
    if isinstance(result, int):
        return result
    if args.json:
        return _write(run_due_json(result, tz))
    return _write(f"{line}\n" for line in text.run_due_lines(result, tz, settings.timezone))


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


def status_data(result: Status, tz: ZoneInfo) -> dict[str, Any]:
    lease = result.lease
    age = result.heartbeat_age_s
    return {
        "now": _iso(result.now, tz),
        "outbox": result.outbox,
        "outbox_lag_seconds": result.lag_s,
        "oldest_due_at": _iso(result.oldest_due, tz),
        "rules": result.rules,
        "scheduler": {
            "leader": lease.holder if lease is not None and result.leader_alive else None,
            "alive": result.leader_alive,
            "holder": lease.holder if lease is not None else None,
            "since": _iso(lease.since, tz) if lease is not None else None,
            "heartbeat_at": _iso(lease.heartbeat_at, tz) if lease is not None else None,
            "heartbeat_age_seconds": age,
            "next_tick_at": _iso(lease.next_tick_at, tz) if lease is not None else None,
            "next_purge_at": _iso(lease.next_purge_at, tz) if lease is not None else None,
            "last_evaluated_at": _iso(lease.last_evaluated_at, tz) if lease is not None else None,
            "last_drained_at": _iso(lease.last_drained_at, tz) if lease is not None else None,
        },
    }


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    tz = settings.tz
    now = datetime.now(tz)

    async def work(session: AsyncSession) -> Status:
        return await status(session, now=now)

    result = _execute(settings, work)
    if isinstance(result, int):
        return result
    if args.json:
        return _write([json.dumps(status_data(result, tz), ensure_ascii=False), "\n"])
    return _write(f"{line}\n" for line in text.status_lines(result, tz))


# Arguments -------------------------------------------------------------------------------------


def add_commands(commands: Any) -> None:
    jobs = commands.add_parser(
        "jobs",
        help="reminders: what is due now (run-due), the outbox and the scheduler (status)",
        description="Reminders. No command here migrates the database (run `minzheng db "
        "upgrade`); this process sends nothing: the running service's scheduler does.",
    )
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)

    due = actions.add_parser(
        "run-due",
        help="evaluate the active rules and queue what is due (--dry-run: only list it)",
        description="Evaluate the active reminder rules at --now and list, per rule, who gets "
        "which text and whether it is new or already queued. Without --dry-run the new ones "
        "are queued in the outbox; the running service's leader sends them at its next tick "
        "(every minute). Residents are shown by the first 8 characters of their pseudonymous "
        "key.",
    )
    due.add_argument("--now", metavar="ISO", help=NOW_HELP)
    due.add_argument("--dry-run", action="store_true", help="list only; write nothing")
    due.add_argument("--json", action="store_true", help="print the result as one JSON object")
    due.set_defaults(run=cmd_run_due)

    state = actions.add_parser(
        "status",
        help="the outbox by state, its lag, the rules and which process leads the scheduler",
        description="The outbox by state and its lag, the rules by state, and the scheduler's "
        "lease: which process leads, its last heartbeat, the next tick and purge. Reads only.",
    )
    state.add_argument("--json", action="store_true", help="print the status as JSON")
    state.set_defaults(run=cmd_status)
