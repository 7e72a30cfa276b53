"""Text normalisation shared by the index and the question: the same function on both sides.

Steps: drop what is not text (controls, lone surrogates, zero-width marks), cut very long input,
NFKC (full width to half width), lower case, traditional to simplified (OpenCC), punctuation and
emoji to spaces, filler words out, Chinese numerals before a unit to digits (八十岁 → 80岁).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

# The longest rambling question residents type is well under this; a pasted page is cut to
# its beginning, not refused, and costs no more to answer than a long question.
MAX_INPUT_CHARS = 100

# Polite openings and closings that carry no meaning for matching. Longest first.
FILLERS = sorted(
    {
        "请问一下",
        "请问",
        "我想问一下",
        "我想问问",
        "我想问下",
        "想问一下",
        "想问问",
        "想问下",
        "问一下",
        "问问",
        "打听一下",
        "咨询一下",
        "我想咨询",
        "我要咨询",
        "想咨询",
        "你好",
        "您好",
        "你们好",
        "老师好",
        "同志",
        "麻烦你",
        "麻烦您",
        "麻烦",
        "谢谢你",
        "谢谢您",
        "谢谢",
        "请帮我",
        "帮我查一下",
        "帮我看看",
        "帮帮忙",
        "我想知道",
        "想知道",
        "能不能告诉我",
        "告诉我",
        "怎么办啊",
        "怎么办呀",
        "哈哈",
        "嗯嗯",
    },
    key=len,
    reverse=True,
)
# Sentence-final particles: meaningless for matching wherever they stand.
PARTICLES = "啊呀呢吧哦嘛啦哇呗噢哟"

_FILLER_RE = re.compile("|".join(map(re.escape, FILLERS)))
_PARTICLE_RE = re.compile(f"[{PARTICLES}]+")
_SPACES = re.compile(r"\s+")
_DIGITS = "零一二三四五六七八九"
_CN_NUMBER = re.compile(
    r"[零一二两三四五六七八九十百千]+(?=(?:周岁|岁|天|个月|月|年|元|级|日|号|个工作日|小时|次))"
)


@cache
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_converter().convert(text))


class _Cleaner(dict[int, str]):
    """A ``str.translate`` table that fills itself: each character's fate is decided once."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        category = unicodedata.category(char)
        if category in {"Cs", "Co", "Cn", "Cf"}:
            value = ""  # surrogates, private use, unassigned, zero-width marks
        elif category[0] in {"C", "Z", "P", "S"}:
            value = " "  # controls, separators, punctuation, symbols and emoji
        else:
            value = char
        if len(self) < 200_000:
            self[code] = value
        return value


_CLEANER = _Cleaner()


def chinese_number(text: str) -> int | None:
    """The value of a simple Chinese numeral (八十 → 80, 一百二十 → 120, 三 → 3)."""
    units = {"十": 10, "百": 100, "千": 1000}
    total, current = 0, 0
    for char in text:
        if char in units:
            total += (current or 1) * units[char]
            current = 0
        elif char == "两":
            current = 2
        elif char in _DIGITS:
            current = _DIGITS.index(char)
        else:
            return None
    return total + current


def _numerals_to_digits(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = chinese_number(match.group(0))
        return str(value) if value is not None else match.group(0)

    return _CN_NUMBER.sub(replace, text)


def clean(text: str) -> str:
    """Valid, simplified, lower-case text with punctuation as spaces; fillers kept."""
    if not isinstance(text, str):
        text = str(text)
    text = text[: MAX_INPUT_CHARS * 4]
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_CLEANER)
    text = to_simplified(text.lower())
    text = _SPACES.sub(" ", text).strip()
    return text[:MAX_INPUT_CHARS]


def normalize(text: str) -> str:
    """What the matcher compares: ``clean`` text without fillers, numerals as digits."""
    text = clean(text)
    text = _FILLER_RE.sub(" ", text)
    text = _PARTICLE_RE.sub(" ", text)
    text = _numerals_to_digits(text)
    return _SPACES.sub(" ", text).strip()
