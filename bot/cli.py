"""The ``minzheng`` command line (also ``python -m bot``).

Every capability is reachable here; each command builds what it needs from settings and nothing
else. Exit codes: 0 done, 1 failed, 2 bad usage or bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence

from bot.settings import Settings, SettingsError, load_settings

EXIT_FAILED = 1
EXIT_USAGE = 2


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.server import PortInUse, serve

    try:
        asyncio.run(serve(settings))
    except PortInUse as exc:
        print(f"minzheng: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from bot.database import describe_error, engine_context
    from bot.migrate import current_revision, upgrade

    async def run() -> str | None:
        async with engine_context(settings.database_url) as engine:
            await upgrade(engine, args.revision)
            return await current_revision(engine)

    try:
        revision = asyncio.run(run())
    except Exception as exc:
        print(f"minzheng: database upgrade failed: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"revision": revision}))
    else:
        print(f"database at revision {revision}")
    return 0


def _cmd_db_current(settings: Settings, args: argparse.Namespace) -> int:
    from bot.database import describe_error, engine_context
    from bot.migrate import current_revision, head_revision

    async def run() -> str | None:
        async with engine_context(settings.database_url) as engine:
            return await current_revision(engine)

    try:
        revision = asyncio.run(run())
    except Exception as exc:
        print(f"minzheng: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    head = head_revision()
    if args.json:
        print(json.dumps({"revision": revision, "head": head, "up_to_date": revision == head}))
    else:
        state = "up to date" if revision == head else f"behind head {head}"
        print(f"database at revision {revision} ({state})")
    return 0


def _cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import datetime

    from bot.database import describe_error, engine_context, session_factory
    from bot.migrate import upgrade
    from bot.retention import purge_expired

    async def run() -> dict[str, object]:
        async with engine_context(settings.database_url) as engine:
            await upgrade(engine)
            purged = await purge_expired(
                session_factory(engine),
                keep_days=settings.question_log_days,
                now=datetime.now(settings.tz),
            )
            return purged.as_dict()

    try:
        result = asyncio.run(run())
    except Exception as exc:
        print(f"minzheng: purge failed: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(
            f"deleted what was older than {result['cutoff']}: {result['questions']} questions, "
            f"{result['feedback']} feedback, {result['steps']} conversation steps"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minzheng",
        description="松江民政助手 — civil-affairs answers for Songjiang residents.",
        epilog="Settings come from MINZHENG_* environment variables; see README.md.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the web server and, with a token, Telegram")
    serve.set_defaults(run=_cmd_serve)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_commands.add_parser("upgrade", help="apply pending migrations")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    up.add_argument("--json", action="store_true", help="print the result as JSON")
    up.set_defaults(run=_cmd_db_upgrade)
    current = db_commands.add_parser("current", help="show the database's revision")
    current.add_argument("--json", action="store_true", help="print the result as JSON")
    current.set_defaults(run=_cmd_db_current)

    purge = commands.add_parser(
        "purge",
        help="delete residents' questions, feedback and steps older than "
        "MINZHENG_QUESTION_LOG_DAYS (serve also does this daily)",
    )
    purge.add_argument("--json", action="store_true", help="print the result as JSON")
    purge.set_defaults(run=_cmd_purge)

    from bot import cli_directory, cli_escalations, cli_jobs, cli_kb, cli_users

    cli_kb.add_commands(commands)
    cli_directory.add_commands(commands)
    cli_users.add_commands(commands)
    cli_escalations.add_commands(commands)
    cli_jobs.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"minzheng: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from bot.logs import configure_logging

    # Commands that print results keep the log to warnings unless a level was asked for.
    quiet = args.command != "serve" and not any(
        key.upper() == "MINZHENG_LOG_LEVEL" for key in os.environ
    )
    configure_logging("WARNING" if quiet else settings.log_level, settings.log_format)
    run: Callable[[Settings, argparse.Namespace], int] = args.run
    return run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
