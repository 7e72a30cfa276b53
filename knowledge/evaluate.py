"""Measure answers against a question set in the format of ``qa_dev.jsonl``.

Each line: ``{"q": …, "expect": [regex, …]}`` (every regex must match the answer's title and
text), ``{"q": …, "entry": id}`` (the answer must be that entry) or ``{"q": …, "oos": true}``
(must fall back); an optional ``tag`` groups questions. With both ``expect`` and ``entry``, the
regexes decide and ``entry`` only says which entry the writer had in mind.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.matcher import Answer


@dataclass(frozen=True)
class Case:
    question: str
    expect: tuple[str, ...] = ()
    out_of_scope: bool = False
    tag: str | None = None
    entry: str | None = None


@dataclass
class Outcome:
    case: Case
    answer: Answer
    correct: bool


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def _share(self, outcomes: list[Outcome]) -> float:
        return sum(o.correct for o in outcomes) / len(outcomes) if outcomes else 0.0

    @property
    def in_scope(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.case.out_of_scope]

    @property
    def out_of_scope(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.out_of_scope]

    def by_tag(self) -> dict[str, list[Outcome]]:
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in self.outcomes:
            if outcome.case.tag:
                groups[outcome.case.tag].append(outcome)
        return dict(sorted(groups.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "questions": len(self.outcomes),
            "in_scope_accuracy": round(self._share(self.in_scope), 4),
            "in_scope": len(self.in_scope),
            "out_of_scope_rejection": round(self._share(self.out_of_scope), 4),
            "out_of_scope": len(self.out_of_scope),
            "by_tag": {
                tag: {"accuracy": round(self._share(group), 4), "questions": len(group)}
                for tag, group in self.by_tag().items()
            },
            "misses": [
                {
                    "question": o.case.question,
                    "expected": "fallback"
                    if o.case.out_of_scope
                    else list(o.case.expect) or [o.case.entry],
                    "got": None
                    if o.answer.fallback or o.answer.entry is None
                    else o.answer.entry.id,
                    "score": round(o.answer.score, 4),
                }
                for o in self.outcomes
                if not o.correct
            ],
        }


class CaseFormatError(ValueError):
    pass


def read_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            case = Case(
                question=str(row["q"]),
                expect=tuple(row.get("expect", ())),
                out_of_scope=bool(row.get("oos", False)),
                tag=row.get("tag"),
                entry=str(row["entry"]) if row.get("entry") else None,
            )
            for pattern in case.expect:
                re.compile(pattern)
        except (json.JSONDecodeError, KeyError, TypeError, re.error) as exc:
            raise CaseFormatError(f"{path}:{number}: {exc}") from None
        if not case.out_of_scope and not case.expect and not case.entry:
            raise CaseFormatError(f"{path}:{number}: needs 'expect', 'entry' or 'oos': true")
        cases.append(case)
    return cases


def judge(case: Case, answer: Answer) -> bool:
    if case.out_of_scope:
        return answer.fallback
    if answer.fallback or answer.entry is None:
        return False
    if not case.expect:
        return answer.entry.id == case.entry
    text = answer.entry.title + "\n" + answer.entry.answer
    return all(re.search(pattern, text) for pattern in case.expect)


def evaluate(cases: Iterable[Case], ask: Callable[[str], Answer]) -> Report:
    report = Report()
    for case in cases:
        answer = ask(case.question)
        report.outcomes.append(Outcome(case, answer, judge(case, answer)))
    return report


def format_report(report: Report) -> str:
    """Misses first, the figures last (the last lines are what a glance reads)."""
    summary = report.summary()
    lines = []
    if summary["misses"]:
        lines.append("misses:")
        for miss in summary["misses"]:
            lines.append(
                f"  {miss['question']!r}: expected {miss['expected']}, got {miss['got']} "
                f"(score {miss['score']})"
            )
    lines.append(f"questions: {summary['questions']}")
    for tag, figures in summary["by_tag"].items():
        lines.append(f"tag {tag}: {figures['accuracy']:.1%} of {figures['questions']}")
    lines.append(
        f"in-scope top-1 accuracy: {summary['in_scope_accuracy']:.1%} of {summary['in_scope']}; "
        f"out-of-scope rejection: {summary['out_of_scope_rejection']:.1%} "
        f"of {summary['out_of_scope']}"
    )
    return "\n".join(lines)
