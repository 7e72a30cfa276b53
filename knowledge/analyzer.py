"""From text to index terms: normalise, apply synonyms (whole words, ``knowledge.synonyms``),
segment with the index's jieba tokenizer (``knowledge.tokenizer``), add character bigrams and
pinyin bigrams, and keep Latin words (English keywords, typed pinyin).

Each term carries its kind (``knowledge.terms``): a jieba word, a character bigram, a pinyin
syllable pair, a Latin word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise, product
from typing import Any

from knowledge.normalize import normalize
from knowledge.pinyin import exact_reading, readings, split_latin, split_latin_exact
from knowledge.synonyms import Synonyms
from knowledge.terms import Kind, Term, bigram, latin, sound
from knowledge.terms import word as word_term
from knowledge.tokenizer import base_tokenizer, general_surprisal

# Earlier names, still imported by the calibration and the benchmarks: the base tokenizer.
_jieba = base_tokenizer
__all__ = [
    "FRAMING",
    "STOPWORDS",
    "Analyzed",
    "Analyzer",
    "Synonyms",
    "_jieba",
    "general_surprisal",
]

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

# Who the question is for (我妈, 楼下阿婆, 我是邻居): it says someone asks on another's behalf,
# not which service is meant, so these words weigh little however rare the index finds them.
# 老伴, 子女 and 孩子 stay ordinary words: widowhood, having no children and children's services
# are what some entries are about.
FRAMING = frozenset(
    (
        "我妈 妈妈 老妈 我爸 爸爸 老爸 母亲 父亲 爹 娘 婆婆 公公 岳母 岳父 丈母娘 老丈人 奶奶 "
        "爷爷 外婆 外公 姥姥 姥爷 阿婆 阿公 老伯 伯伯 阿姨 叔叔 大爷 大妈 大伯 邻居 老邻居 楼下 "
        "楼上 隔壁 对门 女儿 儿子 儿媳 女婿 孙子 孙女 外孙 外孙女 老公 老婆 丈夫 妻子 亲戚 家人 "
        "家里人 老太太 老爷子 老人家 老头 老太 老太婆 朋友 同事 我家 他家 她家 我们家 他 她"
    ).split()
)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[a-z]+")
_LATIN_RUN = re.compile(r"[a-z]+(?: [a-z]+)*")
# A number with its unit (80岁, 3个月), and a number of its own long enough to be a phone
# number or a code (37009999, 12345): both are words.
_DIGIT_WORD = re.compile(r"\d+(?:周岁|岁|元|块|天|个月|月|年|级|次|小时|个工作日)|\d{3,}")


@dataclass(frozen=True)
class Analyzed:
    text: str
    # Word, bigram and Latin terms.
    terms: tuple[Term, ...]
    # Pinyin pairs by position: each group holds the alternatives of heteronyms.
    pinyin_groups: tuple[tuple[Term, ...], ...]
    pinyin: str  # the text's syllables joined, for fuzzy comparison of sounds
    # Domain words an everyday word of the text may be a typo of (火花: 火化), weighed less.
    alternatives: tuple[Term, ...] = ()
    # The terms of the last clause, where a story asks what it wants (empty for one clause).
    tail: frozenset[Term] = frozenset()

    def all_terms(self) -> list[Term]:
        return [*self.terms, *(t for group in self.pinyin_groups for t in group)]


def _pinyin_pairs(sequence: list[tuple[str, ...]]) -> list[tuple[Term, ...]]:
    # Built in place rather than by ``terms.sound``: a million of them in a large build.
    return [
        tuple(Term(Kind.SOUND, f"{a}_{b}") for a, b in product(left, right))
        for left, right in pairwise(sequence)
    ]


# A word this common in everyday Chinese is what the resident meant, not a typo of a domain word
# that sounds the same (一起 is not 遗弃, 开局 not 开具); jieba's dictionary counts.
EVERYDAY_FREQUENCY = 300


COMMONEST_FREQUENCY = 5000


def _everyday(piece: str) -> bool:
    return int(base_tokenizer().FREQ.get(piece, 0)) >= EVERYDAY_FREQUENCY


def _commonest(word: str) -> bool:
    return int(base_tokenizer().FREQ.get(word, 0)) >= COMMONEST_FREQUENCY


def sound_key(word: str) -> str | None:
    """Exact toneless pinyin of a word (a pinyin keyboard's homophones share it)."""
    sounds = [exact_reading(c) for c in word]
    return " ".join(sounds) if all(sounds) else None  # type: ignore[arg-type]


class Analyzer:
    def __init__(self, synonyms: Synonyms, tokenizer: Any | None = None) -> None:
        """``tokenizer``: the index's own, with its domain words; by default the synonyms'."""
        self.synonyms = synonyms
        self.tokenizer = tokenizer if tokenizer is not None else synonyms.tokenizer
        # Filled in by the index once it knows its vocabulary: sound key -> domain word.
        self.by_sound: dict[str, str] = {}
        # The same keys -> the spelling that sounds so (a synonym's variant for its canonical).
        self.spelled: dict[str, str] = {}
        self.known: frozenset[str] = frozenset()

    def learn_vocabulary(self, words: dict[str, int], known: set[str]) -> None:
        """Domain words (with how many documents use them) to correct towards, and every
        word and bigram the index knows (never corrected away)."""
        by_sound: dict[str, tuple[int, str]] = {}
        for word, count in words.items():
            # Correcting towards one of the commonest words (以上, 时候) would only undo others.
            if 2 <= len(word) <= 6 and _CJK.fullmatch(word) and not _commonest(word):
                key = sound_key(word)
                if key and (key not in by_sound or by_sound[key][0] < count):
                    by_sound[key] = (count, word)
        self.by_sound = {key: word for key, (_, word) in by_sound.items()}
        self.spelled = dict(self.by_sound)
        # Residents' own words (养老院) spelled in pinyin lead to the canonical word too.
        for variant, canonical in self.synonyms.mapping.items():
            key = sound_key(variant)
            if key and 2 <= len(variant) <= 6 and key not in self.by_sound:
                self.by_sound[key] = canonical
                self.spelled[key] = variant
        self.known = frozenset(known)

    def corrected(self, text: str) -> tuple[str, list[str]]:
        """Replace an unknown word that sounds like a domain word with that word (底保 → 低保).

        Only spans the index has never seen are touched, longest first, so real words stay.
        A synonym's variant as written is no typo: where it is still in the text, the synonyms
        left it because it is part of a longer word (办结婚证 in 补办结婚证), and it stays.
        An everyday word that sounds like a domain word (火花, 火化) stays too, but the domain
        word is returned beside the text as a possible reading, for the matcher to weigh less.
        """
        alternatives: list[str] = []
        if not self.by_sound:
            return text, alternatives
        variants = self.synonyms.mapping

        def soundalike(piece: str, key: str) -> str | None:
            word = self.by_sound.get(key)
            # A typo keeps some of the word (底保, 助参): a window sharing no character with it
            # is other words that happen to sound alike (写一首, 协议书).
            if word is None or word == piece or set(self.spelled[key]).isdisjoint(piece):
                return None
            return word

        def fix(run: str) -> str:
            # Each character's reading once; a window's sound key is its readings joined.
            sounds = [exact_reading(c) for c in run]
            out, i = [], 0
            while i < len(run):
                for size in (4, 3, 2):
                    piece = run[i : i + size]
                    if len(piece) < size or piece in self.known:
                        continue
                    if piece in variants:
                        out.append(piece)
                        i += size
                        break
                    window = sounds[i : i + size]
                    if None in window:
                        continue
                    word = soundalike(piece, " ".join(window))  # type: ignore[arg-type]
                    if word is None:
                        continue
                    if _everyday(piece):
                        alternatives.append(word)
                        continue
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
        return _CJK.sub(lambda m: fix(m.group(0)), text), alternatives

    def surprisal(self, word: str) -> float:
        """How rare a word is in everyday Chinese, in nats (this index's dictionary)."""
        return general_surprisal(word, self.tokenizer)

    def analyze(self, raw: str) -> Analyzed:
        normalized = normalize(raw)
        rewritten, tokens = self.synonyms.rewrite_segmented(normalized)
        text, alternatives = self.corrected(rewritten.text)
        if tokens is None or text != normalized:
            tokens = self.tokenizer.lcut(text, HMM=True)
        terms: list[Term] = []
        groups: list[tuple[Term, ...]] = []
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
                terms.append(bigram(joined))
            else:
                terms.extend(bigram(joined[i : i + 2]) for i in range(len(joined) - 1))
            sounds = [s for c in joined if (s := readings(c))]
            groups.extend(_pinyin_pairs(sounds))

        # One jieba call for the whole text: it keeps Latin words and digits whole.
        tail_from = 0
        for token in tokens:
            if token.isspace():
                close_piece()  # the clause's own pairs belong before the next clause
                tail_from = len(terms)
            if _CJK.fullmatch(token):
                syllables.extend(s[0] for c in token if (s := readings(c)))
                if token in STOPWORDS:
                    close_piece()
                else:
                    terms.append(word_term(token))
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
                        groups.append((sound(split[0]),))
                    syllables.extend(split)
                stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
                terms.append(latin(stem))
        close_piece()
        terms.extend(word_term(d) for d in _DIGIT_WORD.findall(text))
        return Analyzed(
            text=text,
            terms=tuple(terms),
            pinyin_groups=tuple(groups),
            pinyin=" ".join(syllables),
            alternatives=tuple(word_term(w) for w in dict.fromkeys(alternatives)),
            tail=frozenset(terms[tail_from:]) if tail_from else frozenset(),
        )
