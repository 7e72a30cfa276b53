"""How much each word of a question counts: its IDF in the index, no more than its everyday
rarity allows (``knowledge.ranking.damping_of``), framing words little, a word the index has
never seen by its rarity in everyday Chinese, the last clause of a story more, a possible reading
of an everyday word (火花 as 火化) less. Computed once per question."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.analyzer import FRAMING, Analyzed
from knowledge.ranking import FRAMING_WEIGHT, KIND_WEIGHT, RARITY_OFFSET
from knowledge.scope import QuerySignals, signal_of
from knowledge.terms import Kind, Term
from knowledge.tokenizer import everyday_rarity, general_surprisal

UNKNOWN_WORD_WEIGHT = 1.5
# The last clause of a story says what is asked: its words count this much more.
TAIL_BOOST = 2.0
# How much a possible reading of an everyday word counts (火花 read as 火化).
ALTERNATIVE_SHARE = 0.5
# Caches of words never seen stop growing here (a flood of nonsense costs no memory).
CACHE_LIMIT = 100_000


@dataclass(frozen=True)
class Weighed:
    weights: dict[Term, float]  # the question's terms
    sounds: dict[Term, float]  # its sound pairs of one reading
    groups: tuple[tuple[frozenset[Term], float], ...]  # and those of several (heteronyms)
    total: float
    sound_total: float


def with_alternatives(query: Analyzed) -> list[tuple[Term, float]]:
    """The question's terms, each once, with the share of its weight that counts: whole for
    what was written, ``ALTERNATIVE_SHARE`` for a domain word an everyday word may be a typo of."""
    terms = set(query.terms)
    tail = query.tail
    return [(t, TAIL_BOOST if t in tail else 1.0) for t in terms] + [
        (t, ALTERNATIVE_SHARE) for t in query.alternatives if t not in terms
    ]


class Weigher:
    """An index's term weights; its caches fill as questions come."""

    def __init__(
        self, idf: dict[Term, float], damping: dict[Term, float], domain_words: frozenset[str]
    ) -> None:
        self.idf = idf
        self.damping = damping
        self.domain_words = domain_words
        self._unknown: dict[Term, float] = {}
        self._specific: dict[Term, float] = {}

    def weight(self, term: Term) -> float:
        idf = self.idf.get(term)
        if idf is not None:
            return KIND_WEIGHT[term.kind] * idf * self.damping.get(term, 1.0)
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
            rarity = everyday_rarity(term.text)
            weight = min(max((rarity - 9.0) / 1.5, 0.2), 2.5)
            if term.text in FRAMING:
                weight = min(weight, FRAMING_WEIGHT)
            if len(self._unknown) < CACHE_LIMIT:
                self._unknown[term] = weight
        return weight

    def weighed(self, query: Analyzed) -> Weighed:
        """The question's terms and sound groups with their weights, computed once per ask."""
        weights = {t: share * self.weight(t) for t, share in with_alternatives(query)}
        unique = set(query.pinyin_groups)
        # Most sound pairs have one reading: those are compared as a set, like the words.
        sounds = {g[0]: self.weight(g[0]) for g in unique if len(g) == 1}
        groups = tuple((frozenset(g), max(self.weight(t) for t in g)) for g in unique if len(g) > 1)
        sound_total = sum(sounds.values()) + sum(w for _, w in groups)
        return Weighed(weights, sounds, groups, sum(weights.values()), sound_total)

    def signals(self, weighed: Weighed, cues: dict[str, float]) -> QuerySignals:
        """What the question itself says, for the scope decision (``knowledge.scope``)."""
        words = [(t, w) for t, w in weighed.weights.items() if t.kind is Kind.WORD]
        total = sum(w for _, w in words)
        unheard = sum(w for t, w in words if t not in self.idf)
        signal = max(
            (self.specificity(t) for t, _ in words if t.text in self.domain_words), default=0.0
        )
        return QuerySignals(
            signal=signal,
            unheard=unheard / total if total else 0.0,
            cue=max(cues.values(), default=0.0),
        )

    def specificity(self, term: Term) -> float:
        value = self._specific.get(term)
        if value is None:
            value = signal_of(general_surprisal(term.text), RARITY_OFFSET)
            self._specific[term] = value
        return value
