"""Choosing the answer threshold and the scope threshold together, on question sets of every
kind: the pair that makes right answers, less half a right answer for each wrong one (the mean
over the sets of in-scope questions), plus rejections (the mean over the sets of out-of-scope
ones) highest; among pairs within ``TOLERANCE`` of it, the one whose worst set does best, then
the best mean, and among equals the middle one. Each set counts the same, so fifty stories
weigh what sixty plain questions do, and the many kinds of asking do not outvote the two kinds
of out-of-scope question.

Each question is decided once with both thresholds at zero (``decide``), by the models that were
not fitted on it; every pair is then a lookup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from knowledge.evaluate import Case, judge
from knowledge.matcher import Answer, KnowledgeIndex
from knowledge.store import PublishedEntry

# An answer is never given below 0.35: it would be wrong nearly two times in three, and the
# resident is better served by suggestions and an advisor (a bare 补贴 is one of many subsidies).
THRESHOLDS = tuple(step / 40 for step in range(14, 29))  # 0.35 .. 0.7
# A wrong entry sends a resident to the wrong office; falling back offers suggestions and an
# advisor. Choosing counts a wrong answer as this much worse than falling back.
WRONG_COST = 0.5
# Means this close to the best are equals (the sets are of 15 to 110 questions): among them the
# pair whose worst set does best is chosen, since no kind of asking may be left far behind.
TOLERANCE = 0.005
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


def _worth(decided: _Decided, threshold: float, scope_threshold: float) -> float:
    """1 for a right outcome; 0 for an in-scope question that falls back (with suggestions);
    ``-WRONG_COST`` for one answered with a wrong entry."""
    answered = (
        decided.entry is not None
        and decided.in_scope >= scope_threshold
        and decided.confidence >= threshold
    )
    entry = decided.entry if answered else None
    answer = Answer(decided.case.question, entry is None, entry, decided.confidence, (), 0.0)
    if judge(decided.case, answer):
        return 1.0
    return -WRONG_COST if answered and not decided.case.out_of_scope else 0.0


def _figures(
    decided: Sequence[_Decided], threshold: float, scope_threshold: float
) -> dict[bool, float]:
    """A set's worth per question among its in-scope questions (False): the share right, less
    ``WRONG_COST`` for each wrong answer; and its share rejected among out-of-scope ones (True)."""
    figures = {}
    for outside in (False, True):
        part = [d for d in decided if d.case.out_of_scope == outside]
        if part:
            worth = sum(_worth(d, threshold, scope_threshold) for d in part)
            figures[outside] = worth / len(part)
    return figures


def decide(
    index: KnowledgeIndex, sets: Mapping[str, Sequence[Case]], today: date
) -> dict[str, list[_Decided]]:
    """Each set's questions decided once by ``index``'s models, both thresholds at zero."""
    index.calibration = replace(index.calibration, threshold=0.0, scope_threshold=0.0)
    return {name: [_decide(index, c, today) for c in cases] for name, cases in sets.items()}


def choose_thresholds(
    decided: Mapping[str, Sequence[_Decided]],
) -> tuple[float, float, list[dict[str, object]]]:
    """(threshold, scope threshold, the sweep's best rows) over sets decided by ``decide``
    (by one model, or each by the model that was not fitted on it)."""
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
    near = [r for r in rows if float(r["mean"]) >= best - TOLERANCE]  # type: ignore[arg-type]
    fairest = max(float(r["lowest"]) for r in near)  # type: ignore[arg-type]
    winners = [r for r in near if r["lowest"] == fairest]
    # The best mean among them, and of pairs that tie on it the middle one: not the middle of
    # all of them, whose order (scope threshold, then threshold) means nothing.
    peak = max(float(r["mean"]) for r in winners)  # type: ignore[arg-type]
    tied = [r for r in winners if r["mean"] == peak]
    chosen = tied[(len(tied) - 1) // 2]
    top = [chosen, *sorted(rows, key=lambda r: -float(r["mean"]))[:9]]  # type: ignore[arg-type]
    return float(chosen["threshold"]), float(chosen["scope_threshold"]), top  # type: ignore[arg-type]
