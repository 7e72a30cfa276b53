"""Is the question about civil affairs at all? A decision of its own, beside the choice of an
entry and before any is offered: an everyday question (中午吃点什么好, 结婚戒指戴哪只手) is not
answered by the entry whose words it happens to share, however well they match.

What tells them apart, per question:
- ``confidence``: how sure the best entry's answer is (the calibrated model);
- ``coverage``: how much of the question the best entry's words cover (补贴 alone: all of it);
- ``outside``: how well the best out-of-scope matter fits (other departments, daily life);
- ``signal``: the most specific service word said (低保, 助餐, 婚姻登记 — words of titles, keywords
  and synonyms, weighed by rarity in everyday Chinese: 吃饭 says little, 特困 much);
- ``unheard``: the share of the question's words the index has never seen (烤蛋糕, 补觉);
- ``cue``: the strongest sign of a need (记性越来越差).
A logistic model over them is fitted with the rest of the calibration (``knowledge.calibrate``).
One rule stands above it: a question that names a service (a word of ``NAMED_SIGNAL`` or more,
such as 补贴 or 低保) is never called "not civil affairs" unless an out-of-scope matter fits it
better than even odds; unsure, it gets suggestions instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

# Nats of everyday rarity above which a service word is fully specific.
SIGNAL_SCALE = 8.0
# The specificity at which a word names a service (补贴, 低保; not 结婚 or 吃饭 alone).
NAMED_SIGNAL = 0.5


@dataclass(frozen=True)
class QuerySignals:
    """What the question itself says, whatever the candidates."""

    signal: float = 0.0
    unheard: float = 0.0
    cue: float = 0.0


@dataclass(frozen=True)
class ScopeFeatures:
    confidence: float = 0.0
    coverage: float = 0.0
    outside: float = 0.0
    signal: float = 0.0
    unheard: float = 0.0
    cue: float = 0.0

    def vector(self) -> tuple[float, ...]:
        return (
            self.confidence,
            self.coverage,
            self.outside,
            self.signal,
            self.unheard,
            self.cue,
        )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def of(
        cls,
        signals: QuerySignals,
        confidence: float,
        coverage: float,
        outside_score: float | None,
    ) -> ScopeFeatures:
        outside = 0.0 if outside_score is None else _sigmoid(outside_score)
        return cls(confidence, coverage, outside, signals.signal, signals.unheard, signals.cue)


def named(features: ScopeFeatures) -> bool:
    """The question names a service and no other department's matter claims it."""
    return features.signal >= NAMED_SIGNAL and features.outside < 0.5


def _sigmoid(z: float) -> float:
    z = min(max(z, -30.0), 30.0)
    return 1.0 / (1.0 + math.exp(-z))


def signal_of(rarity: float, offset: float) -> float:
    """A service word's specificity in [0, 1] from its everyday rarity in nats."""
    return min(max(rarity - offset, 0.0) / SIGNAL_SCALE, 1.0)
