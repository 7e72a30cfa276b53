"""Index terms: what a question and a document are compared by, each with its kind.

A jieba word, a character bigram, a pinyin syllable pair (or a lone syllable of typed pinyin) and
a Latin word live in one inverted index; the kind keeps them apart and decides their weight.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class Kind(IntEnum):
    # An ``IntEnum`` hashes as the int it is, in C: terms are dictionary keys on every question.
    WORD = 0  # a jieba word of Chinese
    BIGRAM = 1  # two neighbouring characters within a run of words
    SOUND = 2  # two neighbouring syllables ("di_bao"), or one syllable of typed pinyin
    LATIN = 3  # an English keyword or a typed-pinyin word, lower case, plural "s" dropped


class Term(NamedTuple):
    kind: Kind
    text: str

    def shown(self) -> str:
        """As a staff member reads it: a sound pair as its two syllables."""
        return self.text.replace("_", " ") if self.kind is Kind.SOUND else self.text


def word(text: str) -> Term:
    return Term(Kind.WORD, text)


def bigram(text: str) -> Term:
    return Term(Kind.BIGRAM, text)


def sound(first: str, second: str | None = None) -> Term:
    return Term(Kind.SOUND, first if second is None else f"{first}_{second}")


def latin(text: str) -> Term:
    return Term(Kind.LATIN, text)
