"""Clusters of unanswered questions (knowledge.unanswered): pure unit tests, no database."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.normalize import normalize
from knowledge.unanswered import (
    MAX_EXAMPLES,
    SIMILARITY,
    Asked,
    cluster_questions,
    display_text,
    question_key,
    similarity,
)

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)


def asked(texts: Iterable[str], start: datetime = T0, unhelpful: bool = False) -> list[Asked]:
    """One question per text, an hour apart."""
    return [
        Asked(text, start + timedelta(hours=i), unhelpful=unhelpful) for i, text in enumerate(texts)
    ]


def test_repeats_and_typed_variants_are_one_cluster() -> None:
    items = [
        Asked("老年卡怎么办理", T0 + timedelta(days=1)),
        Asked("老年卡怎么办理", T0 + timedelta(days=3)),
        Asked("老年卡怎么办理", T0),
        Asked("老年卡怎么办理？", T0 + timedelta(days=2)),
        Asked("我想问一下老年卡怎么办", T0 + timedelta(days=5)),
        Asked("老年卡怎麼辦理", T0 - timedelta(days=1), unhelpful=True),
        Asked("老年卡怎么办理吗", T0 + timedelta(days=4), unhelpful=True),
    ]
    [cluster] = cluster_questions(items)
    assert cluster.key == "老年卡怎么办理"
    assert cluster.label == "老年卡怎么办理"
    assert cluster.count == 7
    assert cluster.unhelpful == 2
    assert cluster.first_seen == T0 - timedelta(days=1)
    assert cluster.last_seen == T0 + timedelta(days=5)
    # The label first; then the most common form of each other key, then the other forms
    # (老年卡怎么办理吗 is the first key asked with a particle: one more form of it).
    assert cluster.examples[0] == "老年卡怎么办理"
    assert cluster.examples[1] == "我想问一下老年卡怎么办"
    assert set(cluster.examples) == {
        "老年卡怎么办理",
        "我想问一下老年卡怎么办",
        "老年卡怎么办理吗",
        "老年卡怎麼辦理",
        "老年卡怎么办理？",
    }
    assert set(cluster.members) == {"老年卡怎么办理", "老年卡怎么办", "老年卡怎么办理吗"}
    assert cluster.members[0] == cluster.key


def test_the_label_is_the_most_common_form_as_typed() -> None:
    items = asked(["低保怎么申请？"] * 3 + ["低保怎么申请"] + ["请问低保怎么申请呢"] * 2)
    [cluster] = cluster_questions(items)
    assert cluster.label == "低保怎么申请？"
    assert cluster.examples[0] == cluster.label
    assert cluster.count == 6
    assert cluster.members == ("低保怎么申请",)


def test_examples_are_at_most_five_distinct_texts() -> None:
    endings = ["", "？", "?", "。", "！", "！！", "??", "，谢谢"]
    items = asked([f"养老院怎么收费{e}" for e in endings for _ in range(2)])
    [cluster] = cluster_questions(items)
    assert cluster.count == 16
    assert len(cluster.examples) == MAX_EXAMPLES
    assert len(set(cluster.examples)) == MAX_EXAMPLES


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("护照怎么办", "老年卡怎么办"),
        ("低保在哪里申请", "养老院在哪里"),
        ("养老院多少钱", "轮椅多少钱"),
        ("老年卡怎么办理", "老年卡丢了怎么补"),
        ("低保怎么申请", "低保在哪申请"),
        ("结婚登记在哪里", "离婚登记在哪里"),
        ("结婚要什么材料", "离婚要什么材料"),
        ("80岁有什么补贴", "90岁有什么补贴"),
        ("低保", "医保"),
    ],
)
def test_different_questions_sharing_words_stay_apart(one: str, other: str) -> None:
    clusters = cluster_questions(asked([one, one, other]))
    assert [(c.label, c.count) for c in clusters] == [(one, 2), (other, 1)]
    assert similarity(question_key(one), question_key(other)) < SIMILARITY


def test_many_questions_ending_alike_are_not_merged() -> None:
    questions = [
        f"{topic}{ending}"
        for topic in ["护照", "老年卡", "低保", "养老院", "轮椅", "结婚证", "社区食堂", "殡仪馆"]
        for ending in ["怎么办", "在哪里", "多少钱"]
    ]
    clusters = cluster_questions(asked(questions * 2))
    assert len(clusters) == len(questions)
    assert all(c.count == 2 for c in clusters)


def test_traditional_full_width_spacing_and_numerals_merge() -> None:
    variants = [
        "80岁老人补贴怎么领",
        "８０歲老人補貼怎麼領？",
        "八十岁老人补贴怎么领",
        "80 岁 老 人 补 贴 怎 么 领",
        "请问，80岁老人补贴怎么领啊！",
        "我 想 问 一 下 80岁老人补贴怎么领",
    ]
    assert {question_key(v) for v in variants} == {"80岁老人补贴怎么领"}
    [cluster] = cluster_questions(asked(variants))
    assert cluster.count == len(variants)
    assert cluster.key == "80岁老人补贴怎么领"
    assert set(cluster.members) == {normalize(v) for v in variants}


def test_homophone_typos_and_small_insertions_merge() -> None:
    items = asked(
        ["低保怎么申请"] * 3
        + ["底保怎么申请", "低保要怎么申请", "低保怎么去申请呀", "低保怎么申请吗"]
        + ["结婚登记要带什么"] * 2
        + ["结昏登记要带什么", "结婚登记需要带什么"]
    )
    clusters = cluster_questions(items)
    assert [(c.key, c.count) for c in clusters] == [("低保怎么申请", 7), ("结婚登记要带什么", 4)]


def test_a_story_told_twice_with_a_word_changed_is_one_cluster() -> None:
    clusters = cluster_questions(
        asked(
            ["我妈腿脚不好，想在社区租个轮椅，要怎么弄", "我爸腿脚不好想在社区租个轮椅要怎么弄？"]
        )
    )
    assert len(clusters) == 1
    assert clusters[0].count == 2


def test_members_let_a_dismissed_cluster_be_recognised_later() -> None:
    [cluster] = cluster_questions(asked(["老年卡怎么办理", "老年卡怎么办理吗", "老年卡，怎么办理"]))
    assert cluster.members == ("老年卡怎么办理", "老年卡 怎么办理", "老年卡怎么办理吗")
    # The console hides later questions whose normalize(text) is a dismissed member.
    assert normalize("老年卡怎麼辦理？？") in cluster.members
    assert normalize("请问老年卡，怎么办理") in cluster.members


@pytest.mark.parametrize(
    "texts",
    [[], [""], ["   ", "\t\n"], ["？？？", "。。。", "!!"], ["😀😀", "🙏"], ["\x00", "\u200b"]],
)
def test_nothing_to_cluster_gives_no_clusters(texts: list[str]) -> None:
    assert cluster_questions(asked(texts)) == []


def test_empty_texts_are_skipped_among_others() -> None:
    [cluster] = cluster_questions(asked(["", "？", "轮椅哪里借", "  ", "轮椅哪里借？"]))
    assert cluster.count == 2


def test_largest_first_ties_most_recent_first_and_limit() -> None:
    items = (
        asked(["轮椅哪里借"] * 2, start=T0)
        + asked(["护照怎么办"] * 3, start=T0)
        + asked(["低保标准是多少"] * 2, start=T0 + timedelta(days=1))
        + asked(["社区食堂在哪里"], start=T0)
    )
    clusters = cluster_questions(items)
    assert [c.key for c in clusters] == [
        "护照怎么办",
        "低保标准是多少",
        "轮椅哪里借",
        "社区食堂在哪里",
    ]
    assert [c.key for c in cluster_questions(items, limit=2)] == ["护照怎么办", "低保标准是多少"]
    assert cluster_questions(items, limit=0) == []


def test_timezone_aware_datetimes_are_kept() -> None:
    items = [Asked("养老顾问在哪里", T0), Asked("养老顾问在哪里？", T0.astimezone(UTC))]
    [cluster] = cluster_questions(items)
    assert cluster.first_seen.utcoffset() is not None
    assert cluster.last_seen.utcoffset() is not None
    assert cluster.first_seen == cluster.last_seen == T0
    assert cluster.first_seen.tzinfo is SHANGHAI


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Asked("养老顾问在哪里", datetime(2026, 11, 2, 9, 0))


def test_similarity_must_be_in_range() -> None:
    with pytest.raises(ValueError):
        cluster_questions(asked(["低保"]), similarity=0)
    with pytest.raises(ValueError):
        cluster_questions(asked(["低保"]), similarity=101)


def test_a_stricter_similarity_merges_less() -> None:
    items = asked(
        ["老年卡怎么办理", "老年卡怎么办理", "老年卡怎么办", "底保怎么申请", "低保怎么申请"]
    )
    assert len(cluster_questions(items)) == 2
    strict = cluster_questions(items, similarity=100)
    # 100 still merges keys that differ only by homophones.
    assert sorted(c.count for c in strict) == [1, 2, 2]


def test_same_input_in_any_order_gives_the_same_clusters() -> None:
    texts = [
        "老年卡怎么办理",
        "老年卡怎么办",
        "老年卡丢了怎么补",
        "低保怎么申请",
        "底保怎么申请",
        "护照怎么办",
        "养老院多少钱一个月",
        "养老院一个月多少钱",
    ]
    rng = random.Random(7)
    items = [Asked(rng.choice(texts), T0 + timedelta(minutes=i)) for i in range(300)]
    expected = cluster_questions(items)
    for _ in range(3):
        rng.shuffle(items)
        assert cluster_questions(items) == expected


def test_display_text_drops_what_cannot_be_shown() -> None:
    assert display_text("  低保\x00怎么\ud800申请\n\n？ ") == "低保怎么申请 ？"


def test_normalize_survives_any_code_point() -> None:
    # Checked before relying on it: lone surrogates, NUL, private use, emoji, the top plane.
    for text in ["\ud800", "a\udfffb", "\x00", "\ue000", "😀" * 600, "\U0010ffff", "﷽" * 50]:
        assert isinstance(normalize(text), str)


any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
cjk_text = st.text(
    alphabet=st.sampled_from("老年卡怎么办理低保申请在哪里多少钱吗呢啊？! 　，養護照底结婚离"),
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.one_of(any_text, cjk_text), st.integers(0, 10**6), st.booleans()),
        max_size=40,
    )
)
def test_any_texts_never_raise_and_the_counts_add_up(rows: list[tuple[str, int, bool]]) -> None:
    items = [Asked(text, T0 + timedelta(seconds=s), unhelpful=u) for text, s, u in rows]
    clusters = cluster_questions(items, limit=10**6)
    kept = [item for item in items if question_key(item.text)]
    assert sum(c.count for c in clusters) == len(kept)
    assert sum(c.unhelpful for c in clusters) == sum(item.unhelpful for item in kept)
    members = [m for c in clusters for m in c.members]
    assert len(members) == len(set(members))
    assert set(members) == {normalize(item.text) for item in kept}
    assert {c.key for c in clusters} <= {question_key(item.text) for item in kept}
    for cluster in clusters:
        assert cluster.examples and cluster.examples[0] == cluster.label
        assert len(cluster.examples) <= MAX_EXAMPLES
        assert len(set(cluster.examples)) == len(cluster.examples)
        assert 0 <= cluster.unhelpful <= cluster.count
        assert cluster.first_seen <= cluster.last_seen
    assert [c.count for c in clusters] == sorted((c.count for c in clusters), reverse=True)
    assert cluster_questions(list(reversed(items)), limit=10**6) == clusters
