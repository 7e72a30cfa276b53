"""Advisor cases from the command line: ``minzheng escalations list|show|close``.

``list`` and ``show`` only read; none of the three migrates or seeds: a database without tables
is refused with a pointer to ``minzheng db upgrade``. ``close`` is audited by the service with
the actor ``cli``. This process has no bot: what closing sends (the resident's 养老顾问已结束本次
服务, the group's topic closed) is left pending in the transcript, and the running service's
sweeper sends it (it looks every 15 s). Phone numbers are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot import cli_escalations_text as text
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.escalations.service import Cases

EXIT_FAILED = 1
EXIT_USAGE = 2
ACTOR = "cli"
MAX_LIMIT = 1000
T = TypeVar("T")
# bot.escalations.queries.View, spelled out so that `minzheng --help` imports no escalations.
VIEWS = ("waiting", "mine", "active", "closed", "all")

NOTIFY_LATER = (
    "居民和顾问群的通知将由运行中的服务发送（它每 15 秒查看一次待发消息；"
    "服务没有运行时，在它下次启动后发送）。"
)
CLOSE_DESCRIPTION = (
    "Close a case as the actor `cli` (audited). This command cannot send Telegram messages: "
    "the resident's notice and the closing of the case's topic in the advisors' group are "
    "sent by the running service's sweeper, which looks for pending deliveries every 15 s. "
    f"{NOTIFY_LATER}"
)


class Refusal(Exception):
    """What the command will not do, in Chinese for the operator, and its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"minzheng: {message}", file=sys.stderr)
    return code


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False))


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work`` in one transaction, on a database that has its tables (never migrated here)."""
    from bot.database import engine_context, session_factory
    from bot.migrate import current_revision

    async def run() -> T:
        async with engine_context(settings.database_url) as engine:
            if await current_revision(engine) is None:
                raise Refusal("数据库还没有建表，请先运行 `minzheng db upgrade`。")
            async with session_factory(engine)() as session, session.begin():
                return await work(session)

    return asyncio.run(run())


def _execute(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T | int:
    """The work's result, or the exit code after the reason was printed."""
    from bot.database import describe_error

    try:
        return _run(settings, work)
    except Refusal as exc:
        return _fail(str(exc), exc.code)
    except Exception as exc:
        hint = "数据库是否已升级？请运行 `minzheng db upgrade`"
        return _fail(f"数据库操作失败：{describe_error(exc)}（{hint}）")


def _cases(settings: Settings) -> Cases:
    from bot.escalations.service import Cases

    # No advisors' group from here: this process sends nothing to Telegram.
    return Cases(keyring=settings.keyring(), desk_enabled=False)


async def _staff_names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    from sqlalchemy import select
    from sqlmodel import col

    from bot.console.models import StaffUser

    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(col(StaffUser.id), col(StaffUser.name)).where(col(StaffUser.id).in_(wanted))
    )
    return {staff_id: name for staff_id, name in rows.tuples() if staff_id is not None}


# Text output -----------------------------------------------------------------------------------


# Commands --------------------------------------------------------------------------------------


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console import accounts
    from bot.escalations import queries

    view = queries.View(args.view) if args.view else None
    if args.advisor is not None and view not in {None, queries.View.mine}:
        return _fail("--advisor 只和 --view mine 一起用（某位顾问负责的案件）。", EXIT_USAGE)
    if args.advisor is not None:
        view = queries.View.mine
    if view is queries.View.mine and args.advisor is None:
        return _fail("--view mine 要用 --advisor 账号名 指明是哪位顾问。", EXIT_USAGE)
    shown = view or queries.View.all
    cases = _cases(settings)

    async def work(session: AsyncSession) -> tuple[list[dict[str, Any]], int, dict[int, str]]:
        advisor_id = None
        if args.advisor is not None:
            user = await accounts.by_name(session, args.advisor)
            if user is None:
                raise Refusal(f"没有名为 {args.advisor} 的账号。")
            advisor_id = user.id
        found, total = await queries.list_cases(
            session, shown, advisor_id=advisor_id, limit=args.limit
        )
        rows = [queries.summary(cases, c, settings.tz, with_phone=False) for c in found]
        return rows, total, await _staff_names(session, (c.advisor_id for c in found))

    result = _execute(settings, work)
    if isinstance(result, int):
        return result
    rows, total, names = result
    if args.json:
        _print_json(rows)
        return 0
    title = queries.VIEW_NAMES[shown]
    if not rows:
        print(f"{title}：没有案件。")
        return 0
    header = ["案件号", "状态", "街镇", "事由", "提出时间", "负责人", "渠道"]
    print(text.table(header, [text.row(row, names) for row in rows]))
    more = f"，这里列出 {len(rows)} 个（--limit 可以多列）" if total > len(rows) else ""
    print(f"{title}：共 {total} 个案件{more}。")
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.escalations import queries

    cases = _cases(settings)

    async def work(
        session: AsyncSession,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[int, str]]:
        case = await cases.get(session, args.id)
        if case is None:
            raise Refusal(f"没有案件 #{args.id}。")
        messages = await queries.transcript(session, args.id)
        staff = [case.advisor_id, *(m.staff_id for m in messages)]
        return (
            queries.summary(cases, case, settings.tz, with_phone=False),
            queries.transcript_data(messages, settings.tz),
            await _staff_names(session, staff),
        )

    result = _execute(settings, work)
    if isinstance(result, int):
        return result
    case, messages, names = result
    if args.json:
        _print_json({"case": case, "messages": messages})
        return 0
    print("\n".join(text.case_lines(case, names)))
    print()
    if not messages:
        print("对话记录：没有消息。")
    else:
        print(f"对话记录（{len(messages)} 条）：")
        for message in messages:
            print(text.message_line(message, names))
    return 0


def cmd_close(settings: Settings, args: argparse.Namespace) -> int:
    from bot.escalations import queries

    cases = _cases(settings)
    note = (args.note or "").strip() or None

    async def work(session: AsyncSession) -> tuple[dict[str, Any], dict[int, str]]:
        case = await cases.get(session, args.id)
        if case is None:
            raise Refusal(f"没有案件 #{args.id}。")
        closed = await cases.close(
            session, args.id, by=ACTOR, actor=ACTOR, note=note, now=datetime.now(settings.tz)
        )
        if closed is None:
            when = queries.summary(cases, case, settings.tz, with_phone=False)["closed_at"]
            raise Refusal(f"案件 #{args.id} 已经结案（{text.moment(when)}），没有再次结案。")
        return (
            queries.summary(cases, closed, settings.tz, with_phone=False),
            await _staff_names(session, [closed.advisor_id]),
        )

    result = _execute(settings, work)
    if isinstance(result, int):
        return result
    case, names = result
    if args.json:
        _print_json(case)
        return 0
    print(f"案件 #{case['id']} 已结案。{NOTIFY_LATER}")
    print()
    print("\n".join(text.case_lines(case, names)))
    return 0


# Arguments -------------------------------------------------------------------------------------


def _limit(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"应为 1 到 {MAX_LIMIT} 的整数")
    return number


def _case_id(text: str) -> int:
    try:
        number = int(text.lstrip("#"))
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError("案件号是正整数，例如 12")
    return number


def add_commands(commands: Any) -> None:
    escalations = commands.add_parser(
        "escalations",
        help="residents' cases for the eldercare advisors: list, show, close",
        description="Residents' cases for the eldercare advisors (养老顾问). list and show only "
        "read; no command here migrates the database (run `minzheng db upgrade`).",
    )
    actions = escalations.add_subparsers(
        dest="escalations_command", metavar="ACTION", required=True
    )

    listing = actions.add_parser(
        "list",
        help="list cases (newest first; waiting ones oldest first)",
        description="List cases: waiting (nobody has claimed it, oldest first), mine (claimed "
        "by --advisor), active (claimed), closed, all (the default). Reads only.",
    )
    listing.add_argument("--view", choices=VIEWS, help="which cases (all)")
    listing.add_argument(
        "--advisor", metavar="NAME", help="the console account whose claimed cases to list"
    )
    listing.add_argument("--limit", type=_limit, default=50, help="at most this many (50)")
    listing.add_argument("--json", action="store_true", help="print the cases as JSON")
    listing.set_defaults(run=cmd_list)

    show = actions.add_parser(
        "show",
        help="a case and its transcript (phone numbers are not shown)",
        description="A case and its transcript. Reads only; phone numbers are never shown.",
    )
    show.add_argument("id", type=_case_id, metavar="ID", help="the case number")
    show.add_argument("--json", action="store_true", help="print the case and messages as JSON")
    show.set_defaults(run=cmd_show)

    close = actions.add_parser(
        "close",
        help="close a case; the running service sends the notices",
        description=CLOSE_DESCRIPTION,
    )
    close.add_argument("id", type=_case_id, metavar="ID", help="the case number")
    close.add_argument("--note", metavar="TEXT", help="why, kept with the case and in the audit")
    close.add_argument("--json", action="store_true", help="print the closed case as JSON")
    close.set_defaults(run=cmd_close)
