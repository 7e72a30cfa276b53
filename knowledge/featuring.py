"""A question's candidates described for the calibrated model (``knowledge.calibration``): how
much of the question each holds, how alike its sample questions are, what sets it apart from the
other candidates, whether it answers what the question asks, and the question's length.
"""

from __future__ import annotations

import heapq
import math
import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from knowledge.analyzer import Analyzed
from knowledge.calibration import Features
from knowledge.documents import Doc
from knowledge.intents import agreement, asks
from knowledge.terms import Kind, Term
from knowledge.weighing import Weighed

# Covered IDF weight at which evidence reaches 1 - 1/e: about two specific words.
EVIDENCE_SCALE = 6.0
# BM25 score at which its level reaches 1 - 1/e: a plain question's winner scores about this.
BM25_SCALE = 15.0
# Words at which a question's length reaches 1 - 1/e: a story rather than a phrase.
LENGTH_SCALE = 12.0


@dataclass(frozen=True)
class Candidate:
    doc: Doc
    bm25: float
    totals: tuple[float, ...]  # each sample question's weight (``KnowledgeIndex.sample_totals``)
    profile: dict[str, float]  # what its questions ask (``knowledge.intents.profile``)


class Featuring:
    """One question's side, computed once; ``all`` describes its candidates."""

    def __init__(self, query: Analyzed, weighed: Weighed, cues: dict[str, float]) -> None:
        self.query = query
        self.weighed = weighed
        self.cues = cues
        self.asked = asks(query.text)
        words = sum(1 for t in query.terms if t.kind is Kind.WORD)
        self.length = 1.0 - math.exp(-words / LENGTH_SCALE)

    def all(self, candidates: Sequence[Candidate]) -> list[Features]:
        weights = self.weighed.weights
        # The question's terms each candidate holds. ``terms.intersection(dict)`` walks the
        # question's few terms; ``keys() & terms`` would walk the entry's hundreds.
        held = [c.doc.terms.intersection(weights) for c in candidates]
        holders = Counter(t for terms in held for t in terms)
        strengths = [self.cues.get(c.doc.key, 0.0) for c in candidates]
        first, second = heapq.nlargest(2, [*strengths, 0.0, 0.0])[:2]
        top_bm25 = max((c.bm25 for c in candidates), default=0.0)
        total = self.weighed.total or 1.0
        return [
            self._one(
                candidate,
                terms,
                top_bm25,
                # What the others lack: each term's weight split among the candidates holding
                # it, and the candidate's cue over the best other candidate's.
                distinct=sum(weights[t] / holders[t] for t in terms) / total,
                cue_lead=strength - (second if strength == first else first),
            )
            for candidate, terms, strength in zip(candidates, held, strengths, strict=True)
        ]

    def _shares(self, words: float, sounds: float) -> tuple[float, float]:
        weighed = self.weighed
        text = words / weighed.total if weighed.total else 0.0
        # With no sounds to compare (an English question) the sound channel follows the text.
        sound = sounds / weighed.sound_total if weighed.sound_total else text
        return text, sound

    def _one(
        self,
        candidate: Candidate,
        terms: frozenset[Term],
        top_bm25: float,
        *,
        distinct: float,
        cue_lead: float,
    ) -> Features:
        query, weighed, doc = self.query, self.weighed, candidate.doc
        where = doc.term_samples
        count = len(doc.sample_texts)  # the title and the questions
        words = [0.0] * count
        sounds = [0.0] * count
        matched = py_matched = focused = 0.0
        weights = weighed.weights
        for term in terms:
            weight = weights[term]
            matched += weight
            holding = where.get(term, ())
            focused += weight * len(holding)
            for i in holding:
                words[i] += weight
        held = doc.terms  # every term of the samples (``where``) and of the keywords
        single = weighed.sounds
        for term in held.intersection(single):
            weight = single[term]
            py_matched += weight
            for i in where.get(term, ()):
                sounds[i] += weight
        for group, weight in weighed.groups:
            if group.isdisjoint(held):
                continue
            py_matched += weight
            hit: set[int] = set()
            for term in group:
                hit.update(where.get(term, ()))
            for i in hit:
                sounds[i] += weight
        text_coverage, sound_coverage = self._shares(matched, py_matched)
        totals = candidate.totals
        # The best single sample question: are the words together in one question?
        question_coverage = max(self._shares(max(words), max(sounds)))
        best_text = process.extractOne(query.text, doc.sample_texts, scorer=fuzz.ratio)
        text_sim = best_text[1] / 100 if best_text else 0.0
        if query.pinyin:
            best_sound = process.extractOne(query.pinyin, doc.sample_sounds, scorer=fuzz.ratio)
            sound_sim = best_sound[1] / 100 if best_sound else 0.0
        else:
            sound_sim = text_sim
        return Features(
            text_coverage=text_coverage,
            sound_coverage=sound_coverage,
            question_coverage=question_coverage,
            text_similarity=text_sim,
            sound_similarity=sound_sim,
            bm25_share=candidate.bm25 / top_bm25 if top_bm25 else 0.0,
            evidence=1.0 - math.exp(-max(matched, py_matched) / EVIDENCE_SCALE),
            # At most 1: the last clause's words count double (``TAIL_BOOST``).
            sample_recall=min(max(map(operator.truediv, words, totals), default=0.0), 1.0),
            title_recall=min(words[0] / totals[0], 1.0) if words else 0.0,
            cue=self.cues.get(doc.key, 0.0),
            bm25_level=1.0 - math.exp(-candidate.bm25 / BM25_SCALE),
            distinct=distinct,
            cue_lead=cue_lead,
            focus=focused / count / weighed.total if weighed.total else 0.0,
            intent=agreement(self.asked, candidate.profile),
            length=self.length,
        )
