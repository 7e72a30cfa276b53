from __future__ import annotations

import pytest

from knowledge.matcher import KnowledgeIndex
from knowledge.synonyms import Rewrite, Rewritten, Synonyms, fired
from knowledge.tokenizer import base_tokenizer, domain_tokenizer

MAPPING = {
    "领证": "结婚登记",
    "办结婚证": "结婚登记",
    "领养": "收养",
    "后事": "丧事",
    "居委": "居委会",
    "rent": "租赁",
}


@pytest.fixture(scope="module")
def synonyms() -> Synonyms:
    # 补办结婚证 stands for the index's own words (its titles and keywords).
    return Synonyms(MAPPING, domain_tokenizer(["补办结婚证"]))


@pytest.mark.parametrize(
    "text",
    [
        "补领证明",  # 补领 | 证明
        "补领证明怎么开",
        "补办结婚证",  # one word of the dictionary: 办结婚证 must not match across 补|办
        "领养老金",  # 领 | 养老金
        "以后事情多",  # 以后 | 事情
        "居委会在哪",  # the canonical word itself, not 居委 + 会
        "my parents",  # "rent" inside "parents"
    ],
)
def test_a_variant_inside_a_longer_word_is_left_alone(synonyms: Synonyms, text: str) -> None:
    assert synonyms.rewrite(text) == Rewritten(text, ())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我想领证", "我想结婚登记"),
        ("想办结婚证", "想结婚登记"),
        ("我想领养孩子", "我想收养孩子"),
        ("后事怎么办", "丧事怎么办"),
        ("居委在哪", "居委会在哪"),
        ("wheelchair rent", "wheelchair 租赁"),
    ],
)
def test_a_whole_word_variant_is_rewritten(synonyms: Synonyms, text: str, expected: str) -> None:
    assert synonyms.apply(text) == expected


def test_rewrite_says_what_was_replaced_and_where(synonyms: Synonyms) -> None:
    result = synonyms.rewrite("我想领证 后事怎么办")
    assert result.text == "我想结婚登记 丧事怎么办"
    assert result.rewrites == (Rewrite("领证", "结婚登记", 2, 4), Rewrite("后事", "丧事", 5, 7))


def test_fired_normalises_the_question_first(synonyms: Synonyms) -> None:
    assert fired(synonyms, "請問，我想領證？") == [("领证", "结婚登记")]
    assert fired(synonyms, "补领证明") == []


def test_each_synonyms_tokenizer_is_its_own() -> None:
    # The base dictionary never learns a variant: no rebuild grows a process-wide dictionary.
    one = Synonyms({"甲乙丙丁": "低保"})
    two = Synonyms({"戊己庚辛": "低保"})
    assert one.tokenizer is not two.tokenizer
    assert one.tokenizer.FREQ.get("甲乙丙丁") and not two.tokenizer.FREQ.get("甲乙丙丁")
    assert not base_tokenizer().FREQ.get("甲乙丙丁")
    assert not base_tokenizer().FREQ.get("戊己庚辛")


def test_the_index_has_a_tokenizer_of_its_own(shipped_index: KnowledgeIndex) -> None:
    assert shipped_index.analyzer.tokenizer is not base_tokenizer()
    assert shipped_index.analyzer.tokenizer is shipped_index.analyzer.synonyms.tokenizer
    assert shipped_index.analyzer.tokenizer.FREQ.get("补办结婚证")
    assert not base_tokenizer().FREQ.get("补办结婚证")


# The shipped synonyms, as the index applies them.


@pytest.mark.parametrize(
    "question", ["补领证明", "补领证明怎么开", "身份证到期去哪里领证", "领养老金去哪里"]
)
def test_shipped_synonyms_do_not_fire_inside_other_words(
    shipped_index: KnowledgeIndex, question: str
) -> None:
    assert shipped_index.analyzer.synonyms.apply(question) == question
    assert shipped_index.analyzer.analyze(question).text == question
    assert fired(shipped_index.analyzer.synonyms, question) == []


def test_replacing_a_certificate_is_not_registering(shipped_index: KnowledgeIndex) -> None:
    synonyms = shipped_index.analyzer.synonyms
    for question in ("补办结婚证", "补办离婚证去哪里"):
        assert "登记" not in shipped_index.analyzer.analyze(question).text
        assert all(c not in {"结婚登记", "离婚登记"} for _, c in fired(synonyms, question))


def test_shipped_synonyms_still_fire_on_whole_words(shipped_index: KnowledgeIndex) -> None:
    synonyms = shipped_index.analyzer.synonyms
    assert fired(synonyms, "去哪里领结婚证") == [("领结婚证", "结婚登记")]
    assert fired(synonyms, "办离婚证要带什么") == [("办离婚证", "离婚登记")]
    assert fired(synonyms, "我家附近有老年食堂吗") == [("老年食堂", "助餐点")]
