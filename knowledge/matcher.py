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
import math
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from rapidfuzz import fuzz, process

from knowledge.analyzer import Analyzed, Analyzer
from knowledge.calibration import LEAD_CAP, Calibration, Features
from knowledge.documents import Analysed, Doc, analyse, sources_of
from knowledge.schema import OutOfScopeIn
from knowledge.store import KnowledgeSnapshot, PublishedEntry
from knowledge.synonyms import Synonyms
from knowledge.terms import Kind, Term
from knowledge.tokenizer import domain_tokenizer

K1 = 1.2
B = 0.75
CANDIDATES = 8
MAX_SUGGESTIONS = 3
# Character pairs and sounds only echo the words they come from: they weigh less.
KIND_WEIGHT = {Kind.WORD: 1.0, Kind.LATIN: 1.0, Kind.BIGRAM: 0.7, Kind.SOUND: 0.6}
UNKNOWN_WORD_WEIGHT = 1.5
# Covered IDF weight at which evidence reaches 1 - 1/e: about two specific words.
EVIDENCE_SCALE = 6.0


# Terms spelt in characters: what the index knows is never corrected away as a typo.
_SPELT = frozenset({Kind.WORD, Kind.BIGRAM})


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
    ) -> None:
        self.docs = tuple(docs)
        self.postings = postings
        self.idf = idf
        self.analyzer = analyzer
        self.calibration = calibration
        self._excluded: tuple[date, frozenset[int]] | None = None
        self._unknown: dict[Term, float] = {}
        self.related = related_keys(self.docs)
        self.entries = {doc.key: doc.entry for doc in self.docs if doc.entry is not None}
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
        index = cls(docs, *_bm25_postings(bags), analyzer, calibration or Calibration.default())
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

    def _ranked(self, query: Analyzed, today: date) -> list[_Scored]:
        scored = self._candidates(query, today)
        if not scored:
            return scored
        weighed = self._weighed(query)
        for candidate in scored:
            candidate.features = self._features(query, weighed, candidate, scored[0].bm25)
            candidate.score = self.calibration.score(candidate.features)
        scored.sort(key=lambda c: c.score, reverse=True)
        keyed = [(self.docs[c.index].key, c.score) for c in scored]
        for candidate, (score, lead) in zip(scored, evidence(keyed, self.related), strict=True):
            candidate.lead = lead
            candidate.confidence = self.calibration.confidence(score, lead)
        return scored

    def candidate_features(self, question: str, *, today: date) -> list[tuple[str, Features]]:
        """Every candidate's key and features, best first, for fitting the calibration."""
        query = self.analyzer.analyze(question)
        return [(self.docs[c.index].key, c.features) for c in self._ranked(query, today)]

    def ask(self, question: str, *, today: date) -> Answer:
        started = time.perf_counter()
        query = self.analyzer.analyze(question if isinstance(question, str) else str(question))
        if not query.terms and not query.pinyin_groups:
            return Answer(question, True, None, 0.0, (), _ms(started), empty=not query.text)
        scored = self._ranked(query, today)
        if not scored:
            return Answer(question, True, None, 0.0, (), _ms(started))
        best = scored[0]
        best_doc = self.docs[best.index]
        if best_doc.out_of_scope is not None and best.confidence >= self.calibration.threshold:
            return Answer(
                question,
                True,
                None,
                best.confidence,
                (),
                _ms(started),
                out_of_scope=best_doc.out_of_scope,
            )
        suggestions = tuple(
            Suggestion(doc.key, doc.title, c.confidence)
            for c in scored
            if (doc := self.docs[c.index]).entry is not None
            and c.confidence >= self.calibration.suggestion_floor
        )[:MAX_SUGGESTIONS]
        if best_doc.entry is not None and best.confidence >= self.calibration.threshold:
            return Answer(
                question, False, best_doc.entry, best.confidence, suggestions[1:], _ms(started)
            )
        return Answer(question, True, None, best.confidence, suggestions, _ms(started))

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
        for term in set(query.terms):
            weight = KIND_WEIGHT[term.kind]
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

    def _weight(self, term: Term) -> float:
        idf = self.idf.get(term)
        if idf is not None:
            return KIND_WEIGHT[term.kind] * idf
        # A word the index has never seen may mean the question is about something else
        # (护照, 招工), or may be everyday wrapping (老头子, 一直): it weighs by how rare it is
        # in everyday Chinese. An unseen bigram or sound pair weighs nothing: the word it
        # belongs to already counts.
        if term.kind is Kind.LATIN:
            return UNKNOWN_WORD_WEIGHT
        if term.kind is not Kind.WORD:
            return 0.0
        weight = self._unknown.get(term)
        if weight is None:
            rarity = self.analyzer.surprisal(term.text)
            weight = min(max((rarity - 9.0) / 1.5, 0.2), 2.5)
            if len(self._unknown) < 100_000:
                self._unknown[term] = weight
        return weight

    def _weighed(self, query: Analyzed) -> _Weighed:
        """The question's terms and sound groups with their weights, computed once per ask."""
        weights = {t: self._weight(t) for t in set(query.terms)}
        groups = tuple(
            (frozenset(g), max(self._weight(t) for t in g)) for g in set(query.pinyin_groups)
        )
        return _Weighed(weights, groups, sum(weights.values()), sum(w for _, w in groups))

    @staticmethod
    def _shares(weighed: _Weighed, words: float, sounds: float) -> tuple[float, float]:
        text = words / weighed.total if weighed.total else 0.0
        # With no sounds to compare (an English question) the sound channel follows the text.
        sound = sounds / weighed.sound_total if weighed.sound_total else text
        return text, sound

    def _features(
        self, query: Analyzed, weighed: _Weighed, candidate: _Scored, top_bm25: float
    ) -> Features:
        doc = self.docs[candidate.index]
        where = doc.term_samples
        count = len(doc.samples)
        words = [0.0] * count
        sounds = [0.0] * count
        matched = py_matched = 0.0
        held = doc.terms  # every term of the samples (``where``) and of the keywords
        weights = weighed.weights
        # The question's terms the entry holds; a set intersection instead of a loop over all.
        for term in weights.keys() & held:
            weight = weights[term]
            matched += weight
            for i in where.get(term, ()):
                words[i] += weight
        for group, weight in weighed.groups:
            if group.isdisjoint(held):
                continue
            py_matched += weight
            if len(group) == 1:
                for i in where.get(next(iter(group)), ()):
                    sounds[i] += weight
                continue
            hit: set[int] = set()
            for term in group:
                hit.update(where.get(term, ()))
            for i in hit:
                sounds[i] += weight
        text_coverage, sound_coverage = self._shares(weighed, matched, py_matched)
        # The best single sample question: are the words together in one question?
        question_coverage = max(self._shares(weighed, max(words), max(sounds)))
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
        )


@dataclass(frozen=True)
class _Weighed:
    weights: dict[Term, float]  # the question's terms
    groups: tuple[tuple[frozenset[Term], float], ...]
    total: float
    sound_total: float


def related_keys(docs: Sequence[Doc]) -> dict[str, frozenset[str]]:
    """Entries that answer neighbouring questions (``related``, either direction)."""
    links: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        for other in doc.entry.related if doc.entry else ():
            links[doc.key].add(other)
            links[other].add(doc.key)
    return {key: frozenset(value) for key, value in links.items()}


def evidence(
    ranked: Sequence[tuple[str, float]], related: dict[str, frozenset[str]]
) -> list[tuple[float, float]]:
    """(score, lead) for each candidate, best first, as the confidence model reads them.

    For the winner, the score is its topic's: the log-sum-exp of its own and its related
    entries' scores (a general 低保 question spreads over conditions, papers and standard, and
    that spread is no doubt about the topic), and the lead is over the best unrelated rival.
    Every other candidate's lead is its gap to the winner."""
    if not ranked:
        return []
    top_key, top_score = ranked[0]
    near = related.get(top_key, frozenset())
    family = [score for key, score in ranked[1:] if key in near]
    topic = top_score + math.log1p(sum(math.exp(score - top_score) for score in family))
    rivals = [score for key, score in ranked[1:] if key not in near]
    out = [(topic, topic - rivals[0] if rivals else LEAD_CAP)]
    out.extend((score, score - top_score) for _, score in ranked[1:])
    return out


# The inverted index: term -> the documents holding it, each with its BM25 weight (IDF times the
# saturated, length-normalised frequency), in document order.
Postings = dict[Term, tuple[tuple[int, float], ...]]


def _bm25_postings(bags: Sequence[Counter[Term]]) -> tuple[Postings, dict[Term, float]]:
    """Computed as arrays (thousands of terms at once), kept as tuples (read a few at a time)."""
    n = len(bags)
    ids: dict[Term, int] = {}
    term_ids: list[int] = []
    doc_ids: list[int] = []
    counts: list[int] = []
    for doc, bag in enumerate(bags):
        for term, count in bag.items():
            term_ids.append(ids.setdefault(term, len(ids)))
            doc_ids.append(doc)
            counts.append(count)
    terms = np.asarray(term_ids, dtype=np.int64)
    docs = np.asarray(doc_ids, dtype=np.int32)
    tf = np.asarray(counts, dtype=np.float64)
    lengths = np.bincount(docs, weights=tf, minlength=n)
    average = float(lengths.mean()) if n else 1.0
    norm = K1 * (1 - B + B * lengths / average)
    df = np.bincount(terms, minlength=len(ids))
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    weights = idf[terms] * tf * (K1 + 1) / (tf + norm[docs])
    gathered: list[list[tuple[int, float]]] = [[] for _ in ids]
    for term_id, doc, weight in zip(term_ids, doc_ids, weights.tolist(), strict=True):
        gathered[term_id].append((doc, weight))
    names = list(ids)
    postings = {name: tuple(pairs) for name, pairs in zip(names, gathered, strict=True)}
    return postings, dict(zip(names, idf.tolist(), strict=True))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
