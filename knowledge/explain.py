"""Why the matcher answered as it did, for the authors' test pane: the question as the matcher
read it, the synonyms and signs of needs that fired, how likely it is about civil affairs at
all, every candidate with its confidence, and the words each shares with the question."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from knowledge.cues import Fired
from knowledge.matcher import Answer, KnowledgeIndex
from knowledge.synonyms import fired
from knowledge.terms import Kind


@dataclass(frozen=True)
class Candidate:
    key: str
    title: str
    confidence: float
    # Words and character pairs of the question found in this entry's title and questions.
    matched: tuple[str, ...]
    out_of_scope: bool


@dataclass(frozen=True)
class Explanation:
    answer: Answer
    threshold: float
    normalised: str
    synonyms: tuple[tuple[str, str], ...]
    candidates: tuple[Candidate, ...]
    signs: tuple[Fired, ...] = ()
    in_scope: float = 1.0  # the scope model's probability that the question is civil affairs
    scope_threshold: float = 0.0


# Whole words, Chinese or Latin: what staff recognise as "the words that matched".
_NAMED = frozenset({Kind.WORD, Kind.LATIN})


def explain(index: KnowledgeIndex, question: str, *, today: date) -> Explanation:
    answer = index.ask(question, today=today)
    query = index.analyzer.analyze(question)
    asked = [*query.terms, *(t for group in query.pinyin_groups for t in group)]
    candidates = []
    ranked, signals = index._assess(query, today)
    in_scope = index.in_scope(ranked, signals) if ranked else 0.0
    for scored in ranked:
        doc = index.docs[scored.index]
        words = [t for t in dict.fromkeys(asked) if t in doc.terms and t.kind in _NAMED]
        if not words:  # only sounds or character pairs in common: show those
            words = [t for t in dict.fromkeys(asked) if t in doc.terms]
        candidates.append(
            Candidate(
                key=doc.key,
                title=doc.title,
                confidence=scored.confidence,
                matched=tuple(t.shown() for t in words),
                out_of_scope=doc.out_of_scope is not None,
            )
        )
    return Explanation(
        answer=answer,
        threshold=index.calibration.threshold,
        normalised=query.text,
        synonyms=tuple(fired(index.analyzer.synonyms, question)),
        signs=tuple(index.cues.fired(query)[:5]),
        in_scope=in_scope,
        scope_threshold=index.calibration.scope_threshold,
        candidates=tuple(candidates),
    )
