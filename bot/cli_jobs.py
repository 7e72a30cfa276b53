"""Reminders from the command line: ``minzheng jobs run-due|status``.

``run-due`` evaluates the active rules at a moment and says who would get what. With
``--dry-run`` nothing is written (the transaction is rolled back); without it the reminders are
queued in the outbox and the running service's leader sends them at its next tick: this
process has no bot. A run for real also records that the day's due-date and age rules ran, so
it is refused at any other moment than now unless ``--force`` says so. ``status`` only reads.
Neither migrates nor seeds: a database that is not at the latest migration is refused with a
pointer to ``minzheng db upgrade``. What they find is ``bot.cli_jobs_results``'s.

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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot import cli_jobs_text as text
from bot.cli_jobs_results import RunDue, Status, run_due, status
from bot.settings import Settings

if TYPE_CHECKING:
    from jobs.rules import Due

EXIT_FAILED = 1
EXIT_USAGE = 2
# How far --now may be from the present for a run that writes: the time an operator takes to
# type it. Further off, the run would mark another day's due-date and age rules as run, and
# the leader would skip that day's real evaluation.
NOW_SLACK = timedelta(minutes=5)
T = TypeVar("T")

NOW_HELP = "evaluate at this time instead of now (ISO 8601; without an offset: MINZHENG_TIMEZONE)"
FORCE_HELP = (
    "without --dry-run, queue for real at a --now more than 5 minutes from the present; it "
    "records that day's due-date and age rules as run, so the running service does not "
    "evaluate them again that day"
)
ELSEWHEN = (
    "--now 离现在超过 5 分钟：只有试运行（--dry-run）才能查看别的时间。"
    "不加 --dry-run 会把那一天的个人到期、年龄节点规则记为已运行，"
    "运行中的服务当天就不会再评估它们。"
    "确实要按这个时间排队，请加 --force。"
)


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
    present = datetime.now(tz)
    if args.now is None:
        now = present
    else:
        try:
            now = parse_now(args.now, tz)
        except ValueError:
            return _fail(
                f"--now 要 ISO 8601 时间，例如 2026-12-01T10:00（按 {settings.timezone} 时间）"
                f"或 2026-12-01T10:00+08:00，而不是 {args.now!r}。",
                EXIT_USAGE,
            )
    if not args.dry_run and not args.force and abs(now - present) > NOW_SLACK:
        return _fail(ELSEWHEN, EXIT_USAGE)

    async def work(session: AsyncSession) -> RunDue:
        return await run_due(session, now=now, tz=tz, dry_run=args.dry_run)

    result = _execute(settings, work, commit=not args.dry_run)
    if isinstance(result, int):
        return result
    if args.json:
        return _write(run_due_json(result, tz))
    return _write(f"{line}\n" for line in text.run_due_lines(result, tz, settings.timezone))


# status ----------------------------------------------------------------------------------------


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
        "(every minute). Without --dry-run, --now must be within 5 minutes of the present "
        "(exit 2 otherwise) unless --force is given. Residents are shown by the first 8 "
        "characters of their pseudonymous key.",
    )
    due.add_argument("--now", metavar="ISO", help=NOW_HELP)
    due.add_argument("--dry-run", action="store_true", help="list only; write nothing")
    due.add_argument("--force", action="store_true", help=FORCE_HELP)
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
