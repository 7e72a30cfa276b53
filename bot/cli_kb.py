"""Knowledge-base commands: ``seed``, ``ask``, ``kb lint|import|export|eval|calibrate``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot import cli_kb_calibrate, cli_kb_eval
from bot.conversation import texts
from bot.database import describe_error, engine_context, session_factory
from bot.migrate import upgrade
from bot.seeding import seed_directory, seed_if_empty, seed_knowledge, unseeded_changes
from bot.settings import Settings
from directory.store import DirectoryImport
from knowledge.answer import Answer
from knowledge.loader import ContentError, load_paths, load_shipped
from knowledge.service import KnowledgeBase
from knowledge.store import ImportReport, export_published, import_content

EXIT_FAILED = 1
T = TypeVar("T")


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False))


@asynccontextmanager
async def knowledge_base(settings: Settings) -> AsyncIterator[KnowledgeBase]:
    """A built knowledge base over the configured database, seeded first if it is empty."""
    async with engine_context(settings.database_url) as engine:
        await upgrade(engine)
        if await seed_if_empty(engine) is not None:
            print(
                "minzheng: the knowledge base was empty; loaded the shipped content",
                file=sys.stderr,
            )
        elif changed := await unseeded_changes(engine):
            print(
                f"minzheng: note: {changed} shipped entries differ from the database; "
                "`minzheng seed` loads them",
                file=sys.stderr,
            )
        base = KnowledgeBase(session_factory(engine), settings.tz)
        await base.rebuild()
        yield base


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> tuple[ImportReport, DirectoryImport]:
        async with engine_context(settings.database_url) as engine:
            await upgrade(engine)
            return await seed_knowledge(engine), await seed_directory(engine)

    try:
        report, directory = asyncio.run(run())
    except ContentError as exc:
        print(f"minzheng: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        print(f"minzheng: seed failed: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        _print_json({"knowledge": report.as_dict(), "directory": directory.as_dict()})
    else:
        print(
            f"knowledge base: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged; {report.synonyms_changed} synonyms, "
            f"{report.out_of_scope_changed} out-of-scope matters and {report.cues_changed} cue "
            "groups changed"
        )
        print(
            f"sample directory: {directory.created} created, {directory.updated} updated, "
            f"{directory.unchanged} unchanged"
        )
    return 0


def cmd_kb_lint(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge.lint import lint

    try:
        content = load_paths(args.paths) if args.paths else load_shipped()
    except ContentError as exc:
        print(f"error: {exc}")
        return EXIT_FAILED
    findings = lint(content, today=datetime.now(settings.tz).date())
    errors = [f for f in findings if f.level == "error"]
    if args.json:
        _print_json(
            {
                "entries": len(content.entries),
                "errors": [str(f) for f in errors],
                "warnings": [str(f) for f in findings if f.level == "warning"],
            }
        )
    else:
        for finding in findings:
            print(finding)
        print(
            f"{len(content.entries)} entries, {len(content.synonyms)} synonym groups, "
            f"{len(content.cues)} cue groups, {len(content.out_of_scope)} out-of-scope matters: "
            f"{len(errors)} errors, {len(findings) - len(errors)} warnings"
        )
    return EXIT_FAILED if errors else 0


def cmd_kb_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        content = load_paths([args.path])
    except ContentError as exc:
        print(f"minzheng: nothing imported: {exc}", file=sys.stderr)
        return EXIT_FAILED

    async def run() -> ImportReport:
        async with engine_context(settings.database_url) as engine:
            await upgrade(engine)
            async with session_factory(engine)() as session, session.begin():
                return await import_content(session, content, changed_by="import")

    try:
        report = asyncio.run(run())
    except Exception as exc:
        print(f"minzheng: nothing imported: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        _print_json(report.as_dict())
    else:
        print(
            f"imported {args.path}: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {report.synonyms_changed} synonyms and "
            f"{report.cues_changed} cue groups changed"
        )
    return 0


class _NotMigrated(Exception):
    def __init__(self) -> None:
        super().__init__(
            "the database has no knowledge-base tables; run `minzheng db upgrade` first"
        )


async def _read_only(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` on the database as it is: a command that only reads never migrates."""
    from knowledge.export_yaml import missing_tables

    async with engine_context(settings.database_url) as engine:
        if await missing_tables(engine):
            raise _NotMigrated()
        async with session_factory(engine)() as session:
            return await work(session)


def cmd_kb_export(settings: Settings, args: argparse.Namespace) -> int:
    from knowledge import export_yaml

    form = args.format or ("yaml" if args.out else "json")
    if args.out and form != "yaml":
        print("minzheng: --out writes YAML files; use it with --format yaml", file=sys.stderr)
        return 2
    if args.json and args.format == "yaml" and not args.out:
        print("minzheng: --json prints JSON; with --format yaml it needs --out", file=sys.stderr)
        return 2
    texts: dict[str, str] = {}
    try:
        if form == "json":
            exported = asyncio.run(_read_only(settings, export_published))
        else:
            shipped = load_shipped()
            stored = asyncio.run(_read_only(settings, export_yaml.read_database))
            content = export_yaml.arrange(stored, shipped)
            if args.out:
                texts = export_yaml.render_files(content, shipped)
                export_yaml.write_folder(Path(args.out), texts)
    except _NotMigrated as exc:
        print(f"minzheng: export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (ContentError, export_yaml.ExportError) as exc:
        print(f"minzheng: export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        print(f"minzheng: export failed: {describe_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    if form == "json":
        print(json.dumps(exported, ensure_ascii=False, indent=2))
    elif not args.out:
        sys.stdout.write(export_yaml.dump(content))
    elif args.json:
        _print_json(
            {
                "out": args.out,
                "files": sorted(texts),
                "entries": len(content.entries),
                "synonym_groups": len(content.synonyms),
                "cue_groups": len(content.cues),
                "out_of_scope": len(content.out_of_scope),
            }
        )
    else:
        print(
            f"wrote {len(texts)} files to {args.out}: {len(content.entries)} entries, "
            f"{len(content.synonyms)} synonym groups, {len(content.cues)} cue groups, "
            f"{len(content.out_of_scope)} out-of-scope matters"
        )
    return 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    if args.jsonl == (args.question is not None):
        print("minzheng: give a QUESTION, or --jsonl to read questions from stdin", file=sys.stderr)
        return 2

    async def run() -> None:
        async with knowledge_base(settings) as base:
            if args.jsonl:
                for line in sys.stdin:
                    question = line.rstrip("\n")
                    _print_json(base.ask(question).as_contract())
                    sys.stdout.flush()
            else:
                answer = base.ask(args.question)
                if args.json:
                    _print_json(answer.as_contract())
                else:
                    print(_plain(answer))

    asyncio.run(run())
    return 0


def _plain(answer: Answer) -> str:
    """As a person reads it: the answer, another department's advice, the "not civil affairs"
    text residents get, or the suggestions."""
    result = answer.as_contract()
    if not result["fallback"]:
        return f"{result['title']}  (score {result['score']})\n{result['answer']}"
    if answer.out_of_scope is not None:
        return f"{texts.OUT_OF_SCOPE}{answer.out_of_scope.advice}\n(score {result['score']})"
    if answer.outside:
        return f"{texts.OUTSIDE}\n(score {result['score']})"
    lines = [f"没找到确切答案 (score {result['score']})"]
    lines += [f"  您是不是想问：{s.title} ({s.entry_id})" for s in answer.suggestions]
    return "\n".join(lines)


def add_commands(commands: Any) -> None:
    seed = commands.add_parser(
        "seed", help="migrate the database; load the shipped content and the sample directory"
    )
    seed.add_argument("--json", action="store_true", help="print the result as JSON")
    seed.set_defaults(run=cmd_seed)

    ask = commands.add_parser("ask", help="answer a question from the knowledge base")
    ask.add_argument("question", nargs="?", help="the question, in plain Chinese")
    ask.add_argument("--json", action="store_true", help="print the DESIGN.md ask object")
    ask.add_argument(
        "--jsonl", action="store_true", help="read one question a line from stdin, write JSON lines"
    )
    ask.set_defaults(run=cmd_ask)

    kb = commands.add_parser("kb", help="knowledge base")
    actions = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    lint = actions.add_parser("lint", help="check the content files")
    lint.add_argument("paths", nargs="*", help="files or folders (default: the shipped content)")
    lint.add_argument("--json", action="store_true", help="print the result as JSON")
    lint.set_defaults(run=cmd_kb_lint)
    imp = actions.add_parser("import", help="load a YAML file or folder (all or nothing)")
    imp.add_argument("path")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(run=cmd_kb_import)
    export = actions.add_parser(
        "export", help="print the published entries (reads only: never migrates or seeds)"
    )
    export.add_argument(
        "--format",
        choices=["json", "yaml"],
        help="json (default): the entries with all fields; yaml: the shipped content format",
    )
    export.add_argument(
        "--out", metavar="DIR", help="with --format yaml: write one file per area, as shipped"
    )
    export.add_argument(
        "--json",
        action="store_true",
        help="with --out, print the summary as JSON; otherwise the same as --format json",
    )
    export.set_defaults(run=cmd_kb_export)
    cli_kb_eval.add_command(actions)
    cli_kb_calibrate.add_command(actions)
