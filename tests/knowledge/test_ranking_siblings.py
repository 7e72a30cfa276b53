"""Choosing between entries of one topic: what the question asks (where, how, how much), what
sets a candidate apart from the others, a sign said in other words, and the long questions'
own stage one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from knowledge.calibration import Calibration, Features, long_share
from knowledge.cues import CueIndex
from knowledge.featuring import Candidate, Featuring
from knowledge.intents import agreement, asks, profile
from knowledge.matcher import KnowledgeIndex
from knowledge.schema import CueIn
from knowledge.terms import word


def test_the_last_clause_says_what_is_asked() -> None:
    story = asks("我每天在社区食堂吃饭 听说有补贴 怎么才能领 要带什么材料")
    assert story["how"] == 1.0
    assert asks("附近哪里有助餐点 一顿多少钱")["where"] < 1.0  # an earlier clause counts less
    assert asks("你好") == {}
    entry = profile(["助餐点在哪里", "附近有没有老年食堂", "助餐点几点开门"])
    assert entry["where"] == 2 / 3 and entry["time"] == 1 / 3
    assert agreement({"where": 1.0}, entry) == 2 / 3
    assert agreement({}, entry) == 0.0  # a question that asks no way says nothing


def test_a_word_only_one_candidate_holds_sets_it_apart(shipped_index: KnowledgeIndex) -> None:
    index = shipped_index
    query = index.analyzer.analyze("助餐点吃饭有补贴吗")
    weighed = index.weigher.weighed(query)
    docs = [index.docs[index.position[k]] for k in ("elder-meal-point", "elder-meal-subsidy")]
    candidates = [Candidate(d, 1.0, index.sample_totals[index.position[d.key]], {}) for d in docs]
    point, subsidy = Featuring(query, weighed, {}).all(candidates)
    held = [d.terms.intersection(weighed.weights) for d in docs]
    # Each term's weight is split among the candidates holding it, none lost, none added.
    either = sum(weighed.weights[t] for t in held[0] | held[1]) / weighed.total
    assert abs(point.distinct + subsidy.distinct - either) < 1e-9
    only = held[1] - held[0]
    assert subsidy.distinct - point.distinct == pytest.approx(
        sum(weighed.weights[t] for t in only) / weighed.total
        - sum(weighed.weights[t] for t in held[0] - held[1]) / weighed.total
    )


def _signs(index: KnowledgeIndex, **signs: list[str]) -> CueIndex:
    """A cue index of one need per entry id, with its signs."""
    cues = [CueIn(need=key, entries=[key], signs=told) for key, told in signs.items()]
    return CueIndex(cues, index.analyzer, set(signs))


def test_a_sign_said_in_other_words_fires_beside_a_specific_word(
    shipped_index: KnowledgeIndex,
) -> None:
    analyzer = shipped_index.analyzer
    cues = CueIndex(
        [CueIn(need="代办", entries=["elder-allowance"], signs=["儿女替老人去办"])],
        analyzer,
        {"elder-allowance"},
    )
    # 女儿 for 儿女, 能替 for 替: the words differ, their characters are there.
    told = analyzer.analyze("我是他女儿，能替老人去办吗")
    assert cues.entries(told).get("elder-allowance", 0.0) >= 0.5
    # The characters only add to a specific word found: 儿 and 女 alone fire nothing.
    assert cues.entries(analyzer.analyze("女儿去办")) == {}


def test_a_sign_word_inside_a_longer_word_of_the_question_counts(
    shipped_index: KnowledgeIndex,
) -> None:
    cues, analyzer = (
        _signs(shipped_index, **{"assist-disaster": ["房子塌了"]}),
        shipped_index.analyzer,
    )
    # 房子 inside 老房子, 塌 inside 冲塌: jieba keeps the longer words whole.
    told = analyzer.analyze("昨晚暴雨把老房子冲塌了半间")
    assert cues.entries(told).get("assist-disaster", 0.0) >= 0.5
    assert cues.entries(analyzer.analyze("老房子要翻修")) == {}


def test_the_need_told_last_outweighs_the_backstory(shipped_index: KnowledgeIndex) -> None:
    signs = {"elder-meal-delivery": ["腿脚不方便出不了门"], "elder-old-partner": ["想有人上门坐坐"]}
    cues, analyzer = _signs(shipped_index, **signs), shipped_index.analyzer
    story = cues.entries(analyzer.analyze("腿脚不方便出不了门，想有人上门来坐坐"))
    assert story["elder-old-partner"] > story["elder-meal-delivery"]
    # With no need told in the last clause, the earlier one keeps its whole strength.
    alone = cues.entries(analyzer.analyze("腿脚不方便出不了门，怎么办"))
    assert alone["elder-meal-delivery"] > story["elder-meal-delivery"]


def test_long_questions_pass_to_their_own_stage_one(tmp_path: Path) -> None:
    base = Calibration.default()
    n = len(Features.names())
    calibration = replace(
        base, weights=(0.0,) * n, bias=1.0, long_weights=(0.0,) * n, long_bias=-1.0
    )
    short, long = Features(length=0.2), Features(length=0.9)
    assert calibration.score(short) == 1.0 and calibration.score(long) == -1.0
    assert 0.0 < long_share(0.5) < 1.0  # between the two, a blend
    path = tmp_path / "calibration.json"
    calibration.dump(path)
    loaded = Calibration.load(path)
    assert loaded.long_weights == calibration.long_weights and loaded.long_bias == -1.0
    # A file written before the long stage existed loads with none: one stage one for all.
    assert replace(base, long_weights=()).score(long) == base.bias + sum(
        w * v for w, v in zip(base.weights, long.vector(), strict=True)
    )


def test_the_last_clause_holds_only_its_own_terms(shipped_index: KnowledgeIndex) -> None:
    analyzed = shipped_index.analyzer.analyze("腿脚不方便出不了门，想有人上门来坐坐")
    tail = {t.text for t in analyzed.tail}
    assert {"上门", "坐坐"} <= tail
    # The pairs of the clause before it (方便, 了门) are not what is asked.
    assert not tail & {"腿脚", "方便", "了门", "出不"}
    assert shipped_index.analyzer.analyze("低保怎么申请").tail == frozenset()


def test_a_word_most_documents_hold_leads_to_no_sign(shipped_index: KnowledgeIndex) -> None:
    analyzer, common = shipped_index.analyzer, frozenset({word("老人")})
    cue = [CueIn(need="跑腿", entries=["elder-allowance"], signs=["老人出不了门要人跑"])]
    assert CueIndex(cue, analyzer, {"elder-allowance"}).vague == []
    led = CueIndex(cue, analyzer, {"elder-allowance"}, common)
    assert led.vague == [("跑腿", "老人出不了门要人跑")]
    # The shipped index finds 老人 commonplace: most of its entries' questions hold it.
    assert word("老人") not in shipped_index.cues.anchors
    assert word("轮椅") in shipped_index.cues.anchors
