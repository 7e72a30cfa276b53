"""What the matcher answers: an entry, or a fallback with suggestions, another department's
advice, or the judgement that the question is not civil affairs; in DESIGN.md's ``ask`` shape."""

from __future__ import annotations

import time
from dataclasses import dataclass

from knowledge.schema import OutOfScopeIn
from knowledge.store import PublishedEntry


@dataclass(frozen=True)
class Suggestion:
    entry_id: str
    title: str
    score: float


@dataclass(frozen=True)
class Answer:
    question: str
    fallback: bool
    entry: PublishedEntry | None
    score: float
    suggestions: tuple[Suggestion, ...]
    elapsed_ms: float
    out_of_scope: OutOfScopeIn | None = None
    empty: bool = False
    # Judged not a civil-affairs question at all (``knowledge.scope``), not merely unsure.
    outside: bool = False

    def as_contract(self) -> dict[str, object]:
        """The object of DESIGN.md's ``ask`` contract."""
        return {
            "question": self.question,
            "fallback": self.fallback,
            "entry_id": None if self.fallback or self.entry is None else self.entry.id,
            "title": None if self.fallback or self.entry is None else self.entry.title,
            "answer": None if self.fallback or self.entry is None else self.entry.answer,
            "score": round(self.score, 4),
            "suggestions": [
                {"entry_id": s.entry_id, "title": s.title, "score": round(s.score, 4)}
                for s in self.suggestions
            ],
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def declined(
    question: str,
    score: float,
    started: float,
    matter: OutOfScopeIn | None,
    *,
    outside: bool = False,
) -> Answer:
    """A fallback without suggestions: another department's matter, or not civil affairs."""
    return Answer(
        question, True, None, score, (), ms(started), out_of_scope=matter, outside=outside
    )


def ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
