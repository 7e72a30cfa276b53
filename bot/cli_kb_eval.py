"""``minzheng kb eval [FILE.jsonl …]``: answers measured against question sets, each beside a
plain BM25 baseline over the same content (``knowledge.baseline``).

Without a file: the development set (``../shared/eval/qa_dev.jsonl``, when beside the checkout)
and every held-out set of ``tests/knowledge/heldout/``, one row per kind of asking. The baseline's
fallback threshold is chosen on the development set when there is one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"
HELDOUT = ROOT / "tests" / "knowledge" / "heldout"
EXIT_FAILED = 1


def default_files() -> list[Path]:
    files = (DEV, HELDOUT.parent / "heldout_questions.jsonl", *sorted(HELDOUT.glob("*.jsonl")))
    return [p for p in files if p.exists()]


def _rows(name: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[dict[str, Any]]:
    """A file's figures: in scope and out of scope apart, each with its size."""
    rows = []
    for part, key in (
        ("in_scope", "in_scope_accuracy"),
        ("out_of_scope", "out_of_scope_rejection"),
    ):
        if ours[part]:
            rows.append(
                {
                    "set": name,
                    "part": part,
                    "questions": ours[part],
                    "matcher": ours[key],
                    "bm25": theirs[key],
                }
            )
    return rows


def format_table(rows: list[dict[str, Any]], threshold: float, tuned_on: str | None) -> str:
    lines = [f"{'set':<22} {'measures':<22} {'n':>4}  {'matcher':>7}  {'BM25':>7}"]
    for row in rows:
        measure = "right answers" if row["part"] == "in_scope" else "rejected (fell back)"
        lines.append(
            f"{row['set']:<22} {measure:<22} {row['questions']:>4}  "
            f"{row['matcher']:>7.1%}  {row['bm25']:>7.1%}"
        )
    for part, measure in (("in_scope", "right answers"), ("out_of_scope", "rejected")):
        chosen = [r for r in rows if r["part"] == part and r["set"] != "qa_dev"]
        if chosen:
            n = sum(r["questions"] for r in chosen)
            ours = sum(r["matcher"] * r["questions"] for r in chosen) / n
            theirs = sum(r["bm25"] * r["questions"] for r in chosen) / n
            lowest = min(chosen, key=lambda r: r["matcher"])
            lines.append(
                f"{'all but qa_dev':<22} {measure:<22} {n:>4}  {ours:>7.1%}  {theirs:>7.1%}"
                f"   (lowest: {lowest['set']} {lowest['matcher']:.1%})"
            )
    where = f"chosen on {tuned_on}" if tuned_on else "0: no development set beside the checkout"
    lines.append(
        f"BM25 baseline: best entry of rank_bm25 over jieba words; threshold {threshold} ({where})"
    )
    return "\n".join(lines)


def cmd_kb_eval(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli_kb import knowledge_base
    from knowledge.baseline import Bm25Baseline
    from knowledge.evaluate import CaseFormatError, evaluate, format_report, read_cases

    files = [Path(f) for f in args.file] or default_files()
    if not files:
        print(
            "minzheng: give a question set (JSONL); none is beside this checkout", file=sys.stderr
        )
        return EXIT_FAILED
    try:
        sets = [(path, read_cases(path)) for path in files]
        dev = read_cases(DEV) if DEV.exists() else None
    except (OSError, CaseFormatError) as exc:
        print(f"minzheng: {exc}", file=sys.stderr)
        return EXIT_FAILED

    async def run() -> None:
        async with knowledge_base(settings) as base:
            baseline = Bm25Baseline(list(base.index.entries.values()))
            if dev is not None:
                baseline.choose_threshold(dev)
            rows, reports = [], {}
            for path, cases in sets:
                ours = evaluate(cases, base.ask)
                theirs = evaluate(cases, baseline.ask).summary()
                reports[path.stem] = (ours, theirs)
                rows.extend(_rows(path.stem, ours.summary(), theirs))
            if args.json:
                data: dict[str, Any] = {
                    name: {
                        **ours.summary(),
                        "bm25_baseline": theirs,
                        "bm25_threshold": baseline.threshold,
                    }
                    for name, (ours, theirs) in reports.items()
                }
                # One file: its summary itself, as ``kb eval FILE --json`` always printed.
                print(
                    json.dumps(
                        next(iter(data.values())) if len(sets) == 1 else data, ensure_ascii=False
                    )
                )
                return
            if len(sets) == 1 or args.misses:
                for name, (ours, _) in reports.items():
                    print(f"== {name}\n{format_report(ours)}\n")
            print(format_table(rows, baseline.threshold, DEV.name if dev is not None else None))

    asyncio.run(run())
    return 0


def add_command(actions: Any) -> None:
    ev = actions.add_parser(
        "eval",
        help="measure answers against question sets (JSONL), beside a BM25 baseline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("file", nargs="*", help="question sets; default: qa_dev and the held-out sets")
    ev.add_argument("--json", action="store_true", help="print the results as JSON")
    ev.add_argument("--misses", action="store_true", help="list every miss of every set")
    ev.set_defaults(run=cmd_kb_eval)
