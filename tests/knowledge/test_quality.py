"""Answer quality guards: the figures the knowledge issue sets, on the development set and on
the project's own held-out questions (written without looking at the entries' questions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.calibration import Calibration, Features
from knowledge.evaluate import evaluate, read_cases
from knowledge.matcher import KnowledgeIndex
from tests.knowledge.conftest import TODAY

DEV = Path(__file__).resolve().parents[3] / "shared" / "eval" / "qa_dev.jsonl"
HELDOUT = Path(__file__).resolve().parent / "heldout_questions.jsonl"
KINDS = Path(__file__).resolve().parent / "heldout"
# Issue 14's goal is 0.95 for every kind (no kind below 0.90). These are the floors measured
# so far (``minzheng kb eval``), a little under today's figures: a change that loses ground on
# any kind of asking fails here. Raise them as the matcher improves; never lower one silently.
KIND_FLOORS = {
    "caregiver": 0.88,
    "homophone": 0.94,
    "lonely": 0.73,
    "oos_department": 0.92,
    "oos_unrelated": 0.94,
    "plain": 0.9,
    "speech": 0.94,
    "story": 0.9,
    "wu": 0.86,
}


def test_development_set_meets_the_targets(shipped_index: KnowledgeIndex) -> None:
    if not DEV.exists():
        pytest.skip(f"{DEV} is not beside this checkout")
    summary = evaluate(read_cases(DEV), lambda q: shipped_index.ask(q, today=TODAY)).summary()
    assert summary["in_scope_accuracy"] >= 0.95, summary["misses"]
    assert summary["out_of_scope_rejection"] >= 0.95, summary["misses"]
    for tag, figures in summary["by_tag"].items():
        assert figures["accuracy"] >= 0.8, (tag, summary["misses"])


def test_held_out_questions_stay_answered(shipped_index: KnowledgeIndex) -> None:
    summary = evaluate(read_cases(HELDOUT), lambda q: shipped_index.ask(q, today=TODAY)).summary()
    assert summary["in_scope_accuracy"] >= 0.85, summary["misses"]
    assert summary["out_of_scope_rejection"] >= 0.9, summary["misses"]
    for tag, figures in summary["by_tag"].items():
        assert figures["accuracy"] >= 0.8, (tag, summary["misses"])


@pytest.mark.parametrize("kind", sorted(KIND_FLOORS))
def test_each_kind_of_asking_holds_its_floor(shipped_index: KnowledgeIndex, kind: str) -> None:
    cases = read_cases(KINDS / f"{kind}.jsonl")
    summary = evaluate(cases, lambda q: shipped_index.ask(q, today=TODAY)).summary()
    figure = summary["out_of_scope_rejection" if kind.startswith("oos") else "in_scope_accuracy"]
    assert figure >= KIND_FLOORS[kind], (kind, figure, summary["misses"])


def test_every_held_out_kind_has_a_floor() -> None:
    assert {p.stem for p in KINDS.glob("*.jsonl")} == set(KIND_FLOORS)


def test_feature_vector_follows_the_names() -> None:
    features = Features(*(float(i) for i in range(len(Features.names()))))
    assert features.vector() == tuple(float(i) for i in range(len(Features.names())))
    assert [getattr(features, n) for n in Features.names()] == list(features.vector())


def test_shipped_calibration_is_complete_and_documented() -> None:
    calibration = Calibration.default()
    assert len(calibration.weights) == len(Features.names())
    assert 0.0 < calibration.threshold < 1.0
    assert "Threshold" in calibration.notes and "qa_dev.jsonl" in calibration.notes
