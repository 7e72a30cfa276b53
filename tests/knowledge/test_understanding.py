"""The matcher reading questions the way residents write them: signs of a need, framing words,
typos that are real words, and the decision that a question is not civil affairs at all."""

from __future__ import annotations

from knowledge.cues import CueIndex
from knowledge.matcher import KnowledgeIndex
from knowledge.schema import CueIn
from knowledge.terms import Kind, word
from tests.knowledge.conftest import TODAY


def test_a_sign_fires_on_its_specific_words_in_any_order(shipped_index: KnowledgeIndex) -> None:
    analyzer = shipped_index.analyzer
    cues = CueIndex(
        [CueIn(need="认知症", entries=["elder-dementia-care"], signs=["钥匙放进冰箱"])],
        analyzer,
        {"elder-dementia-care"},
    )
    story = analyzer.analyze("我老伴最近怪得很，把钥匙都放进了冰箱里")
    assert cues.entries(story)["elder-dementia-care"] > 0.8
    assert cues.entries(analyzer.analyze("冰箱坏了找谁修")) == {}  # half a sign is not one


def test_a_sign_of_common_words_only_never_fires(shipped_index: KnowledgeIndex) -> None:
    cues = CueIndex(
        [CueIn(need="x", entries=["elder-meal-point"], signs=["吃过饭说没吃", "一个人懒得做饭"])],
        shipped_index.analyzer,
        {"elder-meal-point"},
    )
    assert cues.vague == [("x", "吃过饭说没吃")]
    assert cues.entries(shipped_index.analyzer.analyze("你吃过饭没有")) == {}
    # A cue pointing to an entry the index lacks is skipped, not an error.
    assert (
        len(
            CueIndex(
                [CueIn(need="y", entries=["gone"], signs=["钥匙"])], shipped_index.analyzer, set()
            )
        )
        == 0
    )


def test_stories_reach_the_entry_their_signs_point_to(shipped_index: KnowledgeIndex) -> None:
    answer = shipped_index.ask(
        "我爸八十多了，这半年记性越来越差，钥匙放进冰箱，出门好几次找不到家，我们上班没人看着，"
        "有没有能照顾这种老人的地方？",
        today=TODAY,
    )
    assert not answer.fallback and answer.entry is not None
    assert answer.entry.id.startswith("elder-dementia")


def test_framing_words_weigh_little(shipped_index: KnowledgeIndex) -> None:
    for framing in ("我妈", "阿婆", "邻居"):
        assert shipped_index.weigher.weight(word(framing)) <= 0.3
    assert shipped_index.weigher.weight(word("低保")) > 1.0


def test_an_everyday_word_is_not_rewritten_but_may_be_read_as_a_typo(
    shipped_index: KnowledgeIndex,
) -> None:
    analyzer = shipped_index.analyzer
    together = analyzer.analyze("我们一起去")
    assert together.text == "我们一起去"
    assert analyzer.analyze("帮我写一首诗").text == "帮我写一首诗"
    cremation = analyzer.analyze("人走了要到哪里火花")
    assert cremation.text.endswith("火花") and word("火化") in cremation.alternatives
    assert analyzer.analyze("底保怎么申请").text == "低保怎么申请"  # a real typo still is fixed
    answer = shipped_index.ask("人走了要到哪里火花", today=TODAY)
    assert answer.entry is not None and "火化" in answer.entry.answer


def test_a_question_with_no_civil_affairs_need_is_outside(shipped_index: KnowledgeIndex) -> None:
    for question in ("红烧肉怎么烧才好吃", "周末去哪里爬山好", "熬夜之后怎么补觉"):
        answer = shipped_index.ask(question, today=TODAY)
        assert answer.fallback and not answer.suggestions, question
    # A bare service word is in scope, unsure: suggestions, never "not civil affairs".
    unsure = shipped_index.ask("补贴", today=TODAY)
    assert unsure.fallback and not unsure.outside and unsure.suggestions


def test_a_lonely_resident_reaches_the_buddy_programme(shipped_index: KnowledgeIndex) -> None:
    answer = shipped_index.ask("老伴走了以后一个人住，好几天没人说话，好孤单", today=TODAY)
    assert answer.entry is not None and answer.entry.id == "elder-old-partner"
    assert "37009999" in answer.entry.answer


def test_numbers_are_words_of_their_own(shipped_index: KnowledgeIndex) -> None:
    analyzed = shipped_index.analyzer.analyze("37009999这个号码是做什么的")
    assert word("37009999") in analyzed.terms
    assert all(t.kind in Kind for t in analyzed.terms)
    answer = shipped_index.ask("37009999这个号码是做什么的", today=TODAY)
    assert answer.entry is not None and answer.entry.id == "elder-hotline-37009999"


def test_an_entrys_eligibility_feeds_its_signs(shipped_index: KnowledgeIndex) -> None:
    from knowledge.cues import eligibility_cues

    by_entry = {c.entries[0]: c for c in eligibility_cues(shipped_index.entries.values())}
    unsupported = by_entry["child-de-facto-unsupported"]
    assert "服刑在押" in unsupported.signs and unsupported.need.endswith("（适用情形）")
    # What only says how a case is judged is no sign.
    assert not any("为准" in s for c in by_entry.values() for s in c.signs)
    fired = shipped_index.cues.fired(shipped_index.analyzer.analyze("孩子他爸服刑在押"))
    assert any(f.sign == "服刑在押" for f in fired)
