from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.loader import load_shipped
from knowledge.matcher import KnowledgeIndex
from knowledge.store import snapshot_from_content
from tests.knowledge.conftest import TODAY
from tests.support.contract import CONTRACT_KEYS


def answered(index: KnowledgeIndex, question: str) -> str | None:
    answer = index.ask(question, today=TODAY)
    return None if answer.fallback or answer.entry is None else answer.entry.id


@pytest.mark.parametrize(
    ("question", "prefix"),
    [
        # As written.
        ("低保怎么申请", "assist-dibao"),
        ("老年助餐点在哪里", "elder-meal"),
        ("想租个轮椅", "device-"),
        ("结婚登记要带什么", "marriage-"),
        ("家里老人去世了要做什么", "funeral-"),
        # Homophone typos from pinyin keyboards.
        ("底保怎么申请", "assist-dibao"),
        ("住餐点在哪", "elder-meal"),
        ("论椅出租", "device-"),
        ("结昏要带什么", "marriage-"),
        # Typed pinyin, with or without spaces.
        ("dibao shenqing", "assist-dibao"),
        ("zhucan", "elder-meal"),
        ("lunyi", "device-"),
        ("binyiguan", "funeral-"),
        # English keywords.
        ("wheelchair rental", "device-"),
    ],
)
def test_questions_find_their_area(
    shipped_index: KnowledgeIndex, question: str, prefix: str
) -> None:
    found = answered(shipped_index, question)
    assert found is not None and found.startswith(prefix), found


def test_traditional_characters(shipped_index: KnowledgeIndex) -> None:
    assert answered(shipped_index, "結婚證丟了怎麼補辦") == "marriage-certificate-replace"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("老年食堂在哪", "elder-meal-point"),
        ("托老所", "elder-day-care"),
        ("五保户有什么待遇", "assist-tekun"),
        ("单身证明怎么开", "marriage-no-record-certificate"),
        ("我家老头子老年痴呆了有没有地方照顾", "elder-dementia-"),
    ],
)
def test_residents_words_reach_the_content_through_synonyms(
    shipped_index: KnowledgeIndex, question: str, expected: str
) -> None:
    found = answered(shipped_index, question)
    assert found is not None and found.startswith(expected), found


REGISTRATION = {"marriage-conditions", "marriage-papers", "marriage-where"}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("我想领证", REGISTRATION),
        ("去哪里领结婚证", REGISTRATION),
        ("领证要带什么", {"marriage-papers"}),
        # 补办结婚证 is replacing a certificate: 办结婚证 must not match across 补|办.
        ("补办结婚证", {"marriage-certificate-replace"}),
        ("补办离婚证去哪里", {"marriage-certificate-replace"}),
        ("办离婚证要带什么", {"marriage-divorce"}),
        ("我想领养个孩子", {"marriage-adoption"}),
    ],
)
def test_synonyms_rewrite_whole_words_only(
    shipped_index: KnowledgeIndex, question: str, expected: set[str]
) -> None:
    assert answered(shipped_index, question) in expected


@pytest.mark.parametrize("question", ["身份证到期去哪里领证", "领养老金去哪里"])
def test_a_synonym_does_not_turn_another_matter_into_a_service(
    shipped_index: KnowledgeIndex, question: str
) -> None:
    # 领证 here is an ID card, 领养 is inside 领 | 养老金: neither marriage nor adoption.
    answer = shipped_index.ask(question, today=TODAY)
    assert answer.fallback and answer.out_of_scope is not None
    assert all(not s.entry_id.startswith("marriage-") for s in answer.suggestions)


@pytest.mark.parametrize(
    "question",
    [
        "护照过期了怎么办",
        "明天会下雨吗",
        "医保卡怎么报销",
        "个税怎么申报",
        "身份证丢了补办",
        "讲个笑话吧",
        "公积金怎么取",
    ],
)
def test_out_of_scope_questions_fall_back(shipped_index: KnowledgeIndex, question: str) -> None:
    answer = shipped_index.ask(question, today=TODAY)
    assert answer.fallback
    assert answer.entry is None or answer.as_contract()["entry_id"] is None


def test_a_word_shared_with_an_answer_is_not_a_match(shipped_index: KnowledgeIndex) -> None:
    # 身份证 is in the marriage papers' answer, but this is not a marriage question.
    answer = shipped_index.ask("身份证在哪里办", today=TODAY)
    assert answer.fallback


def test_empty_question_falls_back_with_no_suggestions(shipped_index: KnowledgeIndex) -> None:
    for question in ("", "   ", "？？？", "\x00"):
        answer = shipped_index.ask(question, today=TODAY)
        assert answer.fallback and answer.empty
        assert answer.suggestions == ()


def test_fallback_offers_at_most_three_suggestions(shipped_index: KnowledgeIndex) -> None:
    answer = shipped_index.ask("补贴", today=TODAY)
    assert len(answer.suggestions) <= 3
    assert all(0.0 <= s.score <= 1.0 for s in answer.suggestions)


def test_threshold_decides_between_answer_and_fallback(shipped_index: KnowledgeIndex) -> None:
    strict = dataclasses.replace(shipped_index.calibration, threshold=0.999)
    lenient = dataclasses.replace(shipped_index.calibration, threshold=0.001)
    original = shipped_index.calibration
    try:
        shipped_index.calibration = strict
        high = shipped_index.ask("低保怎么申请", today=TODAY)
        shipped_index.calibration = lenient
        low = shipped_index.ask("低保怎么申请", today=TODAY)
    finally:
        shipped_index.calibration = original
    assert high.fallback and high.suggestions
    assert not low.fallback
    assert high.score == pytest.approx(low.score)


def test_contract_object_has_exactly_the_design_fields(shipped_index: KnowledgeIndex) -> None:
    result = shipped_index.ask("低保怎么申请", today=TODAY).as_contract()
    assert set(result) == CONTRACT_KEYS
    assert result["entry_id"] and result["title"] and result["answer"]
    assert 0.0 <= result["score"] <= 1.0  # type: ignore[operator]
    assert result["elapsed_ms"] >= 0  # type: ignore[operator]
    fallback = shipped_index.ask("明天会下雨吗", today=TODAY).as_contract()
    assert set(fallback) == CONTRACT_KEYS
    assert fallback["entry_id"] is None and fallback["answer"] is None


def test_only_entries_in_force_are_answered() -> None:
    snapshot = snapshot_from_content(load_shipped())
    entries = tuple(
        dataclasses.replace(e, effective_from=date(2027, 1, 1))
        if e.id == "assist-dibao-apply"
        else dataclasses.replace(e, effective_to=date(2026, 6, 30))
        if e.id == "elder-meal-point"
        else e
        for e in snapshot.entries
    )
    index = KnowledgeIndex.build(dataclasses.replace(snapshot, entries=entries))
    before = {
        a.entry.id
        for q in ("怎么申请低保", "低保要带什么材料申请")
        if (a := index.ask(q, today=date(2026, 12, 31))).entry
    }
    after = {
        a.entry.id
        for q in ("怎么申请低保", "低保要带什么材料申请")
        if (a := index.ask(q, today=date(2027, 1, 1))).entry
    }
    assert "assist-dibao-apply" not in before
    assert "assist-dibao-apply" in after
    in_june = index.ask("老年助餐点在哪里", today=date(2026, 6, 30))
    in_july = index.ask("老年助餐点在哪里", today=date(2026, 7, 1))
    assert in_june.entry is not None and in_june.entry.id == "elder-meal-point"
    assert in_july.entry is None or in_july.entry.id != "elder-meal-point"


def test_a_hundred_thousand_characters_are_cut_and_answered(
    shipped_index: KnowledgeIndex,
) -> None:
    answer = shipped_index.ask("低保怎么申请" + "啊" * 100_000, today=TODAY)
    assert answer.entry is not None and answer.entry.id.startswith("assist-dibao")


@pytest.mark.parametrize(
    "question",
    [
        "😀😀😀",
        "<script>alert(1)</script>",
        "' OR 1=1; DROP TABLE kb_entry; --",
        "\ud800\udfff",
        "低保\x00\x1b[31m",
        "ǅ ﷽ 𝕏 ",
        "Ｑ：低保？",
        "a" * 5000,
        "低" * 3,
        "1234567890",
    ],
)
def test_hostile_input_gives_a_valid_result(shipped_index: KnowledgeIndex, question: str) -> None:
    result = shipped_index.ask(question, today=TODAY).as_contract()
    assert set(result) == CONTRACT_KEYS
    assert 0.0 <= result["score"] <= 1.0  # type: ignore[operator]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_valid_result(shipped_index: KnowledgeIndex, question: str) -> None:
    answer = shipped_index.ask(question, today=TODAY)
    result = answer.as_contract()
    assert set(result) == CONTRACT_KEYS
    assert 0.0 <= answer.score <= 1.0
    assert len(answer.suggestions) <= 3
    assert answer.fallback or answer.entry is not None
