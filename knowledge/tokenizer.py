"""jieba tokenizers: one base dictionary loaded once and never changed, and a copy of it for
each index with that index's own words (titles, keywords, synonyms) added.

Each index owns its tokenizer, so a rebuild starts from the base dictionary again: the words of
content since removed do not linger, and two indexes (the old one still answering while the new
one is built) never see each other's words.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from knowledge.normalize import normalize

log = logging.getLogger(__name__)

# Words jieba's dictionary has seen at least this often: 105,000 of its 349,000, the rest being
# rare names and terms. The full dictionary costs ~80 MB in memory, this one ~11 MB; the
# domain's own words are added on top, and character bigrams catch what segmentation misses.
JIEBA_MIN_FREQUENCY = 10
# What a domain word counts as: often enough that jieba keeps it whole.
DOMAIN_WORD_FREQUENCY = 2000

_CJK_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,12}")


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
def base_tokenizer() -> Any:
    """The everyday-Chinese tokenizer, loaded once (off the event loop) on a trimmed dictionary.

    Read only: words are added to copies (``domain_tokenizer``), never to it."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    dictionary = _trimmed_dictionary()
    tokenizer = jieba.Tokenizer(str(dictionary)) if dictionary else jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def domain_tokenizer(words: Iterable[str] = ()) -> Any:
    """A tokenizer of its own: the base dictionary (copied, not reloaded) and ``words``."""
    import jieba

    base = base_tokenizer()
    tokenizer = jieba.Tokenizer(base.dictionary)
    tokenizer.FREQ = dict(base.FREQ)
    tokenizer.total = base.total
    tokenizer.initialized = True
    add_words(tokenizer, words)
    return tokenizer


def add_words(tokenizer: Any, words: Iterable[str]) -> None:
    """Teach a tokenizer of ``domain_tokenizer`` words so they stay whole. Call it only while
    the tokenizer is being set up, before it is shared."""
    freq = tokenizer.FREQ
    for word in words:
        word = normalize(word)
        # A prefix of a word already added is held with frequency 0: not yet a word.
        if _CJK_WORD.fullmatch(word) and not freq.get(word):
            tokenizer.add_word(word, freq=DOMAIN_WORD_FREQUENCY)


def general_surprisal(word: str, tokenizer: Any | None = None) -> float:
    """How rare a word is in everyday Chinese (jieba's dictionary), in nats."""
    tokenizer = tokenizer or base_tokenizer()
    return float(math.log(tokenizer.total / (tokenizer.FREQ.get(word, 0) + 1)))


def everyday_rarity(word: str) -> float:
    """``general_surprisal`` in the base dictionary, but a word it lacks that jieba glued from
    common characters (能发, 几百块) is as rare as its rarest character, not as rare as a word
    never seen. A word of one character, or of none in the dictionary, keeps its surprisal."""
    base = base_tokenizer()
    if len(word) > 1 and not base.FREQ.get(word):
        known = [general_surprisal(c, base) for c in word if base.FREQ.get(c)]
        if len(known) == len(word):
            return max(known)
    return general_surprisal(word, base)
