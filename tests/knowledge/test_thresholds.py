"""Choosing the thresholds: a wrong answer costs more than a fallback, no answer is given below
the floor, and the written questions are grouped by writer for cross-fitting."""

from __future__ import annotations

from knowledge.calibrate import writers
from knowledge.evaluate import Case
from knowledge.store import PublishedEntry
from knowledge.thresholds import THRESHOLDS, WRONG_COST, _Decided, _figures, choose_thresholds


def _entry(key: str) -> PublishedEntry:
    from knowledge.loader import load_shipped
    from knowledge.store import snapshot_from_content

    return next(e for e in snapshot_from_content(load_shipped()).entries if e.id == key)


def test_a_wrong_answer_costs_more_than_falling_back() -> None:
    point = _entry("elder-meal-point")
    right = _Decided(Case("助餐点在哪", entry="elder-meal-point"), 1.0, 0.6, point)
    wrong = _Decided(Case("送饭上门", entry="elder-meal-delivery"), 1.0, 0.4, point)
    outside = _Decided(Case("红烧肉怎么烧", out_of_scope=True), 0.2, 0.3, point)
    # At 0.35 the wrong one is answered: it costs; at 0.5 it falls back: it costs nothing.
    low = _figures([right, wrong, outside], 0.35, 0.5)
    high = _figures([right, wrong, outside], 0.5, 0.5)
    assert low[False] == (1.0 - WRONG_COST) / 2 and high[False] == 0.5
    assert low[True] == high[True] == 1.0  # rejected by the scope decision either way
    threshold, scope_threshold, sweep = choose_thresholds({"set": [right, wrong, outside]})
    assert 0.4 < threshold <= 0.6 and scope_threshold > 0.2
    assert sweep[0]["threshold"] == threshold


def test_no_answer_is_given_below_the_floor() -> None:
    assert min(THRESHOLDS) >= 0.35


def test_written_questions_are_grouped_by_writer() -> None:
    groups = writers()
    assert len(groups) >= 3

    def writer(stem: str) -> str:
        suffix = stem.rpartition("_")[2]
        return suffix if len(suffix) == 1 else ""

    by_group = [{writer(p.stem) for p in g} for g in groups]
    assert all(len(w) == 1 for w in by_group), "each group is one writer's files"
    assert {"story.jsonl", "oos_department.jsonl"} <= {p.name for p in groups[0]}
