"""Synonyms: the words residents use rewritten to the words of the content, whole words only.

A variant is rewritten only where it is a whole word of the text: where jieba's segmentation of
the text starts a word at its first character and ends one at its last. The tokenizer knows
every variant and canonical word (and the index's titles and keywords), so they segment whole,
and a variant inside a longer word is left alone: 领证 not in 补领证明 (补领 | 证明), 办结婚证
not in 补办结婚证, 领养 not in 领养老金 (领 | 养老金). Latin variants match whole Latin words
("rent" not inside "parent").

``Synonyms.rewrite`` says which variants were rewritten where, for a staff pane's "which words
matched"; ``fired`` does the same for a question as residents type it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from knowledge.normalize import normalize
from knowledge.tokenizer import add_words, domain_tokenizer


@dataclass(frozen=True)
class Rewrite:
    variant: str
    canonical: str
    start: int  # where the variant stands in the normalised text
    end: int


@dataclass(frozen=True)
class Rewritten:
    text: str
    rewrites: tuple[Rewrite, ...]


class Synonyms:
    """Rewrites every variant to its canonical word, longest first, in one left-to-right pass.

    A dictionary from first character to candidate words replaces one big regular expression:
    with hundreds of alternatives the regex tried them all at every position."""

    def __init__(self, mapping: Mapping[str, str], tokenizer: Any | None = None) -> None:
        """``tokenizer``: the index's own (``domain_tokenizer``), which learns the variants and
        canonical words here; without one, a tokenizer of their own."""
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
        if tokenizer is None:
            tokenizer = domain_tokenizer()
        add_words(tokenizer, sorted(self.dictionary_words()))
        self.tokenizer = tokenizer

    def rewrite(self, text: str) -> Rewritten:
        """The normalised ``text`` with each whole-word variant replaced, and what was replaced."""
        return self.rewrite_segmented(text)[0]

    def rewrite_segmented(self, text: str) -> tuple[Rewritten, list[str] | None]:
        """``rewrite``, and the segmentation of ``text`` if it was needed (for the analyzer to
        reuse when nothing changed)."""
        by_first, mapping = self._by_first, self.mapping
        tokens: list[str] | None = None  # segmented only once a candidate is found
        edges: frozenset[int] = frozenset()
        out: list[str] = []
        rewrites: list[Rewrite] = []
        i, n = 0, len(text)
        while i < n:
            for word in by_first.get(text[i], ()):
                end = i + len(word)
                if not text.startswith(word, i):
                    continue
                if word.isascii():
                    whole = (i == 0 or not text[i - 1].isalpha()) and (
                        end == n or not text[end].isalpha()
                    )
                else:
                    if tokens is None:
                        tokens = self.tokenizer.lcut(text, HMM=True)
                        edges = frozenset(accumulate(map(len, tokens), initial=0))
                    whole = i in edges and end in edges
                if whole:
                    canonical = mapping.get(word)
                    if canonical is None:
                        out.append(word)
                    else:
                        out.append(canonical)
                        rewrites.append(Rewrite(word, canonical, i, end))
                    i = end
                    break
            else:
                out.append(text[i])
                i += 1
        return Rewritten("".join(out), tuple(rewrites)), tokens

    def apply(self, text: str) -> str:
        return self.rewrite(text).text

    def words(self) -> set[str]:
        """The canonical words (not Latin): the content's own words."""
        return {w for w in self.mapping.values() if not w.isascii()}

    def dictionary_words(self) -> set[str]:
        """Variants and canonical words (not Latin): what the tokenizer must keep whole."""
        return {w for pair in self.mapping.items() for w in pair if not w.isascii()}


def fired(synonyms: Synonyms, question: str) -> list[tuple[str, str]]:
    """The (variant, canonical) pairs rewritten in a question as residents type it, in order:
    what the matcher compares after normalising (``KnowledgeIndex.analyzer.synonyms``)."""
    return [(r.variant, r.canonical) for r in synonyms.rewrite(normalize(question)).rewrites]
