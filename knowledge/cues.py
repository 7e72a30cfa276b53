"""Signs of a need (``CueIn``): a resident who tells a situation (记性越来越差, 把儿女名字叫错)
without naming the service (认知症) is led to the entries that answer it.

Each sign is analysed like a question. It fires, with a strength from 0 to 1, when the question
holds its words and character pairs: the share of the sign's weight found, each word weighed by
how rare it is in everyday Chinese (越来越 says little, 记性 much). The question may put other
words between the sign's words; the order does not matter, and a sign's word may be inside a
longer word of the question (房子 in 老房子). When a sign is found in the question's last clause,
what it asks, the signs found only before it count less. An entry's cue is its strongest sign,
a little less for an entry listed after the first of its group.

Signs come from the cue groups (``cues.yaml``, edited in the console) and from the content's own
fields: the clauses of each entry's eligibility (``eligibility_cues``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from knowledge.analyzer import Analyzed, Analyzer
from knowledge.intents import is_form
from knowledge.schema import CueIn
from knowledge.store import PublishedEntry
from knowledge.terms import Kind, Term, word
from knowledge.tokenizer import everyday_rarity

# A sign whose words are mostly missing does not fire at all, nor one where only everyday words
# matched (人, 吃, 饭): one word found must be at least SPECIFIC nats rarer than the commonest
# (摔, 偷, 做饭, 钥匙). A sign with no such word never fires; ``vague`` lists them for lint.
MIN_STRENGTH = 0.5
SPECIFIC = 3.5
# The entries after the first in a group answer the need too, but less surely.
LATER_ENTRY = 0.85
# Character pairs make a sign forgiving (记性不好 for 记性差); they count less than words.
BIGRAM_SHARE = 0.4
# A word of the sign said another way (没人说话: 说话的人都没有) counts for this share of its
# weight times the share of its characters the question holds: only beside a specific word
# found, as every sign.
CHAR_SHARE = 0.6
# A word of the sign inside a longer word of the question (房子 in 老房子, 塌 in 冲塌) counts
# for this share of its weight, and anchors the sign as the word itself would.
WITHIN_SHARE = 0.9
# A story says its need last: when a sign is found in the last clause (腿脚不方便…, 想有人上门
# 坐坐), those found only before it count this share of their strength.
EARLIER_CLAUSE = 0.8


@dataclass(frozen=True)
class Fired:
    need: str
    sign: str
    strength: float


@dataclass(frozen=True)
class _Sign:
    need: str
    text: str
    total: float
    entries: tuple[tuple[str, float], ...]  # entry id, how surely the sign points to it
    # Its terms: each with its weight, ``CHAR_SHARE`` of it and, for a word, its characters.
    parts: tuple[tuple[Term, float, float, frozenset[str] | None], ...] = ()


class CueIndex:
    """Specific word -> the signs it anchors; each sign's terms and their weights."""

    def __init__(
        self,
        cues: Iterable[CueIn],
        analyzer: Analyzer,
        known: set[str],
        commonplace: frozenset[Term] = frozenset(),
    ) -> None:
        """``known``: the entry ids of the index; a cue's unknown entries are skipped.
        ``commonplace``: words most of the index's documents hold (老人 in an eldercare
        service): they weigh in a sign but do not lead to it, since nearly any question has
        them."""
        self.signs: list[_Sign] = []
        self.vague: list[tuple[str, str]] = []  # (need, sign) that can never fire
        anchors: dict[Term, list[int]] = defaultdict(list)
        for cue in cues:
            entries = tuple(
                (entry, 1.0 if position == 0 else LATER_ENTRY)
                for position, entry in enumerate(e for e in cue.entries if e in known)
            )
            if not entries:
                continue
            for text in dict.fromkeys(cue.signs):
                weights = _sign_weights(analyzer.analyze(text))
                total = sum(weights.values())
                specific = {
                    t
                    for t, w in weights.items()
                    if t.kind is not Kind.BIGRAM
                    and w >= SPECIFIC
                    and names_a_need(t.text)
                    and t not in commonplace
                }
                if total <= 0 or not specific:
                    self.vague.append((cue.need, text))
                    continue
                number = len(self.signs)
                parts = tuple(
                    (t, w, CHAR_SHARE * w, frozenset(t.text) if t.kind is not Kind.BIGRAM else None)
                    for t, w in weights.items()
                )
                self.signs.append(_Sign(cue.need, text, total, entries, parts))
                for term in specific:
                    anchors[term].append(number)
        # Only a sign's specific words lead to it; the rest of it is weighed once it is found.
        self.anchors = {term: tuple(signs) for term, signs in anchors.items()}

    def __len__(self) -> int:
        return len(self.signs)

    def _strengths(self, query: Analyzed) -> dict[int, float]:
        if not self.anchors:  # no sign can fire: spare every question the search
            return {}
        terms = frozenset(query.terms)
        tail = query.tail
        within, within_tail = _within(query)
        anchors = self.anchors
        anchored = {n for term in terms | within for n in anchors.get(term, ())}
        strengths = {}
        chars = frozenset(query.text)
        earlier: list[int] = []  # signs found only before the last clause
        for number in anchored:
            sign = self.signs[number]
            weight = 0.0
            last = not tail
            for term, whole, part, letters in sign.parts:
                if term in terms:
                    weight += whole
                    last = last or term in tail
                elif term in within:
                    weight += WITHIN_SHARE * whole
                    last = last or term in within_tail
                elif letters is not None:
                    # A word said another way: the share of its characters the question holds.
                    weight += part * len(letters.intersection(chars)) / len(letters)
            strength = weight / sign.total
            if strength >= MIN_STRENGTH:
                strengths[number] = min(strength, 1.0)
                if not last:
                    earlier.append(number)
        if len(earlier) < len(strengths):  # some need was told in the last clause
            for number in earlier:
                strengths[number] *= EARLIER_CLAUSE
        return strengths

    def entries(self, query: Analyzed) -> dict[str, float]:
        """Entry id -> its cue in ``query`` (only entries some sign fired for)."""
        best: dict[str, float] = {}
        for number, strength in self._strengths(query).items():
            for entry, sureness in self.signs[number].entries:
                value = strength * sureness
                if value > best.get(entry, 0.0):
                    best[entry] = value
        return best

    def fired(self, query: Analyzed) -> list[Fired]:
        """The signs that fired, strongest first: for staff's 为什么 pane and the preview."""
        fired = [
            Fired(self.signs[n].need, self.signs[n].text, round(s, 3))
            for n, s in self._strengths(query).items()
        ]
        return sorted(fired, key=lambda f: -f.strength)


def _within(query: Analyzed) -> tuple[set[Term], set[Term]]:
    """The shorter words inside the question's words (房子 and 房 in 老房子), and those inside
    the words of its last clause: what a sign's word may be found as."""
    found: set[Term] = set()
    last: set[Term] = set()
    tail = query.tail
    for term in set(query.terms):
        text = term.text
        size = len(text)
        if term.kind is not Kind.WORD or size < 2:
            continue
        inside = [word(text[i:j]) for i in range(size) for j in range(i + 1, size + 1)]
        inside.remove(term)
        found.update(inside)
        if term in tail:
            last.update(inside)
    return found, last


def _sign_weights(analyzed: Analyzed) -> dict[Term, float]:
    """A sign's words weighed by everyday rarity; its character pairs share ``BIGRAM_SHARE``."""
    words = {t: _rarity(t.text) for t in analyzed.terms if t.kind is not Kind.BIGRAM}
    pairs = [t for t in analyzed.terms if t.kind is Kind.BIGRAM]
    weights = dict(words)
    if pairs and words:
        each = BIGRAM_SHARE * sum(words.values()) / len(pairs)
        for pair in pairs:
            weights[pair] = weights.get(pair, 0.0) + each
    return weights


def names_a_need(word: str) -> bool:
    """A word a sign may fire on: not a form of asking (多少钱, 哪里, 条件) nor a count
    (1个月, 两百块), which any question has whatever its need."""
    return not is_form(word) and not _COUNT.fullmatch(word)


_COUNT = re.compile(r"[0-9０-９一二三四五六七八九十百千万两几多]+[个块元岁天月年次号周张斤]*")


def _rarity(word: str) -> float:
    """Everyday rarity in nats above that of the commonest words, bounded: 的 ~0, 记性 ~6."""
    return min(max(everyday_rarity(word) - 6.0, 0.3), 8.0)


# A clause of an entry's eligibility (服刑在押, 无劳动能力) names a situation as a sign does; the
# rest (以审核认定为准, 具体条件…) says nothing about the resident.
_CLAUSE = re.compile(r"[，。；、：,;:（）()\s]|或者|或|及|和")
_NOT_A_SIGN = re.compile(r"为准|具体|规定|条件|审核|以下|之一|情形|本市")


def eligibility_cues(entries: Iterable[PublishedEntry]) -> Iterator[CueIn]:
    """Signs the content's own fields give: the clauses of each entry's eligibility."""
    for entry in entries:
        text = entry.details.get("eligibility", "")
        clauses = [
            c for c in _CLAUSE.split(text) if 3 <= len(c) <= 12 and not _NOT_A_SIGN.search(c)
        ]
        if clauses:
            yield CueIn(need=f"{entry.title}（适用情形）", entries=[entry.id], signs=clauses)
