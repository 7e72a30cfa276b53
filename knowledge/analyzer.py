"""From text to index terms: normalise, apply synonyms, segment with jieba, add character
bigrams and pinyin bigrams, and keep Latin words (English keywords, typed pinyin).

Term prefixes keep the kinds apart in one inverted index: ``w:`` jieba word, ``b:`` character
bigram, ``p:`` pinyin syllable pair, ``e:`` Latin word.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import pairwise, product
from pathlib import Path
from typing import Any

from knowledge.normalize import normalize
from knowledge.pinyin import exact_reading, readings, split_latin, split_latin_exact

log = logging.getLogger(__name__)

# Words that say nothing about which service is meant.
STOPWORDS = frozenset(
    (
        "的 了 吗 么 是 在 有 我 你 他 她 它 们 我们 你们 他们 这 那 这个 那个 哪 哪个 "
        "哪里 哪儿 什么 怎么 怎样 怎么样 如何 为什么 能 能不能 可以 可不可以 可否 要 需要 "
        "想 会 吧 呢 啊 呀 就 都 也 还 和 与 或 及 跟 给 让 把 被 对 从 到 去 来 上 下 "
        "个 一 一下 一个 些 一些 多少 几 嘛 呗 请 您 啥 咋 咋办 怎么办 办法 问题 事情 "
        "情况 现在 今天 已经 还是 或者 如果 的话 因为 所以 但是 不 没 没有 不是 得 地 "
        "着 过 很 太 最 比较 自己 人家 家里 一般 具体 关于 方面 相关 有关 a an the of "
        "to for and or is are be in on at how what where when which can i my me do does "
        "伐 侬 阿拉 屋里厢 晓得 啥个 哪能 辰光 一直 好多 有点 一点 时候 听说 请教 知道 觉得 "
        "应该 是不是 有没有 行不行 好不好 可能 那种 这种 这样 那样 怎么弄 怎么搞 找谁 找哪个"
    ).split()
)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[a-z]+")
_LATIN_RUN = re.compile(r"[a-z]+(?: [a-z]+)*")
_DIGIT_WORD = re.compile(r"\d+[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Analyzed:
    text: str
    # Word, bigram and Latin terms.
    terms: tuple[str, ...]
    # Pinyin pairs by position: each group holds the alternatives of heteronyms.
    pinyin_groups: tuple[tuple[str, ...], ...]
    pinyin: str  # the text's syllables joined, for fuzzy comparison of sounds

    def all_terms(self) -> list[str]:
        return [*self.terms, *(t for group in self.pinyin_groups for t in group)]


class Synonyms:
    """Rewrites every variant to its canonical word, longest first, in one left-to-right pass.

    A dictionary from first character to candidate words replaces one big regular expression:
    with hundreds of alternatives the regex tried them all at every position."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        cleaned: dict[str, str] = {}
        for variant, canonical in mapping.items():
            key, value = normalize(variant), normalize(canonical)
            if key and value and key != value:
                cleaned[key] = value
        self.mapping = cleaned
        by_first: dict[str, list[str]] = defaultdict(list)
        # Canonical words match themselves, so 居委会 is not cut into 居委 + 会.
        for word in {*cleaned, *cleaned.values()}:
            by_first[word[0]].append(word)
        self._by_first = {c: sorted(ws, key=len, reverse=True) for c, ws in by_first.items()}

    def apply(self, text: str) -> str:
        by_first, mapping = self._by_first, self.mapping
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            for word in by_first.get(text[i], ()):
                end = i + len(word)
                if text.startswith(word, i) and (
                    not word.isascii()
                    # English words match whole words only ("rent" not inside "parent").
                    or (
                        (i == 0 or not text[i - 1].isalpha())
                        and (end == n or not text[end].isalpha())
                    )
                ):
                    out.append(mapping.get(word, word))
                    i = end
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def words(self) -> set[str]:
        return {w for w in self.mapping.values() if not w.isascii()}


_JIEBA_LOCK = threading.Lock()


# Words jieba's dictionary has seen at least this often: 105,000 of its 349,000, the rest being
# rare names and terms. The full dictionary costs ~80 MB in memory, this one ~11 MB; the
# domain's own words are added on top, and character bigrams catch what segmentation misses.
JIEBA_MIN_FREQUENCY = 10


def _trimmed_dictionary() -> Path | None:
    import jieba

    source = Path(jieba.__file__).with_name("dict.txt")
    try:
        data = source.read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:12]
        target = Path(tempfile.gettempdir()) / f"minzheng-jieba-{digest}-{JIEBA_MIN_FREQUENCY}.txt"
        if not target.exists():
            kept = [
                line
                for line in data.decode("utf-8").splitlines()
                if len(parts := line.split()) >= 2 and int(parts[1]) >= JIEBA_MIN_FREQUENCY
            ]
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text("\n".join(kept) + "\n", encoding="utf-8")
            os.replace(partial, target)
        return target
    except (OSError, ValueError):
        log.warning("could not write a trimmed jieba dictionary; using the full one")
        return None


@cache
def _jieba() -> Any:
    """One shared jieba tokenizer, loaded once (off the event loop) on a trimmed dictionary."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    dictionary = _trimmed_dictionary()
    tokenizer = jieba.Tokenizer(str(dictionary)) if dictionary else jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def general_surprisal(word: str) -> float:
    """How rare a word is in everyday Chinese (jieba's dictionary), in nats."""
    tokenizer = _jieba()
    return float(math.log(tokenizer.total / (tokenizer.FREQ.get(word, 0) + 1)))


def add_domain_words(words: Iterable[str]) -> None:
    """Teach jieba the domain's words (titles, keywords, synonyms) so they stay whole."""
    tokenizer = _jieba()
    with _JIEBA_LOCK:
        for word in words:
            word = normalize(word)
            if 2 <= len(word) <= 12 and _CJK.fullmatch(word) and word not in tokenizer.FREQ:
                tokenizer.add_word(word, freq=2000)


def _pinyin_pairs(sequence: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [
        tuple(f"p:{a}_{b}" for a, b in product(left, right)) for left, right in pairwise(sequence)
    ]


def sound_key(word: str) -> str | None:
    """Exact toneless pinyin of a word (a pinyin keyboard's homophones share it)."""
    sounds = [exact_reading(c) for c in word]
    return " ".join(sounds) if all(sounds) else None  # type: ignore[arg-type]


def segment(text: str) -> list[str]:
    return [w for w in _jieba().lcut(text, HMM=True) if w.strip()]


class Analyzer:
    def __init__(self, synonyms: Synonyms) -> None:
        self.synonyms = synonyms
        # Filled in by the index once it knows its vocabulary: sound key -> domain word.
        self.by_sound: dict[str, str] = {}
        self.known: frozenset[str] = frozenset()

    def learn_vocabulary(self, words: dict[str, int], known: set[str]) -> None:
        """Domain words (with how many documents use them) to correct towards, and every
        word and bigram the index knows (never corrected away)."""
        by_sound: dict[str, tuple[int, str]] = {}
        for word, count in words.items():
            if 2 <= len(word) <= 6 and _CJK.fullmatch(word):
                key = sound_key(word)
                if key and (key not in by_sound or by_sound[key][0] < count):
                    by_sound[key] = (count, word)
        self.by_sound = {key: word for key, (_, word) in by_sound.items()}
        # Residents' own words (养老院) spelled in pinyin lead to the canonical word too.
        for variant, canonical in self.synonyms.mapping.items():
            key = sound_key(variant)
            if key and 2 <= len(variant) <= 6:
                self.by_sound.setdefault(key, canonical)
        self.known = frozenset(known)

    def correct(self, text: str) -> str:
        """Replace an unknown word that sounds like a domain word with that word (底保 → 低保).

        Only spans the index has never seen are touched, longest first, so real words stay.
        """
        if not self.by_sound:
            return text

        def fix(run: str) -> str:
            # Each character's reading once; a window's sound key is its readings joined.
            sounds = [exact_reading(c) for c in run]
            out, i = [], 0
            while i < len(run):
                for size in (4, 3, 2):
                    piece = run[i : i + size]
                    if len(piece) < size or piece in self.known:
                        continue
                    window = sounds[i : i + size]
                    if None in window:
                        continue
                    word = self.by_sound.get(" ".join(window))  # type: ignore[arg-type]
                    if word is not None and word != piece:
                        out.append(word)
                        i += size
                        break
                else:
                    out.append(run[i])
                    i += 1
            return "".join(out)

        def from_pinyin(match: re.Match[str]) -> str:
            """Typed pinyin (``zhucan``, ``dibao shenqing``, ``cishan chaoshi``) becomes the
            domain words it spells; spaces between syllables do not matter."""
            words = match.group(0).split()
            split = [split_latin_exact(w) for w in words]
            if not all(split):
                return match.group(0)
            syllables = [s for part in split for s in part or ()]
            if len(syllables) < 2:
                return match.group(0)
            out, i, changed = [], 0, False
            while i < len(syllables):
                for size in (6, 5, 4, 3, 2):
                    word = self.by_sound.get(" ".join(syllables[i : i + size]))
                    if i + size <= len(syllables) and word is not None:
                        out.append(word)
                        i += size
                        changed = True
                        break
                else:
                    out.append(syllables[i])
                    i += 1
            return " ".join(out) if changed else match.group(0)

        text = _LATIN_RUN.sub(from_pinyin, text)
        return _CJK.sub(lambda m: fix(m.group(0)), text)

    def analyze(self, raw: str) -> Analyzed:
        text = self.correct(self.synonyms.apply(normalize(raw)))
        terms: list[str] = []
        groups: list[tuple[str, ...]] = []
        syllables: list[str] = []
        piece: list[str] = []

        def close_piece() -> None:
            # Bigrams and sound pairs within a run of words that are not stopwords: those of
            # stopwords would match everything.
            if not piece:
                return
            joined = "".join(piece)
            piece.clear()
            if len(joined) == 1:
                terms.append(f"b:{joined}")
            else:
                terms.extend(f"b:{joined[i : i + 2]}" for i in range(len(joined) - 1))
            sounds = [s for c in joined if (s := readings(c))]
            groups.extend(_pinyin_pairs(sounds))

        # One jieba call for the whole text: it keeps Latin words and digits whole.
        for token in _jieba().lcut(text, HMM=True):
            if _CJK.fullmatch(token):
                syllables.extend(s[0] for c in token if (s := readings(c)))
                if token in STOPWORDS:
                    close_piece()
                else:
                    terms.append(f"w:{token}")
                    piece.append(token)
                continue
            close_piece()
            for word in _LATIN.findall(token):
                if word in STOPWORDS:
                    continue
                split = split_latin(word)
                if split:
                    groups.extend(_pinyin_pairs([(s,) for s in split]))
                    if len(split) == 1:
                        groups.append((f"p:{split[0]}",))
                    syllables.extend(split)
                stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
                terms.append(f"e:{stem}")
        close_piece()
        terms.extend(f"w:{d}" for d in _DIGIT_WORD.findall(text))
        return Analyzed(
            text=text, terms=tuple(terms), pinyin_groups=tuple(groups), pinyin=" ".join(syllables)
        )
