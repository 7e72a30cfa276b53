"""Console accounts from the command line: ``minzheng users add|list|disable|enable|set-role|
reset-password|link-telegram``. The first admin is created here; there is no default password.

Changes are audited with the actor ``cli``. Passwords come from standard input (one line), are
asked for twice on a terminal, or, with ``--generate``, are generated and printed once.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings

EXIT_FAILED = 1
ACTOR = "cli"


def _read_password(generate: bool) -> tuple[str, bool]:
    """The password and whether it was generated (then it is printed once)."""
    from bot.console.accounts import generate_password

    if generate:
        return generate_password(), True
    if sys.stdin.isatty():
        first = getpass.getpass("password (at least 10 characters): ")
        if first != getpass.getpass("again: "):
            raise ValueError("the two passwords differ")
        return first, False
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        return generate_password(), True
    return line, False


def _run(
    settings: Settings,
    work: Callable[[AsyncSession], Awaitable[Any]],
    *,
    writes: bool,
) -> Any:
    from bot.database import engine_context, session_factory
    from bot.migrate import upgrade

    async def run() -> Any:
        async with engine_context(settings.database_url) as engine:
            if writes:
                await upgrade(engine)
            async with session_factory(engine)() as session, session.begin():
                return await work(session)

    return asyncio.run(run())


def _fail(message: str) -> int:
    print(f"minzheng: {message}", file=sys.stderr)
    return EXIT_FAILED


def cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console import accounts
    from bot.console.models import Role

    try:
        password, generated = _read_password(args.generate)
    except ValueError as exc:
        return _fail(str(exc))

    async def work(session: AsyncSession) -> None:
        await accounts.add_user(
            session, name=args.name, role=Role(args.role), password=password, actor=ACTOR
        )

    try:
        _run(settings, work, writes=True)
    except accounts.AccountError as exc:
        return _fail(str(exc))
    if args.json:
        shown: dict[str, Any] = {"name": args.name, "role": args.role}
        if generated:
            shown["password"] = password
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print(f"created {args.name} ({args.role})")
        if generated:
            print(f"password (shown once, give it to {args.name} in person): {password}")
    return 0


def cmd_users_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console import accounts

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {**accounts.public(u), "created_at": accounts.aware(u.created_at).isoformat()}
            for u in await accounts.list_users(session)
        ]

    try:
        rows = _run(settings, work, writes=False)
    except Exception as exc:
        from bot.database import describe_error

        return _fail(f"{describe_error(exc)} (has `minzheng db upgrade` been run?)")
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        state = "disabled" if row["disabled"] else "active"
        print(f"{row['name']}\t{row['role']}\t{state}")
    if not rows:
        print("no accounts yet: `minzheng users add NAME --role admin` creates the first")
    return 0


def _change(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console import accounts
    from bot.console.models import Role

    password: str | None = None
    generated = False
    if args.users_command == "reset-password":
        try:
            password, generated = _read_password(args.generate)
        except ValueError as exc:
            return _fail(str(exc))

    async def work(session: AsyncSession) -> None:
        name = args.name
        if args.users_command in {"disable", "enable"}:
            await accounts.set_disabled(
                session, name=name, disabled=args.users_command == "disable", actor=ACTOR
            )
        elif args.users_command == "set-role":
            await accounts.set_role(session, name=name, role=Role(args.role), actor=ACTOR)
        elif args.users_command == "link-telegram":
            await accounts.link_telegram(
                session, name=name, telegram_user_id=args.telegram_user_id, actor=ACTOR
            )
        else:
            assert password is not None
            await accounts.set_password(session, name=name, password=password, actor=ACTOR)

    try:
        _run(settings, work, writes=True)
    except accounts.AccountError as exc:
        return _fail(str(exc))
    result: dict[str, Any] = {"name": args.name, "done": args.users_command}
    if generated:
        result["password"] = password
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{args.users_command}: {args.name}")
        if generated:
            print(f"new password (shown once): {password}")
    return 0


def add_commands(commands: Any) -> None:
    users = commands.add_parser("users", help="staff console accounts")
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    roles = ["staff", "advisor", "admin"]

    add = actions.add_parser("add", help="create an account (password on stdin, or generated)")
    add.add_argument("name")
    add.add_argument("--role", choices=roles, required=True)
    add.add_argument("--generate", action="store_true", help="generate the password, print once")
    add.add_argument("--json", action="store_true", help="print the result as JSON")
    add.set_defaults(run=cmd_users_add)

    listing = actions.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true", help="print the accounts as JSON")
    listing.set_defaults(run=cmd_users_list)

    changes = {
        "disable": ("disable an account and end its sessions", ()),
        "enable": ("enable an account again", ()),
        "set-role": ("change an account's role (ends its sessions)", ("role",)),
        "reset-password": ("set a new password (stdin or generated)", ("--generate",)),
    }
    for name, (text, extra) in changes.items():
        sub = actions.add_parser(name, help=text)
        sub.add_argument("name")
        if "role" in extra:
            sub.add_argument("role", choices=roles)
        if "--generate" in extra:
            sub.add_argument(
                "--generate", action="store_true", help="generate the password, print once"
            )
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        sub.set_defaults(run=_change)
    link = actions.add_parser("link-telegram", help="an advisor's own Telegram account")
    link.add_argument("name")
    link.add_argument("telegram_user_id", type=int)
    link.add_argument("--json", action="store_true", help="print the result as JSON")
    link.set_defaults(run=_change)
