"""The similarity of two question keys, and the greedy merge of keys into clusters.

Used by ``knowledge.unanswered``; see its docstring for the method and the threshold's evidence.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from itertools import chain
from operator import itemgetter

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from knowledge.pinyin import readings

SIMILARITY = 78.0
# Taken off the similarity for each character replaced by one that sounds different.
SUBSTITUTION_PENALTY = 12.0
# Candidate clusters scored for each distinct key, and postings read to find them.
MAX_CANDIDATES = 24
POSTINGS_BUDGET = 2000
# Length bands of the inverted index: lengths within a factor of 1.25 share a band.
_BAND_BASE = math.log(1.25)


class Coder(dict[str, str]):
    """Each character to one code: Chinese characters that sound alike share theirs."""

    def __init__(self) -> None:
        super().__init__()
        self._syllables: dict[str, str] = {}

    def __missing__(self, char: str) -> str:
        found = readings(char)
        code = char
        if found:  # a private-use character per fuzzy toneless reading
            code = self._syllables.setdefault(found[0], chr(0xF0000 + len(self._syllables)))
        self[char] = code
        return code

    def code(self, key: str) -> str:
        return "".join([self[c] for c in key])


def _sounds_alike(a: str, b: str) -> bool:
    if a.isascii() and b.isascii() and a.isalpha() and b.isalpha():
        return True  # a letter mistyped in pinyin or English: not a different word
    return bool(set(readings(a)) & set(readings(b)))


def penalty(key_a: str, key_b: str, coded_a: str, coded_b: str) -> float:
    """SUBSTITUTION_PENALTY for each character replaced by one that sounds different."""
    substituted = sum(
        1
        for op in Levenshtein.editops(coded_a, coded_b)
        if op.tag == "replace" and not _sounds_alike(key_a[op.src_pos], key_b[op.dest_pos])
    )
    return SUBSTITUTION_PENALTY * substituted


def similarity(key_a: str, key_b: str) -> float:
    """How alike two keys are (0-100): what ``cluster_questions`` compares to its threshold."""
    coder = Coder()
    coded_a, coded_b = coder.code(key_a), coder.code(key_b)
    return max(0.0, fuzz.ratio(coded_a, coded_b) - penalty(key_a, key_b, coded_a, coded_b))


def _band(length: int) -> int:
    return int(math.log(max(1, length)) / _BAND_BASE)


class _Index:
    """The clusters' representatives, found by shared bigrams within compatible lengths."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        ratio = min(threshold, 99.999) / 100
        # fuzz.ratio <= 2·min(la, lb) / (la + lb): lengths outside these factors cannot reach it.
        self.low, self.high = ratio / (2 - ratio), (2 - ratio) / ratio
        self.keys: list[str] = []
        self.coded: list[str] = []
        # band -> bigram -> clusters; arrays, not lists: nothing for the garbage collector.
        self.postings: dict[int, dict[str, array[int]]] = {}
        self._needed: dict[int, int] = {}

    def add(self, key: str, coded: str, grams: list[str]) -> None:
        cluster = len(self.keys)
        self.keys.append(key)
        self.coded.append(coded)
        band = self.postings.setdefault(_band(len(coded)), {})
        for gram in grams:
            found = band.get(gram)
            if found is None:
                band[gram] = array("i", (cluster,))
            else:
                found.append(cluster)

    def shared_needed(self, length: int) -> int:
        """The fewest bigrams a key of this length shares with any key it is similar enough to.

        With Indel distance d, the characters in common (LCS) fall in at most d + 1 runs, so
        at least LCS - d - 1 bigrams are shared (q-gram lemma); the least of that over the
        lengths the other key can have.
        """
        need = self._needed.get(length)
        if need is None:
            t, need = self.threshold / 100, length
            for other in range(math.ceil(length * self.low), math.floor(length * self.high) + 1):
                distance = math.floor((1 - t) * (length + other) + 1e-9)
                common = math.ceil((length + other - distance) / 2)
                need = min(need, common - distance - 1)
            need = self._needed[length] = max(1, need)
        return need

    def best(self, key: str, coded: str, grams: list[str]) -> int | None:
        """The most similar representative reaching the threshold (ties: the bigger cluster)."""
        length = len(coded)
        bands = [
            band
            for number in range(
                _band(math.floor(length * self.low)), _band(math.ceil(length * self.high)) + 1
            )
            if (band := self.postings.get(number))
        ]
        by_gram = []
        for gram in grams:
            if found := [f for band in bands if (f := band.get(gram))]:
                by_gram.append((sum(map(len, found)), found))
        by_gram.sort(key=itemgetter(0))  # the rarest bigrams first: they tell questions apart
        # Prefix filter: a similar key shares `need` bigrams, so one not among the commonest
        # need - 1: their (long) lists can be left unread.
        del by_gram[max(0, len(by_gram) - self.shared_needed(length) + 1) :]
        chosen: list[array[int]] = []
        budget = POSTINGS_BUDGET
        for _, found in by_gram:
            for postings in found:
                chosen.append(postings if len(postings) <= budget else postings[:budget])
                budget -= len(postings)
                if budget <= 0:
                    break
            if budget <= 0:
                break
        if not chosen:
            return None
        shared = Counter(chain.from_iterable(chosen))
        candidates = (
            shared.most_common(MAX_CANDIDATES) if len(shared) > MAX_CANDIDATES else shared.items()
        )
        best: tuple[float, int] | None = None  # (score, -cluster)
        for cluster, _ in candidates:
            other = self.coded[cluster]
            if not self.low * length <= len(other) <= self.high * length:
                continue
            score = fuzz.ratio(coded, other, score_cutoff=self.threshold)
            if not score:
                continue
            score -= penalty(key, self.keys[cluster], coded, other)
            if score >= self.threshold and (best is None or (score, -cluster) > best):
                best = (score, -cluster)
        return None if best is None else -best[1]


def merge(keys: list[str], threshold: float) -> array[int]:
    """The cluster of each key (keys most frequent first); a cluster's first key leads it."""
    index = _Index(threshold)
    coder = Coder()
    assigned = array("i")  # an array, not lists of members: nothing for the garbage collector
    for key in keys:
        coded = coder.code(key)
        grams = list(dict.fromkeys([coded[i : i + 2] for i in range(len(coded) - 1)] or [coded]))
        found = index.best(key, coded, grams)
        if found is None:
            found = len(index.keys)
            index.add(key, coded, grams)
        assigned.append(found)
    return assigned
