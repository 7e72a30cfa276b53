"""The question matcher: an inverted index with BM25 finds candidates, rapidfuzz re-ranks them
against the candidates' own sample questions, and a calibrated confidence decides between an
answer and a fallback.

Only titles, keywords and sample questions are indexed, never answer texts: a word that merely
appears in an answer (身份证 in the marriage papers) must not make a question about it a match.
Out-of-scope matters (passports, medical insurance …) are indexed too, so a question about them
lands on them and falls back with advice instead of stretching a civil-affairs entry.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import repeat

from knowledge.analyzer import Analyzed, Analyzer
from knowledge.answer import Answer, Suggestion, declined, ms
from knowledge.calibration import Calibration, Features
from knowledge.cues import CueIndex, eligibility_cues
from knowledge.documents import Analysed, Doc, analyse, sources_of
from knowledge.featuring import Candidate, Featuring
from knowledge.intents import profile
from knowledge.ranking import (
    KIND_WEIGHT,
    Postings,
    bm25_postings,
    damping_of,
    evidence,
    related_keys,
)
from knowledge.schema import CueIn
from knowledge.scope import QuerySignals, ScopeFeatures, named
from knowledge.store import KnowledgeSnapshot
from knowledge.synonyms import Synonyms
from knowledge.terms import Kind, Term
from knowledge.tokenizer import domain_tokenizer
from knowledge.weighing import Weigher, with_alternatives

__all__ = ["Answer", "KnowledgeIndex", "Suggestion"]

CANDIDATES = 6
# Entries the strongest signs point to, added when the words did not find them.
CUE_CANDIDATES = 3
MAX_SUGGESTIONS = 3
# A word held by more than about a third of the documents (IDF below this) leads to no sign:
# 老人 is in most questions an eldercare service gets, whatever their need.
COMMONPLACE_IDF = 1.0


# Terms spelt in characters: what the index knows is never corrected away as a typo.
_SPELT = frozenset({Kind.WORD, Kind.BIGRAM})


@dataclass
class _Scored:
    index: int
    bm25: float
    features: Features = field(default_factory=Features)
    score: float = 0.0
    lead: float = 0.0
    confidence: float = 0.0


class KnowledgeIndex:
    def __init__(
        self,
        docs: Sequence[Doc],
        postings: Postings,
        idf: dict[Term, float],
        analyzer: Analyzer,
        calibration: Calibration,
        cues: Sequence[CueIn] = (),
        domain_words: frozenset[str] = frozenset(),
    ) -> None:
        """``domain_words``: the service's own words (titles, keywords, synonyms), what a
        civil-affairs need is named by."""
        self.docs = tuple(docs)
        self.postings = postings
        self.idf = idf
        self.analyzer = analyzer
        self.calibration = calibration
        self._excluded: tuple[date, frozenset[int]] | None = None
        self.related = related_keys(self.docs)
        self.entries = {doc.key: doc.entry for doc in self.docs if doc.entry is not None}
        self.position = {doc.key: i for i, doc in enumerate(self.docs)}
        # Each known term's share of its IDF that counts (1 when absent): everyday and framing
        # words count less.
        self.damping = damping_of(idf)
        self.weigher = Weigher(idf, self.damping, domain_words)
        commonplace = frozenset(t for t, value in idf.items() if value < COMMONPLACE_IDF)
        self.cues = CueIndex(cues, analyzer, set(self.entries), commonplace)
        # Each sample question's weight (words, pairs, Latin): how much of it a question holds.
        # (Every term of a sample is in the index; its weight once, not once per sample.)
        known = {
            t: KIND_WEIGHT[t.kind] * value * self.damping.get(t, 1.0)
            for t, value in idf.items()
            if t.kind is not Kind.SOUND
        }
        self.sample_totals = tuple(
            tuple(
                sum(map(known.get, sample.terms, repeat(0.0, len(sample.terms)))) or 1.0
                for sample in doc.samples
            )
            for doc in self.docs
        )
        # What each document's questions ask (where, how, how much …): ``knowledge.intents``.
        self.profiles = tuple(profile(doc.sample_texts) for doc in self.docs)
        self._analysed: dict[str, Analysed] = {}
        self._vocabulary: frozenset[str] = frozenset()
        self.exact = True

    # Building ---------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        snapshot: KnowledgeSnapshot,
        calibration: Calibration | None = None,
        *,
        previous: KnowledgeIndex | None = None,
    ) -> KnowledgeIndex:
        """CPU-bound: call it off the event loop (``asyncio.to_thread``). How the garbage
        collector treats what it allocates is the caller's policy (``bot.memory``).

        With ``previous``, documents whose texts are unchanged keep their analysis: fast, but
        ``exact`` is False when any was reused (a new title or keyword may segment the others
        differently), and a full build should follow."""
        return cls._build(snapshot, calibration, previous)

    @classmethod
    def _build(
        cls,
        snapshot: KnowledgeSnapshot,
        calibration: Calibration | None,
        previous: KnowledgeIndex | None,
    ) -> KnowledgeIndex:
        # The index's own tokenizer knows its titles and keywords, and the synonyms teach it
        # their words, so a variant is rewritten only where it stands as a whole word.
        vocabulary = frozenset(
            [
                *(e.title for e in snapshot.entries),
                *(k for e in snapshot.entries for k in e.keywords),
                *(k for o in snapshot.out_of_scope for k in o.keywords),
            ]
        )
        tokenizer = domain_tokenizer(sorted(vocabulary))
        synonyms = Synonyms(snapshot.synonyms, tokenizer)
        analyzer = Analyzer(synonyms, tokenizer)
        docs: list[Doc] = []
        bags: list[Counter[Term]] = []
        # The service's own words, to correct misspelt questions towards: words of titles,
        # keywords and synonyms.
        domain: set[str] = set(synonyms.words())
        # An earlier index's analysis of a document is reused when its texts and the synonyms
        # are the same (a publish that changes one entry re-analyses only that one).
        reusable = (
            previous._analysed
            if previous and previous.analyzer.synonyms.mapping == (synonyms.mapping)
            else {}
        )
        analysed: dict[str, Analysed] = {}
        for source in sources_of(snapshot):
            part = reusable.get(source.key)
            if part is None or part.texts != source.texts:
                part = analyse(analyzer, source)
            analysed[source.key] = part
            domain.update(part.domain)
            docs.append(part.doc(source.entry, source.out_of_scope))
            bags.append(part.bag)
        # Questions are corrected towards the domain's own words from now on; samples were
        # analysed before, which is right: they are the content's own spelling.
        document_frequency: Counter[str] = Counter()
        for bag in bags:
            document_frequency.update(t.text for t in bag if t.kind is Kind.WORD)
        analyzer.learn_vocabulary(
            {w: document_frequency.get(w, 0) for w in domain},
            known={t.text for bag in bags for t in bag if t.kind in _SPELT},
        )
        index = cls(
            docs,
            *bm25_postings(bags),
            analyzer,
            calibration or Calibration.default(),
            (*snapshot.cues, *eligibility_cues(snapshot.entries)),
            frozenset(domain),
        )
        index._analysed = analysed
        index._vocabulary = vocabulary
        # Reused documents were segmented by a tokenizer without any title or keyword that is
        # new: exact only when there is none, or when nothing was reused.
        index.exact = (
            not reusable
            or (previous is not None and previous._vocabulary == vocabulary)
            or all(reusable.get(key) is not part for key, part in analysed.items())
        )
        return index

    # Asking -----------------------------------------------------------------------------------

    def _assess(self, query: Analyzed, today: date) -> tuple[list[_Scored], QuerySignals]:
        """The candidates, best first, and what the question itself says (for the scope)."""
        scored = self._candidates(query, today)
        cues = self.cues.entries(query)
        if cues:
            # An entry a sign points to is a candidate even when no word of it was said.
            present = {c.index for c in scored}
            excluded = self._excluded_on(today)
            for key in heapq.nlargest(CUE_CANDIDATES, cues, key=cues.__getitem__):
                position = self.position[key]
                if position not in present and position not in excluded:
                    scored.append(_Scored(index=position, bm25=0.0))
        weighed = self.weigher.weighed(query)
        signals = self.weigher.signals(weighed, cues)
        if not scored:
            return scored, signals
        featured = Featuring(query, weighed, cues)
        found = featured.all(
            [
                Candidate(
                    self.docs[c.index], c.bm25, self.sample_totals[c.index], self.profiles[c.index]
                )
                for c in scored
            ]
        )
        for candidate, features in zip(scored, found, strict=True):
            candidate.features = features
            candidate.score = self.calibration.score(features)
        length = featured.length
        scored.sort(key=lambda c: c.score, reverse=True)
        keyed = [(self.docs[c.index].key, c.score) for c in scored]
        for candidate, (score, lead) in zip(scored, evidence(keyed, self.related), strict=True):
            candidate.lead = lead
            candidate.confidence = self.calibration.confidence(score, lead, length)
        return scored, signals

    def candidate_features(
        self, question: str, *, today: date
    ) -> tuple[list[tuple[str, Features]], QuerySignals]:
        """Every candidate's key and features, best first, and the question's own signals, for
        fitting the calibration."""
        scored, signals = self._assess(self.analyzer.analyze(question), today)
        return [(self.docs[c.index].key, c.features) for c in scored], signals

    def scope(self, scored: Sequence[_Scored], signals: QuerySignals) -> ScopeFeatures:
        entry = next((c for c in scored if self.docs[c.index].entry is not None), None)
        outside = next((c for c in scored if self.docs[c.index].out_of_scope is not None), None)
        return ScopeFeatures.of(
            signals,
            entry.confidence if entry is not None else 0.0,
            entry.features.text_coverage if entry is not None else 0.0,
            outside.score if outside is not None else None,
        )

    def in_scope(self, scored: Sequence[_Scored], signals: QuerySignals) -> float:
        """How likely the question is about civil affairs at all: 1 when it names a service
        (``knowledge.scope.named``), else the calibrated scope model's probability."""
        scope = self.scope(scored, signals)
        return 1.0 if named(scope) else self.calibration.in_scope(scope)

    def ask(self, question: str, *, today: date) -> Answer:
        started = time.perf_counter()
        query = self.analyzer.analyze(question if isinstance(question, str) else str(question))
        if not query.terms and not query.pinyin_groups:
            return Answer(question, True, None, 0.0, (), ms(started), empty=not query.text)
        scored, signals = self._assess(query, today)
        if not scored:
            return Answer(question, True, None, 0.0, (), ms(started))
        best = scored[0]
        best_doc = self.docs[best.index]
        if self.in_scope(scored, signals) < self.calibration.scope_threshold:
            # Not a civil-affairs question, however well some word matched: no entry is
            # offered. A matter of the out-of-scope list that fits says where to go instead.
            outside = next((c for c in scored if self.docs[c.index].out_of_scope), None)
            matter = (
                self.docs[outside.index].out_of_scope
                if outside is not None and outside.confidence >= self.calibration.threshold
                else None
            )
            return declined(question, best.confidence, started, matter, outside=True)
        if best_doc.out_of_scope is not None and best.confidence >= self.calibration.threshold:
            return declined(question, best.confidence, started, best_doc.out_of_scope)
        suggestions = tuple(
            Suggestion(doc.key, doc.title, c.confidence)
            for c in scored
            if (doc := self.docs[c.index]).entry is not None
            and c.confidence >= self.calibration.suggestion_floor
        )[:MAX_SUGGESTIONS]
        if best_doc.entry is not None and best.confidence >= self.calibration.threshold:
            return Answer(
                question, False, best_doc.entry, best.confidence, suggestions[1:], ms(started)
            )
        return Answer(question, True, None, best.confidence, suggestions, ms(started))

    def _excluded_on(self, today: date) -> frozenset[int]:
        cached = self._excluded
        if cached is not None and cached[0] == today:
            return cached[1]
        excluded = frozenset(
            i
            for i, doc in enumerate(self.docs)
            if doc.entry is not None and not doc.entry.in_force(today)
        )
        self._excluded = (today, excluded)
        return excluded

    def _candidates(self, query: Analyzed, today: date) -> list[_Scored]:
        """BM25 over the inverted index: each term adds its postings. A question has a handful
        of terms with a few postings each; plain dictionaries beat arrays at that size."""
        postings = self.postings
        scores: dict[int, float] = defaultdict(float)
        damping = self.damping
        for term, share in with_alternatives(query):
            weight = share * KIND_WEIGHT[term.kind] * damping.get(term, 1.0)
            for doc, bm25 in postings.get(term, ()):
                scores[doc] += weight * bm25
        sound_weight = KIND_WEIGHT[Kind.SOUND]
        for group in set(query.pinyin_groups):
            if len(group) == 1:
                for doc, bm25 in postings.get(group[0], ()):
                    scores[doc] += sound_weight * bm25
                continue
            # Heteronyms: the best-matching reading counts, not all of them.
            best: dict[int, float] = {}
            for term in group:
                for doc, bm25 in postings.get(term, ()):
                    if bm25 > best.get(doc, 0.0):
                        best[doc] = bm25
            for doc, bm25 in best.items():
                scores[doc] += sound_weight * bm25
        excluded = self._excluded_on(today)
        ranked = heapq.nlargest(
            CANDIDATES,
            ((score, doc) for doc, score in scores.items() if score > 0.0 and doc not in excluded),
        )
        return [_Scored(index=doc, bm25=score) for score, doc in ranked]
