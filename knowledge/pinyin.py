"""Toneless pinyin keys, so that homophone typos (底保, 住餐点, 论椅, 结昏) and typed pinyin
(``dibao shenqing``, ``zhucan``) reach the same index terms as the characters meant.

Each character maps to all of its readings (heteronyms such as 长 zhang/chang keep both), made
"fuzzy" the way Shanghai and other southern speakers merge sounds: zh/z, ch/c, sh/s, n/l at the
start, and -ing/-in, -eng/-en at the end. Latin letters are split into pinyin syllables when the
whole word is pinyin; otherwise they are left to the English keywords.
"""

from __future__ import annotations

import os
import unicodedata
from functools import cache, lru_cache

# Character readings are all the matcher needs; pypinyin's phrase dictionary would cost ~55 MB.
os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "true")

MAX_READINGS = 3


def _toneless(reading: str) -> str:
    reading = reading.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v")
    reading = reading.replace("ǚ", "v").replace("ǜ", "v")
    decomposed = unicodedata.normalize("NFD", reading)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def fuzzy(syllable: str) -> str:
    """Merge the sounds many southern speakers do not tell apart."""
    for retroflex, flat in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if syllable.startswith(retroflex):
            syllable = flat + syllable[2:]
            break
    if syllable.startswith("l"):
        syllable = "n" + syllable[1:]
    if syllable.endswith("ing") or (syllable.endswith("eng") and syllable != "eng"):
        syllable = syllable[:-1]
    return syllable


@cache
def _table() -> dict[int, str]:
    from pypinyin.constants import PINYIN_DICT

    return PINYIN_DICT


@lru_cache(maxsize=65536)
def readings(char: str) -> tuple[str, ...]:
    """The fuzzy toneless readings of one character; empty for anything not a 汉字."""
    raw = _table().get(ord(char))
    if not raw:
        return ()
    seen: dict[str, None] = {}
    for reading in raw.split(","):
        seen.setdefault(fuzzy(_toneless(reading)), None)
    return tuple(seen)[:MAX_READINGS]


@lru_cache(maxsize=65536)
def exact_reading(char: str) -> str | None:
    """The first toneless reading, not made fuzzy (for homophone correction)."""
    raw = _table().get(ord(char))
    return _toneless(raw.split(",")[0]) if raw else None


@cache
def _syllables() -> frozenset[str]:
    plain = {_toneless(r) for value in _table().values() for r in value.split(",")}
    # Interjection-only syllables would turn English words into "pinyin".
    return frozenset(s for s in plain if s.isalpha() and s not in {"m", "n", "ng", "hm", "hng"})


@lru_cache(maxsize=4096)
def split_latin(word: str) -> tuple[str, ...] | None:
    """Split ``dibao`` into fuzzy syllables (di, bao); None when the word is not all pinyin."""
    exact = split_latin_exact(word)
    return tuple(fuzzy(s) for s in exact) if exact else None


@lru_cache(maxsize=4096)
def split_latin_exact(word: str) -> tuple[str, ...] | None:
    """Split ``dibao`` into (di, bao) as typed; None when the word is not wholly pinyin."""
    word = word.lower().replace("ü", "v")
    if not word.isascii() or not word.isalpha() or len(word) > 40:
        return None
    syllables = _syllables()
    # Fewest syllables wins (xian, not xi-an), found by dynamic programming.
    best: list[tuple[str, ...] | None] = [None] * (len(word) + 1)
    best[0] = ()
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            head = best[start]
            if head is not None and word[start:end] in syllables:
                candidate = (*head, word[start:end])
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(word)] or None
