"""Directory commands: ``directory search|export|import``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.database import describe_error, engine_context, session_factory
from bot.migrate import upgrade
from bot.seeding import seed_if_empty
from bot.settings import Settings
from directory.search import SearchError
from directory.service import Directory
from directory.store import DirectoryFileError, export_services, import_services, read_file

EXIT_FAILED = 1
EXIT_USAGE = 2


def _near(value: str) -> tuple[float, float]:
    try:
        latitude, longitude = (float(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--near takes LAT,LON such as 31.03,121.23, not {value!r}"
        ) from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise argparse.ArgumentTypeError("--near: latitude -90..90, longitude -180..180")
    return latitude, longitude


def _now(settings: Settings, value: str | None) -> datetime:
    if value is None:
        return datetime.now(settings.tz)
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=settings.tz) if moment.tzinfo is None else moment


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    try:
        now = _now(settings, args.now)
    except ValueError:
        print(
            f"minzheng: --now takes an ISO time such as 2026-12-01T10:00, not {args.now!r}",
            file=sys.stderr,
        )
        return EXIT_USAGE

    async def run() -> list[dict[str, Any]]:
        async with engine_context(settings.database_url) as engine:
            await upgrade(engine)
            await seed_if_empty(engine)
            directory = Directory(session_factory(engine))
            index = await directory.rebuild()
            results = index.search(
                now=now,
                category=args.category,
                town=args.town,
                text=args.text,
                near=args.near,
                radius_m=args.radius,
                open_now=args.open_now,
                limit=args.limit,
            )
            return [r.as_row() for r in results]

    try:
        rows = asyncio.run(run())
    except SearchError as exc:
        print(f"minzheng: --{exc.field}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            distance = f"{row['distance_m']} 米  " if "distance_m" in row else ""
            state = "正在营业" if row["open_now"] else "已休息"
            print(f"{distance}{row['name']}  {row['address'] or ''}  {row['hours']}  {state}")
        print(f"{len(rows)} 个服务点")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> list[dict[str, Any]]:
        async with engine_context(settings.database_url) as engine:
            await upgrade(engine)
            await seed_if_empty(engine)
            async with session_factory(engine)() as session:
                return await export_services(session)

    print(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        services = read_file(Path(args.path))
    except DirectoryFileError as exc:
        print(f"minzheng: nothing imported: {exc}", file=sys.stderr)
        return EXIT_FAILED

    async def run() -> dict[str, int]:
        async with engine_context(settings.database_url) as engine:
            await upgrade(engine)
            async with session_factory(engine)() as session, session.begin():
                return (await import_services(session, services)).as_dict()

    try:
        report = asyncio.run(run())
    except Exception as exc:
        print(f"minzheng: nothing imported: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"imported {args.path}: {report['created']} created, {report['updated']} updated, "
            f"{report['unchanged']} unchanged"
        )
    return 0


def add_commands(commands: Any) -> None:
    directory = commands.add_parser("directory", help="the facility directory (HSDS 3.0)")
    actions = directory.add_subparsers(dest="directory_command", metavar="ACTION", required=True)
    search = actions.add_parser("search", help="find service points")
    search.add_argument("--town", help="a town: 九亭, 九亭镇, 9亭 or jiuting")
    search.add_argument("--category", help="a category: meal_point, 老年助餐点 or 老年食堂")
    search.add_argument("--text", help="words in the name or description (fuzzy)")
    search.add_argument("--near", type=_near, metavar="LAT,LON", help="sort by distance")
    search.add_argument("--radius", type=float, metavar="METRES", help="with --near: how far")
    search.add_argument("--open-now", action="store_true", help="only places open now")
    search.add_argument("--limit", type=int, help="at most this many")
    search.add_argument("--now", help="the time to use instead of now (ISO, local time)")
    search.add_argument("--json", action="store_true", help="print a JSON array of rows")
    search.set_defaults(run=cmd_search)
    export = actions.add_parser("export", help="print every service as nested HSDS JSON")
    export.add_argument("--format", choices=["hsds"], default="hsds")
    export.add_argument("--json", action="store_true", help="the same output")
    export.set_defaults(run=cmd_export)
    imp = actions.add_parser("import", help="load HSDS JSON or CSV (all or nothing)")
    imp.add_argument("path")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(run=cmd_import)
