"""What residents asked that found no answer, in clusters of the same question typed differently.

The staff console lists fallback questions (and questions whose answer got 没帮助) over a period
as clusters, each with a count, examples and first and last seen. ``cluster_questions`` is pure
and CPU-bound; the web layer runs it with ``asyncio.to_thread``. It is plain Python, so it lets
the event loop have the GIL at each switch interval (5 ms); it keeps few long-lived objects
(parallel lists, arrays), so it seldom sets off a full garbage collection, which holds the GIL
for tens of milliseconds in a large process.

How questions are grouped:

1. Each text gets a key, ``question_key``: ``normalize`` (NFKC, traditional to simplified,
   punctuation, fillers and particles out, numerals to digits; the first 100 characters, which
   is all the matcher looks at) with the spaces beside Chinese characters taken out. Texts with
   an empty key (blank, punctuation, emoji) are skipped. Equal keys are one group.
2. Groups are taken most frequent first. Each joins the existing cluster whose representative
   (the cluster's first, most frequent key) it is most similar to, if that similarity reaches
   the threshold; otherwise it starts a cluster. Representatives never change, so clusters do
   not drift by chaining.
3. ``similarity`` (0-100): ``fuzz.ratio`` (Indel, 2·LCS / total length) of the two keys with
   each Chinese character replaced by its fuzzy toneless reading (``knowledge.pinyin``: z/zh,
   n/l, -in/-ing merged), so homophone typos (底保, 结昏) cost nothing; minus
   ``SUBSTITUTION_PENALTY`` for each character put in place of another that sounds different
   (结婚/离婚, 80岁/90岁): an inserted or dropped word is a small change to the same question,
   a replaced word is often a different question.
4. Candidates come from an inverted index of the representatives' bigrams (of the reading-coded
   key), split by length band so that only lengths that can reach the threshold are looked up.
   A key similar enough shares at least a known number of bigrams (q-gram lemma), so the
   commonest of its bigrams (怎么, 哪里) need not be read (prefix filter); of the rest, the
   rarest are read first, at most ``POSTINGS_BUDGET`` postings, and only the
   ``MAX_CANDIDATES`` sharing most bigrams are scored. The work per distinct key is bounded,
   never quadratic; on the benchmark's logs 99.6-99.95 % of questions get the same cluster as
   scoring every representative would give.

The default threshold, 78 with a penalty of 12 (``knowledge.unanswered_index``), was chosen on
the 1,019 shipped questions (entries and out-of-scope topics) and 3,400 perturbed copies of
them (fillers, punctuation, homophones, inserted and dropped characters, traditional
characters, spaces): it keeps 99.7 % of copies with one change, 97 % with two and 94 % with
three beside their question, merges none of the 518,671 pairs of shipped questions from
different topics (75 merges 2, 70 merges 4), and keeps apart 结婚/离婚登记在哪里, 护照/老年卡
怎么办 and 低保怎么申请/低保在哪申请. Ten pairs from the same topic merge, such as 护照怎么办 /
护照丢了怎么办 and 助餐补贴 / 助餐补贴标准: an added content word in a short question looks
like any small insertion. ``benchmarks/clusters.py --sweep`` prints the table.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from knowledge.normalize import normalize
from knowledge.unanswered_index import SIMILARITY, SUBSTITUTION_PENALTY, merge, similarity

__all__ = [
    "MAX_EXAMPLES",
    "SIMILARITY",
    "SUBSTITUTION_PENALTY",
    "Asked",
    "Cluster",
    "cluster_questions",
    "display_text",
    "question_key",
    "similarity",
]

MAX_EXAMPLES = 5
_EPOCH = datetime.min.replace(tzinfo=UTC)

_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f]) +| +(?=[^\x00-\x7f])")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Asked:
    text: str  # the question as logged (already masked, at most 500 chars)
    asked_at: datetime  # tz-aware; a naive datetime raises ValueError
    unhelpful: bool = False  # True when it comes from 没帮助 feedback on an answer

    def __post_init__(self) -> None:
        if self.asked_at.utcoffset() is None:
            raise ValueError("asked_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Cluster:
    key: str  # stable identifier: the key (question_key) of the representative question
    label: str  # the representative question, as a resident typed it (its most common form)
    count: int  # how many questions (not distinct texts)
    unhelpful: int  # how many of them came from 没帮助
    # Up to MAX_EXAMPLES distinct texts (as display_text shows them), the label first: the most
    # common form of each member, most frequent member first, then other forms by frequency.
    examples: tuple[str, ...]
    # Every distinct normalize(text) in the cluster, most frequent first: what dismissing stores,
    # to be compared with normalize(text) of later questions (question_key(text) of a member is
    # one of the keys merged into the cluster).
    members: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime


# How a question may end without changing what is asked. The matcher's normaliser drops
# 怎么办啊 as a filler but keeps 怎么办, so the particles are taken off the text first, and the
# colloquial ways of saying 怎么办 become it.
_END_PARTICLES = re.compile(r"(?:[\s\W_]|[啊呀吧呢嘛哦吗])+$")
_HOW_TO = re.compile(r"(?:咋办|咋弄|怎么弄|怎么整|咋整)$")


def question_key(text: str) -> str:
    """What questions are grouped by: normalised, without spaces beside Chinese characters,
    and with the same ending for the same question (我家的猫丢了咋办啊 = 我家的猫丢了怎么办)."""
    trimmed = _HOW_TO.sub("怎么办", _END_PARTICLES.sub("", text))
    key = normalize(trimmed or text)
    if " " in key:
        joined = _CJK_SPACE.sub("", key)
        if joined != key:  # "我 想 问 一 下": fillers typed apart are fillers once joined
            key = normalize(joined)
    return key


def display_text(text: str) -> str:
    """A logged text fit to show: controls and lone surrogates out, spaces collapsed."""
    kept = "".join(
        " " if unicodedata.category(c) in {"Cc", "Zl", "Zp"} else c
        for c in text
        if unicodedata.category(c) != "Cs" and c != "\x00"
    )
    return _SPACES.sub(" ", kept).strip()


class _Groups:
    """The questions by key, in parallel lists (few objects: cheap for the garbage collector)."""

    def __init__(self, items: Sequence[Asked]) -> None:
        self.key_of: dict[str, str] = {}  # text -> key: most logged questions are repeats
        self.forms: Counter[str] = Counter()  # text -> how often
        self.position: dict[str, int] = {}
        self.keys: list[str] = []
        self.count: list[int] = []
        self.unhelpful: list[int] = []
        self.first: list[datetime] = []
        self.last: list[datetime] = []
        for item in items:
            text, at = item.text, item.asked_at
            key = self.key_of.get(text)
            if key is None:
                key = self.key_of[text] = question_key(text)
            if not key:
                continue
            self.forms[text] += 1
            i = self.position.get(key)
            if i is None:
                i = self.position[key] = len(self.keys)
                self.keys.append(key)
                self.count.append(0)
                self.unhelpful.append(0)
                self.first.append(at)
                self.last.append(at)
            self.count[i] += 1
            if item.unhelpful:
                self.unhelpful[i] += 1
            if at < self.first[i]:
                self.first[i] = at
            elif at > self.last[i]:
                self.last[i] = at

    def texts(self, wanted: set[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for text, key in self.key_of.items():
            if key in wanted:
                found.setdefault(key, []).append(text)
        return found


def _rank(forms: dict[str, int]) -> list[tuple[str, int]]:
    """Forms as shown, most common first; ties: the shortest (least filler), then by text."""
    return sorted(forms.items(), key=lambda form: (-form[1], len(form[0]), form[0]))


def _members(member_texts: list[list[str]], counts: Counter[str]) -> tuple[str, ...]:
    normalised: Counter[str] = Counter()
    for texts in member_texts:
        for text in texts:
            normalised[normalize(text)] += counts[text]
    return tuple(text for text, _ in _rank(normalised))


def _examples(member_texts: list[list[str]], counts: Counter[str]) -> tuple[str, ...]:
    ranked = []
    for texts in member_texts:
        shown: Counter[str] = Counter()
        for text in texts:
            if cleaned := display_text(text):
                shown[cleaned] += counts[text]
        ranked.append(_rank(shown))
    # The most common form of each member first (variety, not punctuation), then the rest.
    chosen = dict.fromkeys(forms[0][0] for forms in ranked if forms)
    for text, _ in _rank(dict(f for forms in ranked for f in forms[1:])):
        if len(chosen) >= MAX_EXAMPLES:
            break
        chosen.setdefault(text, None)
    return tuple(chosen)[:MAX_EXAMPLES]


def cluster_questions(
    items: Sequence[Asked], *, similarity: float = SIMILARITY, limit: int = 200
) -> list[Cluster]:
    """Clusters, largest first (ties: most recent first), at most `limit`.

    ``similarity`` is the threshold on the 0-100 scale of the module function ``similarity``;
    100 merges only keys that are equal or differ by homophones.
    """
    if not 0 < similarity <= 100:
        raise ValueError("similarity must be in (0, 100]")
    groups = _Groups(items)
    keys, count, last = groups.keys, groups.count, groups.last
    # Sorted by plain keys, not tuples (fewer objects): most frequent first, ties by key.
    order = sorted(range(len(keys)), key=keys.__getitem__)
    order.sort(key=count.__getitem__, reverse=True)
    assigned = merge([keys[i] for i in order], similarity)
    size = [0] * (max(assigned) + 1 if assigned else 0)
    leader = [-1] * len(size)
    latest = [_EPOCH] * len(size)
    for position, cluster in enumerate(assigned):
        i = order[position]
        size[cluster] += count[i]
        if leader[cluster] < 0:
            leader[cluster] = i
        latest[cluster] = max(latest[cluster], last[i])
    ranked = sorted(range(len(size)), key=lambda c: keys[leader[c]])
    ranked.sort(key=latest.__getitem__, reverse=True)
    ranked.sort(key=size.__getitem__, reverse=True)
    members: dict[int, list[int]] = {c: [] for c in ranked[: max(0, limit)]}
    for position, cluster in enumerate(assigned):
        if cluster in members:
            members[cluster].append(order[position])
    texts = groups.texts({keys[i] for cluster in members.values() for i in cluster})
    result = []
    for c, ids in members.items():
        key = keys[ids[0]]
        member_texts = [texts[keys[i]] for i in ids]
        examples = _examples(member_texts, groups.forms) or (key,)
        result.append(
            Cluster(
                key=key,
                label=examples[0],
                count=size[c],
                unhelpful=sum(groups.unhelpful[i] for i in ids),
                examples=examples,
                members=_members(member_texts, groups.forms),
                first_seen=min(groups.first[i] for i in ids),
                last_seen=latest[c],
            )
        )
    return result
