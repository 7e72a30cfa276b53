"""Rules as plain values: who gets what when, with a fixed clock and no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobs.models import RuleKind
from jobs.rules import (
    Copy,
    Fact,
    Notice,
    Recipient,
    Rule,
    RuleProblem,
    check,
    cron_trigger,
    days_left,
    evaluate,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 21, 10, 5, tzinfo=TZ)


def resident(key: str, *topics: str, **more: object) -> Recipient:
    return Recipient(channel="telegram", user_key=key, topics=frozenset(topics), **more)  # type: ignore[arg-type]


def test_a_dated_campaign_reaches_subscribers_of_its_topic_in_its_towns() -> None:
    rule = Rule(
        id=1,
        kind=RuleKind.calendar,
        topic="memorial",
        message="冬至祭扫请提前预约。{街镇}",
        on_date=date(2026, 12, 21),
        towns=frozenset({"九亭镇"}),
    )
    people = [
        resident("a", "memorial", town="九亭镇"),
        resident("b", "memorial", town="泗泾镇"),
        resident("c", "meals", town="九亭镇"),
    ]
    due = list(evaluate([rule], people, NOW, TZ))
    assert [(d.recipient_key, d.occurrence, d.text) for d in due] == [
        ("a", "2026-12-21", "冬至祭扫请提前预约。九亭镇")
    ]
    # Before its time nothing; three days after, nothing either.
    assert not list(evaluate([rule], people, NOW.replace(hour=9), TZ))
    assert not list(evaluate([rule], people, NOW + timedelta(days=3), TZ))


def test_a_cron_campaign_has_one_occurrence_per_firing() -> None:
    rule = Rule(id=2, kind=RuleKind.calendar, topic="meals", message="m", cron="0 10 * * 1")
    monday = datetime(2026, 12, 21, 10, 30, tzinfo=TZ)  # a Monday
    keys = {d.occurrence for d in evaluate([rule], [resident("a", "meals")], monday, TZ)}
    # This Monday's, and none of last week's (more than three days ago).
    assert keys == {"2026-12-21"}


def test_a_daily_crontab_sends_the_last_firing_missed_only_and_none_before_approval() -> None:
    daily = Rule(id=2, kind=RuleKind.calendar, topic="meals", message="m", cron="0 10 * * *")
    person = [resident("a", "meals")]
    # Down for two days: one reminder, today's, not three.
    assert [d.occurrence for d in evaluate([daily], person, NOW, TZ)] == ["2026-12-21"]
    # Approved this afternoon: today's still goes; approved tomorrow: nothing of today.
    approved = replace(daily, approved_at=NOW + timedelta(hours=3))
    assert [d.occurrence for d in evaluate([approved], person, NOW, TZ)] == ["2026-12-21"]
    later = replace(daily, approved_at=NOW + timedelta(days=1))
    assert list(evaluate([later], person, NOW, TZ)) == []
    dated = Rule(3, RuleKind.calendar, "meals", "m", on_date=date(2026, 12, 20), approved_at=NOW)
    assert list(evaluate([dated], person, NOW, TZ)) == []


@pytest.mark.parametrize(
    ("weekday", "fires"),
    [
        ("*/2", {"sun", "tue", "thu", "sat"}),
        ("1-5/2", {"mon", "wed", "fri"}),
        ("0,6", {"sun", "sat"}),
    ],
)
def test_crontab_weekdays_count_from_sunday(weekday: str, fires: set[str]) -> None:
    trigger = cron_trigger(f"0 10 * * {weekday}", TZ)
    days, at = set(), datetime(2026, 12, 20, tzinfo=TZ)
    for _ in range(7):
        at = trigger.get_next_fire_time(None, at + timedelta(minutes=1))
        days.add(f"{at:%a}".lower())
    assert days == fires


def test_days_left_are_counted_when_the_reminder_goes() -> None:
    text = "还有{天数}天"
    ends = datetime(2026, 12, 25, tzinfo=TZ)  # due on the 24th
    assert days_left(text, ends, NOW, TZ) == "还有3天"
    assert days_left(text, ends, NOW + timedelta(days=2), TZ) == "还有1天"


def test_a_notice_about_one_town_reaches_that_town_only_within_the_rule() -> None:
    rule = Rule(
        id=9,
        kind=RuleKind.change,
        topic="meals",
        message="m",
        entry_id="x",
        towns=frozenset({"九亭镇"}),
    )
    people = [resident("a", "meals", town="九亭镇"), resident("b", "meals", town="泗泾镇")]
    about_sijing = [Notice(1, "x", NOW, town="泗泾镇")]
    assert list(evaluate([rule], people, NOW, TZ, about_sijing)) == []
    about_jiuting = [Notice(2, "x", NOW, town="九亭镇")]
    assert [d.recipient_key for d in evaluate([rule], people, NOW, TZ, about_jiuting)] == ["a"]


def test_a_due_date_is_reminded_days_before_and_until_the_day() -> None:
    rule = Rule(
        id=3,
        kind=RuleKind.due,
        topic="rental",
        message="您租的{物品}将在{到期日}到期，还有{天数}天。",
        days_before=3,
        fact_kind="rental_due",
    )
    wheelchair = Fact(7, "rental_due", date(2026, 12, 24), "轮椅")
    person = resident("a", "rental", facts=(wheelchair,))
    assert not list(evaluate([rule], [person], NOW - timedelta(days=1), TZ))
    (due,) = evaluate([rule], [person], NOW, TZ)
    assert due.text == "您租的轮椅将在12月24日到期，还有{天数}天。"
    assert due.occurrence == "fact-7-2026-12-24"
    assert due.expires_at == datetime(2026, 12, 25, tzinfo=TZ)
    assert not list(evaluate([rule], [person], datetime(2026, 12, 25, 1, tzinfo=TZ), TZ))


def test_an_age_milestone_fires_in_the_month_it_is_reached_once() -> None:
    rule = Rule(id=4, kind=RuleKind.age, topic="allowance", message="您满{年龄}岁了", age=65)
    turning = resident("a", "allowance", birth=(1961, 12))
    older = resident("b", "allowance", birth=(1955, 3))
    unknown = resident("c", "allowance")
    due = list(evaluate([rule], [turning, older, unknown], NOW, TZ))
    assert [(d.recipient_key, d.occurrence, d.text) for d in due] == [("a", "age-65", "您满65岁了")]


def test_an_age_band_needs_a_birth_month() -> None:
    rule = Rule(
        id=5,
        kind=RuleKind.calendar,
        topic="elderly",
        message="重阳",
        on_date=NOW.date(),
        age_min=80,
    )
    people = [
        resident("old", "elderly", birth=(1940, 1)),
        resident("young", "elderly", birth=(1970, 1)),
        resident("unknown", "elderly"),
    ]
    assert [d.recipient_key for d in evaluate([rule], people, NOW, TZ)] == ["old"]


def test_a_change_notice_reaches_subscribers_of_the_rule_pointing_at_the_entry() -> None:
    rule = Rule(id=6, kind=RuleKind.change, topic="policy", message="政策有更新", entry_id="x")
    notices = [Notice(9, "x", NOW - timedelta(hours=1)), Notice(10, "y", NOW)]
    due = list(evaluate([rule], [resident("a", "policy")], NOW, TZ, notices))
    assert [d.occurrence for d in due] == ["notice-9"]


def test_sensitive_topics_need_their_own_consent_and_are_not_copied_to_family() -> None:
    rule = Rule(id=7, kind=RuleKind.calendar, topic="review", message="复核", on_date=NOW.date())
    copy = Copy(1, "telegram", "daughter", "妈妈")
    agreed = resident("a", "review", sensitive_ok=True, copies=(copy,))
    not_agreed = resident("b", "review")
    due = list(evaluate([rule], [agreed, not_agreed], NOW, TZ))
    assert [(d.recipient_key, d.sensitive) for d in due] == [("a", True)]


def test_a_caregiver_copy_says_whose_reminder_it_is() -> None:
    rule = Rule(
        id=8, kind=RuleKind.calendar, topic="meals", message="助餐点暂停", on_date=NOW.date()
    )
    person = resident("a", "meals", copies=(Copy(3, "telegram", "son", "王阿姨"),))
    own, copy = evaluate([rule], [person], NOW, TZ)
    assert (own.recipient_key, own.for_key) == ("a", None)
    assert (copy.recipient_key, copy.for_key, copy.caregiver_link_id) == ("son", "a", 3)
    assert copy.text == "【王阿姨的提醒 · 家人副本】\n助餐点暂停"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (Rule(1, RuleKind.calendar, "meals", "{名字}", on_date=date(2027, 1, 1)), "不认识"),
        (Rule(1, RuleKind.calendar, "meals", "{物品}", on_date=date(2027, 1, 1)), "只能用在"),
        (Rule(1, RuleKind.calendar, "meals", "m"), "二选一"),
        (Rule(1, RuleKind.calendar, "meals", "m", cron="99 * * * *"), "cron"),
        (Rule(1, RuleKind.calendar, "meals", "m", cron="0 10 1 * 1"), "只能限定一个"),
        (Rule(1, RuleKind.due, "rental", "m"), "提前几天"),
        (Rule(1, RuleKind.age, "allowance", "m"), "年龄"),
        (Rule(1, RuleKind.change, "policy", "m"), "条目"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_in_staffs_words(rule: Rule, problem: str) -> None:
    with pytest.raises(RuleProblem, match=problem):
        check(rule)
