"""The index's arithmetic: BM25 postings, how much of a term's IDF counts, and how the winner's
lead over its rivals is read (related entries are one topic, not rivals)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from knowledge.analyzer import FRAMING
from knowledge.calibration import LEAD_CAP
from knowledge.documents import Doc
from knowledge.terms import Kind, Term
from knowledge.tokenizer import general_surprisal

K1 = 1.2
B = 0.75
# Character pairs and sounds only echo the words they come from: they weigh less.
KIND_WEIGHT = {Kind.WORD: 1.0, Kind.LATIN: 1.0, Kind.BIGRAM: 0.7, Kind.SOUND: 0.6}
# A word's weight is its IDF in the index, but no more than its rarity in everyday Chinese allows:
# the index has a few hundred short documents, so a word of one sample question (满足, 名字, 早上)
# would otherwise outweigh 低保. Nats of jieba's dictionary above RARITY_OFFSET, times the slope.
RARITY_OFFSET = 6.5
RARITY_SLOPE = 0.8
RARITY_FLOOR = 0.3
FRAMING_WEIGHT = 0.3


def damping_of(idf: dict[Term, float]) -> dict[Term, float]:
    """For words and character pairs whose IDF their everyday rarity does not bear out (and
    framing words), the share of the IDF that counts."""
    damping = {}
    for term, value in idf.items():
        if term.kind is Kind.SOUND or term.kind is Kind.LATIN or value <= 0:
            continue
        if term.text in FRAMING:
            cap = FRAMING_WEIGHT
        elif term.kind is Kind.WORD or len(term.text) == 2:
            # Words jieba's everyday dictionary lacks are the domain's own (低保): no cap.
            cap = max((general_surprisal(term.text) - RARITY_OFFSET) * RARITY_SLOPE, RARITY_FLOOR)
        else:
            continue
        if cap < value:
            damping[term] = cap / value
    return damping


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


def bm25_postings(bags: Sequence[Counter[Term]]) -> tuple[Postings, dict[Term, float]]:
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
