"""Fit the confidence model on the content itself, then choose the threshold on a dev set.

Training questions come from the shipped entries by cross-validation: in each of five folds a
fifth of every entry's sample questions is held out (the index is built without them) and asked
as residents would type it — as written, with homophone typos, as pinyin, in traditional
characters, and cut down to its key words. Some entries and out-of-scope matters are left out of
the index entirely in each fold, so that their questions teach what an unanswerable question
looks like. The label is whether the top candidate is the question's own entry.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import Any

from knowledge.analyzer import STOPWORDS, _jieba
from knowledge.calibration import Calibration, Features
from knowledge.evaluate import Case, evaluate
from knowledge.loader import Content
from knowledge.matcher import KnowledgeIndex
from knowledge.normalize import normalize
from knowledge.pinyin import readings
from knowledge.store import KnowledgeSnapshot, snapshot_from_content

FOLDS = 5
TODAY = date(2026, 1, 1)


@dataclass(frozen=True)
class Sample:
    features: Features
    label: int


def _homophone_table(texts: Iterable[str]) -> dict[str, list[str]]:
    by_sound: dict[str, set[str]] = defaultdict(set)
    for text in texts:
        for char in text:
            sound = readings(char)
            if sound:
                by_sound[sound[0]].add(char)
    return {sound: sorted(chars) for sound, chars in by_sound.items() if len(chars) > 1}


@cache
def _to_traditional() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


def _variants(question: str, rng: random.Random, homophones: dict[str, list[str]]) -> list[str]:
    """The question as residents type it: exact, homophone typo, pinyin, traditional, terse."""
    text = normalize(question)
    out = [question]
    chars = [i for i, c in enumerate(text) if readings(c) and readings(c)[0] in homophones]
    if chars:
        typo = list(text)
        for i in rng.sample(chars, k=min(len(chars), rng.choice([1, 1, 2]))):
            options = [c for c in homophones[readings(text[i])[0]] if c != text[i]]
            typo[i] = rng.choice(options)
        out.append("".join(typo))
    words = [w for w in _jieba().lcut(text) if w.strip() and w not in STOPWORDS]
    if words:
        out.append("".join(words[:3]))
        key = "".join(words[:2])
        sounds = [readings(c)[0] for c in key if readings(c)]
        if sounds:
            out.append(("" if rng.random() < 0.5 else " ").join(sounds))
    out.append(_to_traditional().convert(question))
    return out


def _without(
    snapshot: KnowledgeSnapshot, held: set[tuple[str, int]], dropped: set[str]
) -> KnowledgeSnapshot:
    entries = tuple(
        replace(e, questions=tuple(q for i, q in enumerate(e.questions) if (e.id, i) not in held))
        for e in snapshot.entries
        if e.id not in dropped
    )
    oos = tuple(
        o.model_copy(
            update={"questions": [q for i, q in enumerate(o.questions) if (o.id, i) not in held]}
        )
        for o in snapshot.out_of_scope
        if o.id not in dropped
    )
    return KnowledgeSnapshot(entries, snapshot.synonyms, oos)


def training_samples(content: Content, seed: int = 7) -> list[Sample]:
    rng = random.Random(seed)
    snapshot = snapshot_from_content(content)
    docs: list[tuple[str, tuple[str, ...]]] = [(e.id, e.questions) for e in snapshot.entries] + [
        (o.id, tuple(o.questions)) for o in snapshot.out_of_scope
    ]
    homophones = _homophone_table(q for _, questions in docs for q in questions)
    keys = [key for key, _ in docs]
    samples: list[Sample] = []
    for fold in range(FOLDS):
        held = {(key, i) for key, qs in docs for i in range(len(qs)) if (i + fold) % FOLDS == 0}
        dropped = {key for n, key in enumerate(keys) if n % (FOLDS * 3) == fold * 3}
        index = KnowledgeIndex.build(_without(snapshot, held, dropped), Calibration.default())
        for key, questions in docs:
            for i, question in enumerate(questions):
                if (key, i) not in held:
                    continue
                for variant in _variants(question, rng, homophones):
                    # Every candidate is a sample: the model learns to rank, and its value for
                    # the winner is the chance that the winner is right.
                    for doc_key, features in index.candidate_features(variant, today=TODAY):
                        samples.append(Sample(features, int(doc_key == key)))
    return samples


def fit_logistic(
    samples: Sequence[Sample], *, l2: float = 1e-3, steps: int = 4000, rate: float = 0.5
) -> tuple[tuple[float, ...], float]:
    """Batch gradient descent on the log loss with a little L2 (numpy: a dev-tool dependency)."""
    import numpy as np

    x = np.array([s.features.vector() for s in samples], dtype=float)
    y = np.array([s.label for s in samples], dtype=float)
    weights = np.zeros(x.shape[1])
    bias = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ weights + bias, -30, 30)))
        error = p - y
        weights -= rate * (x.T @ error / len(y) + l2 * weights)
        bias -= rate * float(error.mean())
    return tuple(round(float(w), 4) for w in weights), round(bias, 4)


def reliability(
    samples: Sequence[Sample], calibration: Calibration, bins: int = 10
) -> list[dict[str, float]]:
    """Predicted confidence against observed accuracy, by bin (how well calibrated it is)."""
    grouped: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for sample in samples:
        p = calibration.confidence(sample.features)
        grouped[min(int(p * bins), bins - 1)].append((p, sample.label))
    table = []
    for b in sorted(grouped):
        rows = grouped[b]
        table.append(
            {
                "bin": b / bins,
                "count": len(rows),
                "mean_confidence": round(sum(p for p, _ in rows) / len(rows), 3),
                "accuracy": round(sum(y for _, y in rows) / len(rows), 3),
            }
        )
    return table


def choose_threshold(
    cases: Sequence[Case], ask_with: Callable[[float], Callable[[str], object]]
) -> tuple[float, list[dict[str, float]]]:
    """The threshold that maximises in-scope accuracy plus out-of-scope rejection on ``cases``;
    among equals, the middle of the best run (the most room on both sides)."""
    sweep = []
    for step in range(5, 96, 5):
        threshold = step / 100
        report = evaluate(cases, ask_with(threshold))  # type: ignore[arg-type]
        summary = report.summary()
        sweep.append(
            {
                "threshold": threshold,
                "in_scope_accuracy": summary["in_scope_accuracy"],
                "out_of_scope_rejection": summary["out_of_scope_rejection"],
                "objective": summary["in_scope_accuracy"] + summary["out_of_scope_rejection"],
            }
        )
    best = max(row["objective"] for row in sweep)
    winners = [row["threshold"] for row in sweep if row["objective"] == best]
    return winners[len(winners) // 2], sweep
