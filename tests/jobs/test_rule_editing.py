"""Keeping reminder rules as data functions: the review flow, versions, what an edit or a pause
does to what was queued, and the preview's counts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jobs import preferences, rule_editing
from jobs.models import (
    CaregiverLink,
    CareState,
    ChangeNotice,
    OutboxRow,
    OutboxState,
    ReminderFact,
    ReminderRule,
    RuleKind,
    RuleState,
)
from jobs.rule_editing import RuleError, RuleValues
from jobs.rules import Rule
from tests.jobs.conftest import TZ

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
CAMPAIGN = RuleValues(
    name="冬至祭扫",
    kind=RuleKind.calendar,
    topic="memorial",
    message="{街镇}的居民：冬至祭扫请提前预约。",
    on_date=date(2026, 12, 18),
    # Left over from another kind: not kept.
    days_before=3,
    age=65,
)

Sessions = async_sessionmaker[AsyncSession]


async def active_rule(sessions: Sessions) -> int:
    async with sessions() as session, session.begin():
        row, _ = await rule_editing.save(
            session, rule_id=None, values=CAMPAIGN, actor="小王", now=NOW
        )
        assert row.id is not None
        await rule_editing.submit(session, rule_id=row.id, actor="小王", now=NOW)
        await rule_editing.approve(session, rule_id=row.id, actor="小李", now=NOW)
        return row.id


def queued(rule_id: int, key: str) -> OutboxRow:
    return OutboxRow(
        rule_id=rule_id,
        occurrence="2026-12-18",
        channel="telegram",
        recipient_key=key,
        topic="memorial",
        text="…",
        not_before=NOW,
        expires_at=NOW + timedelta(days=3),
    )


async def test_a_new_rule_keeps_only_what_its_kind_reads(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        row, change = await rule_editing.save(
            session, rule_id=None, values=CAMPAIGN, actor="小王", now=NOW
        )
    assert change is not None and change.action == "reminder_rule_saved"
    assert (row.state, row.version, row.days_before, row.age) == (RuleState.draft, 1, None, None)
    assert change.after is not None and change.after["on_date"] == "2026-12-18"


async def test_the_last_editor_cannot_approve_and_a_colleague_can(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        row, _ = await rule_editing.save(
            session, rule_id=None, values=CAMPAIGN, actor="小王", now=NOW
        )
        assert row.id is not None
        with pytest.raises(RuleError, match="只有已提交审核"):
            await rule_editing.approve(session, rule_id=row.id, actor="小李", now=NOW)
        await rule_editing.submit(session, rule_id=row.id, actor="小王", now=NOW)
        with pytest.raises(RuleError, match="不能批准自己最后修改的规则"):
            await rule_editing.approve(session, rule_id=row.id, actor="小王", now=NOW)
        change = await rule_editing.approve(session, rule_id=row.id, actor="小李", now=NOW)
    assert (change.before, change.after) == ({"state": "in_review"}, {"state": "active"})
    assert (row.state, row.approved_by, row.approved_at) == (RuleState.active, "小李", NOW)


async def test_editing_an_active_rule_stops_it_until_approved_again(sessions: Sessions) -> None:
    rule_id = await active_rule(sessions)
    async with sessions() as session, session.begin():
        session.add_all([queued(rule_id, "a" * 32), queued(rule_id, "b" * 32)])
    changed = RuleValues(**{**CAMPAIGN.__dict__, "message": "冬至祭扫请提前三天预约。"})
    async with sessions() as session, session.begin():
        row, change = await rule_editing.save(
            session, rule_id=rule_id, values=changed, actor="小李", now=NOW
        )
    assert (row.state, row.version, row.approved_by) == (RuleState.draft, 2, None)
    assert change is not None and change.before is not None and change.after is not None
    assert change.before["state"] == "active" and change.after["version"] == 2
    assert change.note == "已排队未发出的 2 条提醒已取消"
    async with sessions() as session:
        rows = list(await session.scalars(select(OutboxRow)))
    assert {(r.state, r.error) for r in rows} == {
        (OutboxState.cancelled, "规则已修改，等待重新审核")
    }
    # A second edit of the draft is the same version; the same values change nothing.
    async with sessions() as session, session.begin():
        row, change = await rule_editing.save(
            session, rule_id=rule_id, values=changed, actor="小李", now=NOW
        )
    assert change is None and row.version == 2


async def test_each_action_only_from_its_state(sessions: Sessions) -> None:
    rule_id = await active_rule(sessions)
    async with sessions() as session, session.begin():
        with pytest.raises(RuleError, match="只有已暂停"):
            await rule_editing.resume(session, rule_id=rule_id, actor="小李", now=NOW)
        with pytest.raises(RuleError, match="不在审核中"):
            await rule_editing.send_back(
                session, rule_id=rule_id, actor="小李", comment="改", now=NOW
            )
        await rule_editing.pause(session, rule_id=rule_id, actor="小李", now=NOW)
        with pytest.raises(RuleError, match="只有生效中"):
            await rule_editing.pause(session, rule_id=rule_id, actor="小李", now=NOW)
        await rule_editing.archive(session, rule_id=rule_id, actor="小李", now=NOW)
        with pytest.raises(RuleError, match="已归档的规则不能再修改"):
            await rule_editing.save(
                session, rule_id=rule_id, values=CAMPAIGN, actor="小王", now=NOW
            )
        with pytest.raises(RuleError, match="没有这条规则"):
            await rule_editing.submit(session, rule_id=rule_id + 1, actor="小王", now=NOW)


def test_the_next_time_of_a_campaign() -> None:
    once = Rule(
        id=1, kind=RuleKind.calendar, topic="memorial", message="…", on_date=date(2026, 12, 18)
    )
    assert rule_editing.next_at(once, NOW, TZ) == datetime(2026, 12, 18, 10, 0, tzinfo=TZ)
    # Still within its days to go, then never again.
    assert rule_editing.next_at(once, datetime(2026, 12, 19, tzinfo=TZ), TZ) is not None
    assert rule_editing.next_at(once, datetime(2026, 12, 22, tzinfo=TZ), TZ) is None
    weekly = Rule(id=2, kind=RuleKind.calendar, topic="meals", message="…", cron="30 9 * * 1")
    assert rule_editing.next_at(weekly, NOW, TZ) == datetime(2026, 12, 7, 9, 30, tzinfo=TZ)
    due = Rule(id=3, kind=RuleKind.due, topic="rental", message="…", days_before=3)
    assert rule_editing.next_at(due, NOW, TZ) is None


async def test_the_preview_counts_residents_who_could_ever_get_it(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        for key in ("a" * 32, "b" * 32, "c" * 32):
            await preferences.consent(session, "telegram", key, NOW)
            await preferences.set_topic(session, "telegram", key, "rental", True, NOW)
        for key, due_on in (("a" * 32, date(2026, 12, 3)), ("b" * 32, date(2027, 3, 1))):
            session.add(
                ReminderFact(
                    channel="telegram",
                    user_key=key,
                    kind="rental_due",
                    topic="rental",
                    due_on=due_on,
                    label="轮椅",
                    code_id="x",
                )
            )
        session.add(
            CaregiverLink(
                resident_channel="telegram",
                resident_key="a" * 32,
                caregiver_channel="telegram",
                caregiver_key="d" * 32,
                label="妈妈",
                state=CareState.active,
                expires_at=NOW,
            )
        )
    rule = Rule(
        id=1,
        kind=RuleKind.due,
        topic="rental",
        message="您租的{物品}{到期日}到期，还有{天数}天。",
        days_before=3,
        fact_kind="rental_due",
    )
    async with sessions() as session:
        shown = await rule_editing.preview(session, rule=rule, now=NOW, tz=TZ)
    # Two have a rental due (c has none); one is due within three days now.
    assert (shown.audience, shown.copies, shown.due_now, shown.next_at) == (2, 1, 1, None)
    assert shown.sample.text == "您租的轮椅12月4日到期，还有3天。"
    assert not shown.sample.sensitive


async def test_a_change_notice_for_an_entry(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await rule_editing.record_change_notice(
            session, ref="elder-meal-point", version=3, by="小李", now=NOW
        )
    async with sessions() as session:
        notice = await session.scalar(select(ChangeNotice))
        assert await session.scalar(select(ReminderRule)) is None
    assert notice is not None
    assert (notice.subject, notice.ref, notice.version, notice.created_by) == (
        "entry",
        "elder-meal-point",
        3,
        "小李",
    )
    assert notice.created_at == NOW
