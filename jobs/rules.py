"""Who gets which reminder when: rules and residents as plain values in, reminders to queue
out. Pure: no database, no clock of its own, no Telegram; ``jobs.evaluate`` feeds it.

An occurrence is what makes a reminder once-only: a campaign's date, a fact's due date, an age,
a change notice. The outbox's unique key is (rule, occurrence, recipient).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from jobs import texts
from jobs.models import ReminderRule, RuleKind
from jobs.topics import SENSITIVE

# A campaign missed by a stopped scheduler still goes out this long after its time, not later.
CALENDAR_VALID = timedelta(days=3)
AGE_VALID = timedelta(days=90)
CHANGE_VALID = timedelta(days=7)
PRIORITY = {RuleKind.due: 0, RuleKind.age: 0, RuleKind.change: 1, RuleKind.calendar: 2}
# The placeholders a message may hold, and the kinds of rule that fill each.
PLACEHOLDERS = {
    "物品": (RuleKind.due,),
    "到期日": (RuleKind.due,),
    "天数": (RuleKind.due,),
    "年龄": (RuleKind.age,),
    "街镇": tuple(RuleKind),
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class RuleProblem(ValueError):
    """A rule that cannot be evaluated, said in staff's words."""


@dataclass(frozen=True)
class Rule:
    id: int
    kind: RuleKind
    topic: str
    message: str
    entry_id: str | None = None
    on_date: date | None = None
    cron: str | None = None
    send_at: int = 10 * 60
    days_before: int | None = None
    fact_kind: str | None = None
    age: int | None = None
    towns: frozenset[str] = frozenset()
    age_min: int | None = None
    age_max: int | None = None
    # A campaign's occurrences before the day it was approved are not sent (approved late,
    # resumed, edited: nothing from the past arrives in a heap).
    approved_at: datetime | None = None

    @classmethod
    def of(cls, row: ReminderRule) -> Rule:
        assert row.id is not None
        return cls(
            id=row.id,
            kind=RuleKind(row.kind),
            topic=row.topic,
            message=row.message,
            entry_id=row.entry_id,
            on_date=row.on_date,
            cron=row.cron,
            send_at=row.send_at,
            days_before=row.days_before,
            fact_kind=row.fact_kind,
            age=row.age,
            towns=frozenset(row.towns.split()),
            age_min=row.age_min,
            age_max=row.age_max,
            approved_at=row.approved_at,
        )

    @property
    def sensitive(self) -> bool:
        return self.topic in SENSITIVE


@dataclass(frozen=True)
class Fact:
    id: int
    kind: str
    due_on: date
    label: str


@dataclass(frozen=True)
class Copy:
    """A caregiver who receives copies of the resident's reminders."""

    link_id: int
    channel: str
    user_key: str
    label: str


@dataclass(frozen=True)
class Recipient:
    channel: str
    user_key: str
    topics: frozenset[str]
    sensitive_ok: bool = False
    town: str | None = None
    birth: tuple[int, int] | None = None  # (year, month)
    facts: tuple[Fact, ...] = ()
    copies: tuple[Copy, ...] = ()

    def age(self, today: date) -> int | None:
        if self.birth is None:
            return None
        year, month = self.birth
        return (today.year * 12 + today.month - (year * 12 + month)) // 12


@dataclass(frozen=True)
class Notice:
    id: int
    ref: str
    at: datetime
    town: str | None = None


@dataclass(frozen=True)
class Occurrence:
    key: str
    at: datetime
    expires_at: datetime
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Due:
    """One reminder to queue."""

    rule_id: int
    occurrence: str
    channel: str
    recipient_key: str
    topic: str
    sensitive: bool
    text: str
    entry_id: str | None
    priority: int
    not_before: datetime
    expires_at: datetime
    for_key: str | None = None
    for_label: str | None = None
    caregiver_link_id: int | None = None


def placeholders(message: str) -> list[str]:
    return _PLACEHOLDER.findall(message)


def check(rule: Rule) -> None:
    """Raise ``RuleProblem`` for a rule that could never be evaluated as staff meant it."""
    for name in placeholders(rule.message):
        if name not in PLACEHOLDERS:
            known = "、".join("{" + p + "}" for p in PLACEHOLDERS)
            raise RuleProblem(f"消息里的 {{{name}}} 不认识；可以用的有：{known}")
        if rule.kind not in PLACEHOLDERS[name]:
            raise RuleProblem(f"{{{name}}} 只能用在“个人到期”或“年龄节点”的规则里")
    if rule.kind is RuleKind.calendar:
        if (rule.on_date is None) == (rule.cron is None):
            raise RuleProblem("日历活动要填一个日期，或一个 cron 表达式（二选一）")
        if rule.cron is not None:
            try:
                cron_trigger(rule.cron)
            except ValueError as exc:
                raise RuleProblem(f"cron 表达式有误：{exc}") from exc
            day, _, weekday = rule.cron.split()[2:5]
            if day != "*" and weekday != "*":
                # crontab means either, APScheduler both: say one.
                raise RuleProblem("cron 表达式里“日”和“星期”只能限定一个，另一个写 *")
    if rule.kind is RuleKind.due and (rule.days_before is None or rule.fact_kind is None):
        raise RuleProblem("个人到期的规则要选到期类别，并填提前几天提醒")
    if rule.kind is RuleKind.age and rule.age is None:
        raise RuleProblem("年龄节点的规则要填年龄")
    if rule.kind is RuleKind.change and rule.entry_id is None:
        raise RuleProblem("内容变化的规则要选一个条目")
    if not 0 <= rule.send_at < 24 * 60:
        raise RuleProblem("发送时间要在 00:00 到 23:59 之间")


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(expression: str, tz: ZoneInfo | None = None) -> CronTrigger:
    """A standard five-field crontab. APScheduler 3 counts weekdays from Monday = 0, crontab
    from Sunday = 0: the weekday numbers are turned into names first."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError("要 5 段：分 时 日 月 星期")
    weekday = fields[4]
    if re.fullmatch(r"(\*|[0-7](-[0-7])?)(/[1-7])?(,(\*|[0-7](-[0-7])?)(/[1-7])?)*", weekday):
        days: list[str] = []
        for part in weekday.split(","):
            span, _, step = part.partition("/")
            first, _, last = ("0-6" if span == "*" else span).partition("-")
            for number in range(int(first), int(last or first) + 1, int(step or 1)):
                if _CRON_DAYS[number] not in days:
                    days.append(_CRON_DAYS[number])
        weekday = ",".join(days)
    minute, hour, day, month = fields[:4]
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=tz
    )


def fill(message: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), message)


def days_left(text: str, expires_at: datetime, now: datetime, tz: ZoneInfo) -> str:
    """Fill {天数} as the reminder goes: a due-date reminder expires when its day ends."""
    if "{天数}" not in text:
        return text
    due_on = (expires_at.astimezone(tz) - timedelta(days=1)).date()
    return text.replace("{天数}", str(max((due_on - now.astimezone(tz).date()).days, 0)))


def _at(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)


def campaign_occurrences(
    rule: Rule, now: datetime, tz: ZoneInfo, notices: Sequence[Notice] = ()
) -> list[Occurrence]:
    """The occurrences of a calendar or change rule due at ``now`` (the same for everyone)."""
    now = now.astimezone(tz)
    found: list[Occurrence] = []
    if rule.kind is RuleKind.calendar and rule.on_date is not None:
        at = _at(rule.on_date, rule.send_at, tz)
        if at <= now < at + CALENDAR_VALID:
            found.append(Occurrence(rule.on_date.isoformat(), at, at + CALENDAR_VALID))
    elif rule.kind is RuleKind.calendar and rule.cron is not None:
        # Once a day at most (the occurrence is the day), and only the latest firing: a
        # scheduler that was down sends the last one missed, not each.
        trigger = cron_trigger(rule.cron, tz)
        at = trigger.get_next_fire_time(None, now - CALENDAR_VALID)
        latest = None
        while at is not None and at <= now:
            latest = at
            at = trigger.get_next_fire_time(at, at + timedelta(minutes=1))
        if latest is not None:
            found.append(Occurrence(f"{latest:%Y-%m-%d}", latest, latest + CALENDAR_VALID))
    elif rule.kind is RuleKind.change:
        for notice in notices:
            if notice.ref == rule.entry_id and notice.at <= now < notice.at + CHANGE_VALID:
                values = {"街镇": notice.town} if notice.town else {}
                found.append(
                    Occurrence(f"notice-{notice.id}", notice.at, notice.at + CHANGE_VALID, values)
                )
    if rule.approved_at is not None:
        approved = rule.approved_at.astimezone(tz).date()
        found = [o for o in found if o.at.astimezone(tz).date() >= approved]
    return found


def personal_occurrences(
    rule: Rule, recipient: Recipient, now: datetime, tz: ZoneInfo
) -> list[Occurrence]:
    """The occurrences of a due-date or age rule for one resident."""
    now = now.astimezone(tz)
    found: list[Occurrence] = []
    if rule.kind is RuleKind.due and rule.days_before is not None:
        for fact in recipient.facts:
            if fact.kind != rule.fact_kind:
                continue
            at = _at(fact.due_on - timedelta(days=rule.days_before), rule.send_at, tz)
            ends = _at(fact.due_on + timedelta(days=1), 0, tz)
            if at <= now < ends:
                # {天数} is left for the sender (``days_left``): a reminder held back by the
                # quiet hours or the cap still tells the truth when it goes.
                values = {
                    "物品": fact.label,
                    "到期日": f"{fact.due_on.month}月{fact.due_on.day}日",
                }
                found.append(Occurrence(f"fact-{fact.id}-{fact.due_on}", at, ends, values))
    elif rule.kind is RuleKind.age and rule.age is not None and recipient.birth is not None:
        year, month = recipient.birth
        at = _at(date(year + rule.age, month, 1), rule.send_at, tz)
        if at <= now < at + AGE_VALID:
            found.append(Occurrence(f"age-{rule.age}", at, at + AGE_VALID, {"年龄": str(rule.age)}))
    return found


def in_audience(rule: Rule, recipient: Recipient, today: date, town: str | None = None) -> bool:
    if rule.topic not in recipient.topics:
        return False
    if rule.sensitive and not recipient.sensitive_ok:
        return False
    towns = rule.towns
    if town:
        # A notice about one town reaches that town only, and only if the rule covers it.
        if towns and town not in towns:
            return False
        towns = frozenset({town})
    if towns and recipient.town not in towns:
        return False
    if rule.age_min is not None or rule.age_max is not None:
        age = recipient.age(today)
        if age is None:
            return False
        if rule.age_min is not None and age < rule.age_min:
            return False
        if rule.age_max is not None and age > rule.age_max:
            return False
    return True


def _reminders(
    rule: Rule, recipient: Recipient, occurrence: Occurrence, texts_: dict[Any, str]
) -> Iterator[Due]:
    values = {"街镇": recipient.town or "", **occurrence.values}
    # Most residents of a campaign read the same words: filled once per distinct values.
    memo = (rule.id, tuple(values.items()))
    text = texts_.get(memo)
    if text is None:
        text = texts_[memo] = fill(rule.message, values)
    due = Due(
        rule_id=rule.id,
        occurrence=occurrence.key,
        channel=recipient.channel,
        recipient_key=recipient.user_key,
        topic=rule.topic,
        sensitive=rule.sensitive,
        text=text,
        entry_id=rule.entry_id,
        priority=PRIORITY[rule.kind],
        not_before=occurrence.at,
        expires_at=occurrence.expires_at,
    )
    yield due
    if rule.sensitive:
        # What reveals hardship is not copied to family members (PIPL art. 29).
        return
    for copy in recipient.copies:
        yield Due(
            rule_id=rule.id,
            occurrence=occurrence.key,
            channel=copy.channel,
            recipient_key=copy.user_key,
            topic=rule.topic,
            sensitive=False,
            text=texts.caregiver_copy(copy.label, text),
            entry_id=rule.entry_id,
            priority=due.priority,
            not_before=occurrence.at,
            expires_at=occurrence.expires_at,
            for_key=recipient.user_key,
            for_label=copy.label,
            caregiver_link_id=copy.link_id,
        )


def evaluate(
    rules: Iterable[Rule],
    recipients: Iterable[Recipient],
    now: datetime,
    tz: ZoneInfo,
    notices: Sequence[Notice] = (),
) -> Iterator[Due]:
    """Every reminder due at ``now`` by ``rules`` for ``recipients``."""
    by_topic: dict[str, list[Recipient]] = defaultdict(list)
    for recipient in recipients:
        for topic in recipient.topics:
            by_topic[topic].append(recipient)
    today = now.astimezone(tz).date()
    filled: dict[Any, str] = {}
    for rule in rules:
        audience = by_topic.get(rule.topic, ())
        if rule.kind in (RuleKind.calendar, RuleKind.change):
            for occurrence in campaign_occurrences(rule, now, tz, notices):
                town = occurrence.values.get("街镇")
                for recipient in audience:
                    if in_audience(rule, recipient, today, town):
                        yield from _reminders(rule, recipient, occurrence, filled)
            continue
        for recipient in audience:
            if not in_audience(rule, recipient, today):
                continue
            for occurrence in personal_occurrences(rule, recipient, now, tz):
                yield from _reminders(rule, recipient, occurrence, filled)
