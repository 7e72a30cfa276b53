"""Staff keep the reminder rules: draft → submit → approve (by another person) → active, and
pause, resume, archive. What a rule would send, for its page, is ``jobs.rule_preview``'s.

Framework-free like ``knowledge.editing``: keyword-only functions over an ``AsyncSession``; the
caller owns the transaction and writes each returned ``Change`` to its audit log in it. A rule
sends only while active. Editing an active rule makes it a draft again (its next ``version``).
Editing, pausing or archiving withdraws what the rule queued and has not begun to send:
residents never get words that no second person approved, nor a rule's words while it is
stopped; once it is active again, the next tick queues those reminders anew (see ``_withdraw``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from jobs.codes import FACT_TOPICS
from jobs.evaluate import run_key
from jobs.models import (
    ChangeNotice,
    FactKind,
    OutboxRow,
    ReminderRule,
    RuleKind,
    RuleRun,
    RuleState,
)
from jobs.outbox import TAKEABLE
from jobs.rules import Rule, RuleProblem, check
from jobs.topics import BY_CODE
from knowledge.models import KbEntry

MAX_NAME = 60
MAX_MESSAGE = 500
MAX_AGE = 120
MAX_DAYS_BEFORE = 365
MAX_CRON = 60  # the column's length
# Where each of ``jobs.rules.check``'s complaints belongs on the form (first match wins).
_PROBLEM_FIELDS = (
    ("消息里", "message"),
    ("只能用在", "message"),
    ("日历活动", "on_date"),
    ("cron", "cron"),
    ("个人到期", "days_before"),
    ("年龄节点", "age"),
    ("条目", "entry_id"),
    ("发送时间", "send_at"),
)


class RuleError(ValueError):
    """What cannot be done, in staff's words; ``field`` names the form field it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RuleValues:
    """What staff fill in on a rule's form."""

    name: str
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
    towns: tuple[str, ...] = ()
    age_min: int | None = None
    age_max: int | None = None

    def kept(self) -> RuleValues:
        """Only what this kind of rule reads: a rule says what it does, nothing left over from
        another kind."""
        return dataclasses.replace(
            self,
            name=self.name.strip(),
            message=self.message.strip(),
            entry_id=(self.entry_id or "").strip() or None,
            cron=(" ".join((self.cron or "").split()) or None)
            if self.kind is RuleKind.calendar
            else None,
            on_date=self.on_date if self.kind is RuleKind.calendar else None,
            days_before=self.days_before if self.kind is RuleKind.due else None,
            fact_kind=self.fact_kind if self.kind is RuleKind.due else None,
            age=self.age if self.kind is RuleKind.age else None,
            towns=tuple(sorted(set(self.towns))),
        )


@dataclass(frozen=True)
class Change:
    """What an audit row records of a change to a rule."""

    action: str
    rule_id: int
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    note: str | None = None
    # How many queued reminders were withdrawn (staff are told; they go again once active).
    withdrawn: int = 0


_FIELDS = tuple(f.name for f in dataclasses.fields(RuleValues))


def values_of(row: ReminderRule) -> RuleValues:
    kept = {name: getattr(row, name) for name in _FIELDS}
    return RuleValues(**{**kept, "kind": RuleKind(row.kind), "towns": tuple(row.towns.split())})


def snapshot(row: ReminderRule) -> dict[str, Any]:
    """A rule as the audit log keeps it (JSON)."""
    values = {name: getattr(row, name) for name in _FIELDS}
    values["on_date"] = row.on_date.isoformat() if row.on_date else None
    return {**values, "towns": row.towns.split(), "state": row.state, "version": row.version}


def as_rule(values: RuleValues, rule_id: int = 0) -> Rule:
    kept = {name: getattr(values, name) for name in _FIELDS if name != "name"}
    return Rule(id=rule_id, **{**kept, "towns": frozenset(values.towns)})


def _in_range(value: int | None, low: int, high: int, field: str, message: str) -> None:
    if value is not None and not low <= value <= high:
        raise RuleError(message, field)


async def validate(session: AsyncSession, values: RuleValues) -> RuleValues:
    """The values as they will be kept, or ``RuleError`` for the first thing wrong."""
    values = values.kept()
    if not values.name:
        raise RuleError("请给规则起个名字，如“2026 年冬至祭扫预约”。", "name")
    if len(values.name) > MAX_NAME:
        raise RuleError(f"名字不要超过 {MAX_NAME} 个字。", "name")
    if values.cron is not None and len(values.cron) > MAX_CRON:
        raise RuleError(f"cron 表达式不要超过 {MAX_CRON} 个字符。", "cron")
    if values.topic not in BY_CODE:
        raise RuleError("请选择提醒主题。", "topic")
    if not values.message:
        raise RuleError("请写居民会收到的提醒内容。", "message")
    if len(values.message) > MAX_MESSAGE:
        raise RuleError(f"提醒内容不要超过 {MAX_MESSAGE} 个字：写清要点，详情放在知识库条目里。")
    if values.kind is RuleKind.due and values.fact_kind is not None:
        if values.fact_kind not in FACT_TOPICS:
            raise RuleError("请选择到期类别。", "fact_kind")
        wanted = FACT_TOPICS[FactKind(values.fact_kind)]
        if values.topic != wanted:
            raise RuleError(
                f"这类到期提醒的主题要选“{BY_CODE[wanted].label}”：居民绑定到期日时订阅的是它。",
                "topic",
            )
    _in_range(values.days_before, 0, MAX_DAYS_BEFORE, "days_before", "提前天数要在 0 到 365 之间。")
    _in_range(values.age, 1, MAX_AGE, "age", "年龄要在 1 到 120 之间。")
    _in_range(values.age_min, 0, MAX_AGE, "age_min", "年龄段要在 0 到 120 岁之间。")
    _in_range(values.age_max, 0, MAX_AGE, "age_max", "年龄段要在 0 到 120 岁之间。")
    if (
        values.age_min is not None
        and values.age_max is not None
        and values.age_min > values.age_max
    ):
        raise RuleError("年龄段的起始岁数不能大于结束岁数。", "age_min")
    try:
        check(as_rule(values))
    except RuleProblem as problem:
        text = str(problem)
        field = next((f for words, f in _PROBLEM_FIELDS if words in text), None)
        raise RuleError(text, field) from None
    if values.entry_id is not None and await session.get(KbEntry, values.entry_id) is None:
        raise RuleError(f"知识库里没有编号为 {values.entry_id} 的条目。", "entry_id")
    return values


async def _rule(session: AsyncSession, rule_id: int) -> ReminderRule:
    row = await session.get(ReminderRule, rule_id)
    if row is None:
        raise RuleError("没有这条规则。")
    return row


async def _withdraw(session: AsyncSession, rule_id: int) -> list[str]:
    """Delete what the rule queued and no sender has taken yet (pending, or waiting to be
    retried); the occurrences of the rows deleted. Rows being sent or sent are kept: who got a
    reminder keeps its sent row, and the outbox's unique key sends nobody an occurrence twice."""
    # RETURNING: what is forgotten below is exactly what was deleted, even with a sender at work.
    deleted = await session.execute(
        delete(OutboxRow)
        .where(col(OutboxRow.rule_id) == rule_id, col(OutboxRow.state).in_(TAKEABLE))
        .returning(col(OutboxRow.occurrence))
    )
    return list(deleted.scalars())


async def _forget_runs(
    session: AsyncSession, rule: Rule, occurrences: list[str], now: datetime, tz: ZoneInfo
) -> None:
    """Forget that the rule ran for what was withdrawn, so once it is active again (approved,
    resumed) the next tick evaluates it anew and queues those reminders with the words then
    approved. A campaign ran per occurrence; a due-date or age rule per day, and only today's
    run is ever looked at again."""
    if not occurrences:
        return
    runs = {run_key(rule, occurrence, now, tz) for occurrence in occurrences}
    await session.execute(
        delete(RuleRun).where(col(RuleRun.rule_id) == rule.id, col(RuleRun.run_key).in_(runs))
    )


def _withdrawn_note(withdrawn: int, then: str) -> str | None:
    return f"已排队未发出的 {withdrawn} 条提醒已撤回{then}" if withdrawn else None


def _columns(values: RuleValues) -> dict[str, Any]:
    columns = {name: getattr(values, name) for name in _FIELDS}
    return {**columns, "kind": values.kind.value, "towns": " ".join(values.towns)}


async def save(
    session: AsyncSession,
    *,
    rule_id: int | None,
    values: RuleValues,
    actor: str,
    now: datetime,
    tz: ZoneInfo,
) -> tuple[ReminderRule, Change | None]:
    """A new rule's draft (``rule_id`` None), or an edit. An edit of a rule under review, active
    or paused makes it a draft again; of an active or paused one, its next version. What it
    queued and has not sent is withdrawn, to be queued again with the new words once approved
    (``tz``: the zone its days are counted in). Saving what is already there changes nothing
    (``None``: no audit row)."""
    values = await validate(session, values)
    if rule_id is None:
        row = ReminderRule(
            **_columns(values),
            state=RuleState.draft,
            created_by=actor,
            updated_by=actor,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row, Change("reminder_rule_saved", row.id, after=snapshot(row))
    row = await _rule(session, rule_id)
    assert row.id is not None
    if row.state == RuleState.archived:
        raise RuleError("已归档的规则不能再修改：请新建一条。")
    if values_of(row).kept() == values:
        return row, None
    before = snapshot(row)
    # Even a draft's: a row a sender held at the last edit may since have gone back to retry.
    withdrawn = await _withdraw(session, row.id)
    # The runs are the rule's as it was: its kind may change now.
    await _forget_runs(session, Rule.of(row), withdrawn, now, tz)
    for name, value in _columns(values).items():
        setattr(row, name, value)
    if row.state in (RuleState.active, RuleState.paused):
        row.version += 1
    row.state, row.submitted_by = RuleState.draft, None
    row.approved_by, row.approved_at = None, None
    row.updated_by, row.updated_at = actor, now
    note = _withdrawn_note(len(withdrawn), "，批准后按新内容重新排队")
    return row, Change(
        "reminder_rule_saved", row.id, before, snapshot(row), note, withdrawn=len(withdrawn)
    )


def _moved(
    row: ReminderRule, action: str, before: str, note: str | None = None, withdrawn: int = 0
) -> Change:
    assert row.id is not None
    return Change(action, row.id, {"state": before}, {"state": row.state}, note, withdrawn)


async def submit(session: AsyncSession, *, rule_id: int, actor: str, now: datetime) -> Change:
    row = await _rule(session, rule_id)
    if row.state != RuleState.draft:
        raise RuleError("只有草稿才能提交审核。")
    await validate(session, values_of(row))
    row.state, row.submitted_by, row.updated_at = RuleState.in_review, actor, now
    return _moved(row, "reminder_rule_submitted", RuleState.draft)


async def approve(session: AsyncSession, *, rule_id: int, actor: str, now: datetime) -> Change:
    """Four eyes: the approver is not the rule's last editor. From now on it sends."""
    row = await _rule(session, rule_id)
    if row.state != RuleState.in_review:
        raise RuleError("只有已提交审核的规则才能批准。")
    if row.updated_by == actor:
        raise RuleError("不能批准自己最后修改的规则：请另一位同事审核。")
    # The entry it points to may have gone since it was saved.
    await validate(session, values_of(row))
    row.state, row.approved_by, row.approved_at = RuleState.active, actor, now
    row.updated_at = now
    return _moved(row, "reminder_rule_approved", RuleState.in_review)


async def send_back(
    session: AsyncSession, *, rule_id: int, actor: str, comment: str, now: datetime
) -> Change:
    row = await _rule(session, rule_id)
    if row.state != RuleState.in_review:
        raise RuleError("这条规则不在审核中。")
    comment = comment.strip()[:2000]
    if not comment:
        raise RuleError("退回时请写明原因，方便同事修改。")
    row.state, row.submitted_by, row.updated_at = RuleState.draft, None, now
    return _moved(row, "reminder_rule_sent_back", RuleState.in_review, comment)


async def pause(
    session: AsyncSession, *, rule_id: int, actor: str, now: datetime, tz: ZoneInfo
) -> Change:
    """It stops sending: what it queued and has not sent is withdrawn, to be queued again on
    resuming (``tz``: the zone its days are counted in)."""
    row = await _rule(session, rule_id)
    if row.state != RuleState.active:
        raise RuleError("只有生效中的规则才能暂停。")
    assert row.id is not None
    row.state, row.updated_at = RuleState.paused, now
    withdrawn = await _withdraw(session, row.id)
    await _forget_runs(session, Rule.of(row), withdrawn, now, tz)
    note = _withdrawn_note(len(withdrawn), "，恢复后重新排队")
    return _moved(row, "reminder_rule_paused", RuleState.active, note, len(withdrawn))


async def resume(session: AsyncSession, *, rule_id: int, actor: str, now: datetime) -> Change:
    """What was approved goes on: resuming changes no word, so it needs no second review. What
    pausing withdrew is queued again at the next tick."""
    row = await _rule(session, rule_id)
    if row.state != RuleState.paused:
        raise RuleError("只有已暂停的规则才能恢复。")
    row.state, row.updated_at = RuleState.active, now
    return _moved(row, "reminder_rule_resumed", RuleState.paused)


async def archive(session: AsyncSession, *, rule_id: int, actor: str, now: datetime) -> Change:
    """It never sends again: what it queued and has not sent is withdrawn for good."""
    row = await _rule(session, rule_id)
    if row.state == RuleState.archived:
        raise RuleError("这条规则已经归档了。")
    assert row.id is not None
    before = row.state
    row.state, row.updated_at = RuleState.archived, now
    withdrawn = len(await _withdraw(session, row.id))
    note = _withdrawn_note(withdrawn, "，不再发送")
    return _moved(row, "reminder_rule_archived", before, note, withdrawn)


async def record_change_notice(
    session: AsyncSession, *, ref: str, version: int, by: str, now: datetime
) -> ChangeNotice:
    """An entry was republished with 通知订阅者 ticked: change rules pointing at it send."""
    notice = ChangeNotice(subject="entry", ref=ref, version=version, created_by=by, created_at=now)
    session.add(notice)
    return notice
