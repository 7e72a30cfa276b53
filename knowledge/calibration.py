"""Confidence: a logistic model over the matcher's features, fitted so that a confidence of 0.8
means about eight in ten such answers are right.

``minzheng kb calibrate`` fits the weights on the content itself (held-out sample questions and
their typed variants: homophones, pinyin, traditional characters) and writes
``knowledge/calibration.json``; the threshold is then chosen on the development set. How both were
chosen is recorded in that file.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from knowledge.scope import ScopeFeatures

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"


@dataclass(frozen=True)
class Features:
    text_coverage: float = 0.0  # IDF-weighted share of the question's words found in the entry
    sound_coverage: float = 0.0  # the same for pinyin syllable pairs
    question_coverage: float = 0.0  # the better of the two within the best single question
    text_similarity: float = 0.0  # best rapidfuzz ratio against a sample question
    sound_similarity: float = 0.0  # the same on pinyin strings
    bm25_share: float = 0.0  # BM25 score relative to the best candidate's
    evidence: float = 0.0  # how much matched at all: covered IDF weight, squashed to [0, 1]
    sample_recall: float = 0.0  # the best sample question's IDF weight found in the question
    cue: float = 0.0  # the strongest sign of a need (``knowledge.cues``) pointing to the entry
    bm25_level: float = 0.0  # the candidate's BM25 score itself, squashed to [0, 1]
    title_recall: float = 0.0  # the share of the entry's title (its weight) in the question
    # What sets the candidate apart from the other candidates (siblings share the topic's words:
    # 助餐点, 送餐 and 助餐补贴 all hold 助餐; only one holds 送饭上门 or 补贴).
    distinct: float = 0.0  # share of the question's weight it holds, each term split among holders
    cue_lead: float = 0.0  # its cue minus the best other candidate's, in [-1, 1]
    # The question's weight the entry holds, each term by the share of the entry's questions
    # that hold it: what the entry is about, not a word one of its questions mentions.
    focus: float = 0.0
    intent: float = 0.0  # how well the entry answers what the question asks (``intents``)
    length: float = 0.0  # how long the question is (its words, squashed): a story or a phrase

    def vector(self) -> tuple[float, ...]:
        return (
            self.text_coverage,
            self.sound_coverage,
            self.question_coverage,
            self.text_similarity,
            self.sound_similarity,
            self.bm25_share,
            self.evidence,
            self.sample_recall,
            self.cue,
            self.bm25_level,
            self.title_recall,
            self.distinct,
            self.cue_lead,
            self.focus,
            self.intent,
            self.length,
        )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


LEAD_CAP = 5.0
# Between these lengths (``Features.length``) a question passes from the short stage one to the
# long: about 6 and 11 words.
LONG_FROM = 0.4
LONG_TO = 0.6


def long_share(length: float) -> float:
    """How much of a question's score is the long stage one's."""
    return min(max((length - LONG_FROM) / (LONG_TO - LONG_FROM), 0.0), 1.0)


def _scope(data: dict[str, Any]) -> dict[str, Any]:
    """Stage three's fields of a calibration file, when it has them."""
    if "scope_weights" not in data:
        return {}
    weights = data["scope_weights"]
    return {
        "scope_weights": tuple(float(weights.get(n, 0.0)) for n in ScopeFeatures.names()),
        "scope_bias": float(data["scope_bias"]),
        "scope_threshold": float(data["scope_threshold"]),
    }


def _long(data: dict[str, Any]) -> dict[str, Any]:
    """The long questions' stage one of a calibration file, when it has one."""
    if not data.get("long_weights"):
        return {}
    weights = data["long_weights"]
    return {
        "long_weights": tuple(float(weights.get(n, 0.0)) for n in Features.names()),
        "long_bias": float(data["long_bias"]),
    }


@dataclass(frozen=True)
class Calibration:
    """Two stages: a linear score per candidate from its features, then the confidence from
    that score and its lead over the best other candidate (a clear winner is surer)."""

    weights: tuple[float, ...]
    bias: float
    score_weight: float
    lead_weight: float
    final_bias: float
    threshold: float
    suggestion_floor: float
    notes: str = ""
    # Stage three (``knowledge.scope``): is the question about civil affairs at all? Without a
    # fit, the question's confidence alone decides, as before.
    scope_weights: tuple[float, ...] = (12.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    scope_bias: float = -3.0
    scope_threshold: float = 0.0
    # Stage one for long questions (stories, a caregiver's account), fitted on the written
    # questions: a story is told differently from the phrases the content's own questions
    # are, and one set of weights serves both badly. Empty: one stage one for all.
    long_weights: tuple[float, ...] = ()
    long_bias: float = 0.0
    # Stage two's weight on the question's length: a story's right answer scores lower.
    length_weight: float = 0.0

    def score(self, features: Features) -> float:
        vector = features.vector()
        short = self.bias + sum(map(operator.mul, self.weights, vector))
        if not self.long_weights:
            return short
        share = long_share(features.length)
        if not share:
            return short
        long = self.long_bias + sum(map(operator.mul, self.long_weights, vector))
        return short + share * (long - short)

    def confidence(self, score: float, lead: float, length: float = 0.0) -> float:
        lead = min(max(lead, -LEAD_CAP), LEAD_CAP)
        z = (
            self.final_bias
            + self.score_weight * score
            + self.lead_weight * lead
            + self.length_weight * length
        )
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def in_scope(self, features: ScopeFeatures) -> float:
        """The probability that the question asks about civil affairs at all."""
        z = self.scope_bias + sum(map(operator.mul, self.scope_weights, features.vector()))
        z = min(max(z, -30.0), 30.0)
        return 1.0 / (1.0 + math.exp(-z))

    @classmethod
    def default(cls) -> Calibration:
        if CALIBRATION_FILE.exists():
            return cls.load(CALIBRATION_FILE)
        # Before a fit exists: an even blend of the features, centred where answers turn right.
        return cls(
            weights=(
                2.0,
                2.0,
                2.0,
                2.0,
                2.0,
                0.0,
                2.0,
                2.0,
                2.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0,
            ),
            bias=-7.0,
            score_weight=1.0,
            lead_weight=0.5,
            final_bias=0.0,
            threshold=0.5,
            suggestion_floor=0.1,
        )

    @classmethod
    def load(cls, path: Path) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        weights = data["weights"]
        return cls(
            weights=tuple(float(weights.get(name, 0.0)) for name in Features.names()),
            bias=float(data["bias"]),
            score_weight=float(data["score_weight"]),
            lead_weight=float(data["lead_weight"]),
            final_bias=float(data["final_bias"]),
            length_weight=float(data.get("length_weight", 0.0)),
            threshold=float(data["threshold"]),
            suggestion_floor=float(data["suggestion_floor"]),
            notes=str(data.get("notes", "")),
            **_scope(data),
            **_long(data),
        )

    def dump(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        data = asdict(self)
        data["weights"] = dict(zip(Features.names(), self.weights, strict=True))
        data["scope_weights"] = dict(zip(ScopeFeatures.names(), self.scope_weights, strict=True))
        if self.long_weights:
            data["long_weights"] = dict(zip(Features.names(), self.long_weights, strict=True))
        data.update(extra or {})
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
