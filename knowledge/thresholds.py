"""Choosing the answer threshold and the scope threshold together, on question sets of every
kind: the pair that makes right answers (the mean over the sets of in-scope questions) plus
rejections (the mean over the sets of out-of-scope ones) highest, and among equals the middle
one. Each set counts the same, so fifty stories weigh what sixty plain questions do, and the
many kinds of asking do not outvote the two kinds of out-of-scope question.

Each question is decided once with both thresholds at zero; every pair is then a lookup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from knowledge.evaluate import Case, judge
from knowledge.matcher import Answer, KnowledgeIndex
from knowledge.store import PublishedEntry

THRESHOLDS = tuple(step / 40 for step in range(4, 29))  # 0.1 .. 0.7
# Telling a resident "this is not civil affairs" is only said when that is the likelier reading:
# a question more likely in scope than not gets an answer or suggestions, never that.
SCOPE_THRESHOLDS = tuple(step / 20 for step in range(0, 11))  # 0 .. 0.5


@dataclass(frozen=True)
class _Decided:
    case: Case
    in_scope: float
    confidence: float
    entry: PublishedEntry | None  # the winner, when it is an entry


def _decide(index: KnowledgeIndex, case: Case, today: date) -> _Decided:
    query = index.analyzer.analyze(case.question)
    scored, signals = index._assess(query, today)
    if not scored:
        return _Decided(case, 0.0, 0.0, None)
    best = scored[0]
    in_scope = index.in_scope(scored, signals)
    return _Decided(case, in_scope, best.confidence, index.docs[best.index].entry)


def _right(decided: _Decided, threshold: float, scope_threshold: float) -> bool:
    answered = (
        decided.entry is not None
        and decided.in_scope >= scope_threshold
        and decided.confidence >= threshold
    )
    entry = decided.entry if answered else None
    answer = Answer(decided.case.question, entry is None, entry, decided.confidence, (), 0.0)
    return judge(decided.case, answer)


def _figures(
    decided: Sequence[_Decided], threshold: float, scope_threshold: float
) -> dict[bool, float]:
    """A set's share right among its in-scope questions (False) and out-of-scope ones (True)."""
    figures = {}
    for outside in (False, True):
        part = [d for d in decided if d.case.out_of_scope == outside]
        if part:
            right = sum(_right(d, threshold, scope_threshold) for d in part)
            figures[outside] = right / len(part)
    return figures


def choose_thresholds(
    index: KnowledgeIndex, sets: Mapping[str, Sequence[Case]], today: date
) -> tuple[float, float, list[dict[str, object]]]:
    """(threshold, scope threshold, the sweep's best rows) for ``index``'s calibration."""
    index.calibration = replace(index.calibration, threshold=0.0, scope_threshold=0.0)
    decided = {name: [_decide(index, c, today) for c in cases] for name, cases in sets.items()}
    rows = []
    for scope_threshold in SCOPE_THRESHOLDS:
        for threshold in THRESHOLDS:
            parts: dict[bool, list[float]] = {False: [], True: []}
            figures = {}
            for name, found in decided.items():
                for outside, value in _figures(found, threshold, scope_threshold).items():
                    parts[outside].append(value)
                    figures[f"{name}{' rejected' if outside else ''}"] = round(value, 4)
            means = [sum(v) / len(v) for v in parts.values() if v]
            rows.append(
                {
                    "threshold": threshold,
                    "scope_threshold": scope_threshold,
                    "mean": round(sum(means) / len(means), 4),
                    "lowest": min(figures.values()),
                    "figures": figures,
                }
            )
    best = max(float(r["mean"]) for r in rows)  # type: ignore[arg-type]
    winners = [r for r in rows if r["mean"] == best]
    chosen = winners[(len(winners) - 1) // 2]
    top = sorted(rows, key=lambda r: -float(r["mean"]))[:10]  # type: ignore[arg-type]
    return float(chosen["threshold"]), float(chosen["scope_threshold"]), top  # type: ignore[arg-type]
