"""Text normalisation shared by the index and the question: the same function on both sides.

Steps: drop what is not text (controls, lone surrogates, zero-width marks), bound very long
input (its beginning and its end, where a story puts its question), NFKC (full width to half
width), lower case, traditional to simplified (OpenCC), punctuation and emoji to spaces,
Shanghainese and northern colloquial words to Mandarin (侬 → 你, 屋里 → 家里, 咋 → 怎么), filler
words and dictation's stutters out (嗯, 就是说, 低保低保 → 低保), Chinese numerals before a unit to
digits (八十岁 → 80岁).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

# A story runs to about 200 characters and says what it wants at the end ("…有没有地方管？").
# Longer input (a pasted page) keeps its first ``HEAD_CHARS`` and its last characters up to this
# bound: never refused, and no dearer to answer than a long story.
MAX_INPUT_CHARS = 300
HEAD_CHARS = 100

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
        # Dictation's hesitations.
        "就是说",
        "怎么说呢",
        "嗯",
        "呃",
    },
    key=len,
    reverse=True,
)
# Sentence-final particles: meaningless for matching wherever they stand.
PARTICLES = "啊呀呢吧哦嘛啦哇呗噢哟"

# Shanghainese (Wu) and northern colloquial words, as older residents type them, to the Mandarin
# the content is written in. Applied to content and questions alike; longest first, so 屋里厢
# goes before 屋里 and 啥物事 before 啥. Only words that mean one thing where residents use them:
# 便当 is Wu for convenient only after 勿/不, 浪 (on) only after a few nouns (not 浪费). The
# content goes through the same map, so 寻亲 and 找亲 still meet.
COLLOQUIAL = {
    "阿拉": "我们",
    "侬": "你",
    "伊拉": "他们",
    "伊": "他",
    "屋里厢": "家里",
    "屋里": "家里",
    "屋头": "家里",
    "哪能办": "怎么办",
    "哪能": "怎么",
    "啥物事": "什么东西",
    "物事": "东西",
    "啥个": "什么",
    "啥辰光": "什么时候",
    "辰光": "时候",
    "晓得": "知道",
    "勿便当": "不方便",
    "不便当": "不方便",
    "吃勿消": "受不了",
    "覅": "不要",
    "勿": "不",
    "寻勿着": "找不到",
    "寻不着": "找不到",
    "寻着": "找到",
    "脚骨": "腿脚",
    "一家头": "一个人",
    "两家头": "两个人",
    "铜钿": "钱",
    "钞票": "钱",
    "日脚": "日子",
    "困觉": "睡觉",
    "小囡": "孩子",
    "囡囡": "孩子",
    "今朝": "今天",
    "明朝": "明天",
    "交关": "很",
    "搿个": "这个",
    "迭个": "这个",
    "老头子": "老伴",
    "勒": "在",
    "侪": "都",
    "搿": "这",
    "呒没": "没有",
    "呒": "没",
    "事体": "事情",
    "走脱": "走了",
    "停脱": "停了",
    "穷脱": "穷了",
    "昨日": "昨天",
    "号头": "个月",
    "睏": "睡",
    "地浪": "地上",
    "手机浪": "手机上",
    "网浪": "网上",
    "爷娘": "父母",
    # 脱 after a verb is Wu's 掉 (退脱, 掏脱); only after these verbs, never in 脱贫 or 摆脱.
    "退脱": "退掉",
    "掏脱": "掏掉",
    "掀脱": "掀掉",
    "用脱": "用掉",
    "卖脱": "卖掉",
    "丢脱": "丢掉",
    "拆脱": "拆掉",
    "冲脱": "冲掉",
    "坏脱": "坏了",
    "死脱": "死了",
    "除脱": "除了",
    "回头脱": "拒绝",
    # 拨 is Wu's 被 or 给 before a person; 拨打 (dialling) stays.
    "拨伊拉": "被他们",
    "拨伊": "被他",
    "拨阿拉": "给我们",
    "拨侬": "给你",
    "近把点": "附近",
    "里向": "里面",
    "生毛病": "生病",
    "看毛病": "看病",
    "煞了": "死了",
    "老太婆": "老伴",
    "辣啥地方": "在什么地方",
    "辣屋里": "在家里",
    "啥人": "谁",
    "寻": "找",
    "服侍": "照顾",
    "勿灵": "不好",
    "咋办": "怎么办",
    "咋整": "怎么办",
    "咋": "怎么",
    "啥": "什么",
    "俺们": "我们",
    "俺": "我",
    "闺女": "女儿",
    "老伴儿": "老伴",
    "哪儿": "哪里",
    "这儿": "这里",
    "那儿": "那里",
}
_COLLOQUIAL_RE = re.compile("|".join(map(re.escape, sorted(COLLOQUIAL, key=len, reverse=True))))
# Wu's question particle 伐 (好伐, 有伐) ends a clause; inside a word (采伐) it stays.
_WU_QUESTION = re.compile(r"(?<=[\u4e00-\u9fff])伐(?= |$)")
# Dictation repeats: a word said twice or more (低保低保), a character stuttered three times.
_REPEATED_WORD = re.compile(r"([\u4e00-\u9fff]{2,4})\1+")
_STUTTER = re.compile(r"([\u4e00-\u9fff])\1{2,}")
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
    text = _bounded(text, MAX_INPUT_CHARS * 4)
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_CLEANER)
    text = to_simplified(text.lower())
    text = _SPACES.sub(" ", text).strip()
    return _bounded(text, MAX_INPUT_CHARS)


def _bounded(text: str, limit: int) -> str:
    """At most ``limit`` characters: the beginning (``HEAD_CHARS`` of every ``MAX_INPUT_CHARS``)
    and the end, where a story asks its question."""
    if len(text) <= limit:
        return text
    head = limit * HEAD_CHARS // MAX_INPUT_CHARS
    return text[:head] + " " + text[len(text) - (limit - head - 1) :]


def mandarin(text: str) -> str:
    """Colloquial and Shanghainese words as Mandarin, and Wu's 伐 as 吗 (on ``clean`` text)."""
    text = _COLLOQUIAL_RE.sub(lambda m: COLLOQUIAL[m.group(0)], text)
    return _WU_QUESTION.sub("吗", text)


def normalize(text: str) -> str:
    """What the matcher compares: ``clean`` text without fillers, numerals as digits."""
    text = mandarin(clean(text))
    text = _STUTTER.sub(r"\1", _REPEATED_WORD.sub(r"\1", text))
    text = _FILLER_RE.sub(" ", text)
    text = _PARTICLE_RE.sub(" ", text)
    text = _numerals_to_digits(text)
    return _SPACES.sub(" ", text).strip()
