"""Keeping reminder rules as data functions: the review flow, versions, what an edit, a pause or
an archiving does to what was queued (withdrawn, and queued again once active), and the
preview's counts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from jobs import evaluate, preferences, rule_editing, rule_preview
from jobs.models import (
    CaregiverLink,
    CareState,
    ChangeNotice,
    OutboxRow,
    OutboxState,
    ReminderFact,
    ReminderRule,
    RuleKind,
    RuleRun,
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


async def active_rule(sessions: Sessions, values: RuleValues = CAMPAIGN) -> int:
    async with sessions() as session, session.begin():
        row, _ = await rule_editing.save(
            session, rule_id=None, values=values, actor="小王", now=NOW, tz=TZ
        )
        assert row.id is not None
        await rule_editing.submit(session, rule_id=row.id, actor="小王", now=NOW)
        await rule_editing.approve(session, rule_id=row.id, actor="小李", now=NOW)
        return row.id


def queued(rule_id: int, key: str, state: OutboxState = OutboxState.pending) -> OutboxRow:
    return OutboxRow(
        rule_id=rule_id,
        occurrence="2026-12-18",
        channel="telegram",
        recipient_key=key,
        topic="memorial",
        text="…",
        state=state,
        not_before=NOW,
        expires_at=NOW + timedelta(days=3),
    )


async def outbox(sessions: Sessions, rule_id: int) -> dict[str, tuple[str, str]]:
    """The rule's rows: each recipient's state and text."""
    async with sessions() as session:
        rows = await session.scalars(select(OutboxRow).where(col(OutboxRow.rule_id) == rule_id))
        return {row.recipient_key: (row.state, row.text) for row in rows}


async def runs(sessions: Sessions, rule_id: int) -> set[str]:
    async with sessions() as session:
        keys = await session.scalars(
            select(col(RuleRun.run_key)).where(col(RuleRun.rule_id) == rule_id)
        )
        return set(keys)


async def run_due(sessions: Sessions, at: datetime) -> int:
    """What the leader's tick queues at ``at``."""
    async with sessions() as session, session.begin():
        return (await evaluate.run_due(session, now=at, tz=TZ)).queued


async def subscribed(sessions: Sessions, topic: str, *keys: str) -> None:
    async with sessions() as session, session.begin():
        for key in keys:
            await preferences.consent(session, "telegram", key, NOW)
            await preferences.set_topic(session, "telegram", key, topic, True, NOW)


async def test_a_new_rule_keeps_only_what_its_kind_reads(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        row, change = await rule_editing.save(
            session, rule_id=None, values=CAMPAIGN, actor="小王", now=NOW, tz=TZ
        )
    assert change is not None and change.action == "reminder_rule_saved"
    assert (row.state, row.version, row.days_before, row.age) == (RuleState.draft, 1, None, None)
    assert change.after is not None and change.after["on_date"] == "2026-12-18"


async def test_the_last_editor_cannot_approve_and_a_colleague_can(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        row, _ = await rule_editing.save(
            session, rule_id=None, values=CAMPAIGN, actor="小王", now=NOW, tz=TZ
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
        session.add_all(
            [
                queued(rule_id, "a" * 32),
                queued(rule_id, "b" * 32, OutboxState.failed_temporary),
                # A sender holds this one, and that one has arrived: both are kept.
                queued(rule_id, "c" * 32, OutboxState.sending),
                queued(rule_id, "d" * 32, OutboxState.sent),
            ]
        )
    changed = RuleValues(**{**CAMPAIGN.__dict__, "message": "冬至祭扫请提前三天预约。"})
    async with sessions() as session, session.begin():
        row, change = await rule_editing.save(
            session, rule_id=rule_id, values=changed, actor="小李", now=NOW, tz=TZ
        )
    assert (row.state, row.version, row.approved_by) == (RuleState.draft, 2, None)
    assert change is not None and change.before is not None and change.after is not None
    assert change.before["state"] == "active" and change.after["version"] == 2
    assert change.withdrawn == 2
    assert change.note == "已排队未发出的 2 条提醒已撤回，批准后按新内容重新排队"
    assert await outbox(sessions, rule_id) == {
        "c" * 32: (OutboxState.sending, "…"),
        "d" * 32: (OutboxState.sent, "…"),
    }
    # A second edit of the draft is the same version; the same values change nothing.
    async with sessions() as session, session.begin():
        row, change = await rule_editing.save(
            session, rule_id=rule_id, values=changed, actor="小李", now=NOW, tz=TZ
        )
    assert change is None and row.version == 2


async def test_what_an_edit_withdrew_is_queued_again_with_the_approved_words(
    sessions: Sessions,
) -> None:
    rule_id = await active_rule(sessions)
    sent, waiting = "a" * 32, ("b" * 32, "c" * 32)
    await subscribed(sessions, "memorial", sent, *waiting)
    at = datetime(2026, 12, 18, 10, 30, tzinfo=TZ)
    assert await run_due(sessions, at) == 3
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.recipient_key) == sent)
            .values(state=OutboxState.sent, sent_at=at)
        )
    old = "的居民：冬至祭扫请提前预约。"
    changed = RuleValues(**{**CAMPAIGN.__dict__, "message": "冬至祭扫请提前三天预约。"})
    async with sessions() as session, session.begin():
        _, change = await rule_editing.save(
            session, rule_id=rule_id, values=changed, actor="小王", now=at, tz=TZ
        )
    assert change is not None and change.withdrawn == 2
    assert await outbox(sessions, rule_id) == {sent: (OutboxState.sent, old)}
    assert await runs(sessions, rule_id) == set()
    # Not approved yet: nothing goes.
    assert await run_due(sessions, at + timedelta(minutes=1)) == 0
    async with sessions() as session, session.begin():
        await rule_editing.submit(session, rule_id=rule_id, actor="小王", now=at)
        await rule_editing.approve(session, rule_id=rule_id, actor="小李", now=at)
    assert await run_due(sessions, at + timedelta(minutes=2)) == 2
    new = (OutboxState.pending, "冬至祭扫请提前三天预约。")
    assert await outbox(sessions, rule_id) == {
        sent: (OutboxState.sent, old),
        waiting[0]: new,
        waiting[1]: new,
    }
    assert await runs(sessions, rule_id) == {"2026-12-18"}
    assert await run_due(sessions, at + timedelta(minutes=3)) == 0


async def test_what_a_pause_withdrew_is_queued_again_on_resuming(sessions: Sessions) -> None:
    rental = RuleValues(
        name="轮椅租赁到期",
        kind=RuleKind.due,
        topic="rental",
        message="您租的{物品}{到期日}到期。",
        days_before=3,
        fact_kind="rental_due",
    )
    rule_id = await active_rule(sessions, rental)
    key = "a" * 32
    await subscribed(sessions, "rental", key)
    async with sessions() as session, session.begin():
        session.add(
            ReminderFact(
                channel="telegram",
                user_key=key,
                kind="rental_due",
                topic="rental",
                due_on=date(2026, 12, 3),
                label="轮椅",
                code_id="x",
            )
        )
    at = datetime(2026, 12, 1, 10, 30, tzinfo=TZ)
    assert await run_due(sessions, at) == 1
    assert await runs(sessions, rule_id) == {"day-2026-12-01"}
    async with sessions() as session, session.begin():
        change = await rule_editing.pause(
            session, rule_id=rule_id, actor="小李", now=at + timedelta(minutes=5), tz=TZ
        )
    assert change.withdrawn == 1 and change.note == "已排队未发出的 1 条提醒已撤回，恢复后重新排队"
    assert await outbox(sessions, rule_id) == {}
    assert await runs(sessions, rule_id) == set()
    assert await run_due(sessions, at + timedelta(minutes=6)) == 0
    async with sessions() as session, session.begin():
        change = await rule_editing.resume(session, rule_id=rule_id, actor="小李", now=at)
    assert change.withdrawn == 0
    assert await run_due(sessions, at + timedelta(minutes=7)) == 1
    assert await outbox(sessions, rule_id) == {
        key: (OutboxState.pending, "您租的轮椅12月3日到期。")
    }


async def test_archiving_withdraws_what_was_queued_for_good(sessions: Sessions) -> None:
    rule_id = await active_rule(sessions)
    await subscribed(sessions, "memorial", "a" * 32, "b" * 32)
    at = datetime(2026, 12, 18, 10, 30, tzinfo=TZ)
    assert await run_due(sessions, at) == 2
    async with sessions() as session, session.begin():
        change = await rule_editing.archive(session, rule_id=rule_id, actor="小李", now=at)
    assert change.withdrawn == 2 and change.note == "已排队未发出的 2 条提醒已撤回，不再发送"
    assert await outbox(sessions, rule_id) == {}
    # It ran; it never runs again.
    assert await runs(sessions, rule_id) == {"2026-12-18"}
    assert await run_due(sessions, at + timedelta(minutes=1)) == 0


async def test_each_action_only_from_its_state(sessions: Sessions) -> None:
    rule_id = await active_rule(sessions)
    async with sessions() as session, session.begin():
        with pytest.raises(RuleError, match="只有已暂停"):
            await rule_editing.resume(session, rule_id=rule_id, actor="小李", now=NOW)
        with pytest.raises(RuleError, match="不在审核中"):
            await rule_editing.send_back(
                session, rule_id=rule_id, actor="小李", comment="改", now=NOW
            )
        await rule_editing.pause(session, rule_id=rule_id, actor="小李", now=NOW, tz=TZ)
        with pytest.raises(RuleError, match="只有生效中"):
            await rule_editing.pause(session, rule_id=rule_id, actor="小李", now=NOW, tz=TZ)
        await rule_editing.archive(session, rule_id=rule_id, actor="小李", now=NOW)
        with pytest.raises(RuleError, match="已归档的规则不能再修改"):
            await rule_editing.save(
                session, rule_id=rule_id, values=CAMPAIGN, actor="小王", now=NOW, tz=TZ
            )
        with pytest.raises(RuleError, match="没有这条规则"):
            await rule_editing.submit(session, rule_id=rule_id + 1, actor="小王", now=NOW)


def test_the_next_time_of_a_campaign() -> None:
    once = Rule(
        id=1, kind=RuleKind.calendar, topic="memorial", message="…", on_date=date(2026, 12, 18)
    )
    assert rule_preview.next_at(once, NOW, TZ) == datetime(2026, 12, 18, 10, 0, tzinfo=TZ)
    # Still within its days to go, then never again.
    assert rule_preview.next_at(once, datetime(2026, 12, 19, tzinfo=TZ), TZ) is not None
    assert rule_preview.next_at(once, datetime(2026, 12, 22, tzinfo=TZ), TZ) is None
    weekly = Rule(id=2, kind=RuleKind.calendar, topic="meals", message="…", cron="30 9 * * 1")
    assert rule_preview.next_at(weekly, NOW, TZ) == datetime(2026, 12, 7, 9, 30, tzinfo=TZ)
    due = Rule(id=3, kind=RuleKind.due, topic="rental", message="…", days_before=3)
    assert rule_preview.next_at(due, NOW, TZ) is None


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
        shown = await rule_preview.preview(session, rule=rule, now=NOW, tz=TZ)
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
