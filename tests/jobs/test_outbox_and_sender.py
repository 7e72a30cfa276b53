"""The outbox and the sender on a real database, with a fake messenger and a fixed clock:
queued once, quiet hours, the weekly cap, 429s, 403s, and rows a crash left in doubt."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from jobs import evaluate, outbox, preferences
from jobs.models import (
    CaregiverLink,
    OutboxRow,
    OutboxState,
    ReminderFact,
    ReminderRule,
    ReminderSubscription,
    RuleState,
)
from jobs.sender import Blocked, RetryLater, Sender
from tests.jobs.conftest import TZ, Clock, FakeMessenger

MORNING = datetime(2026, 12, 21, 10, 0, tzinfo=TZ)


async def subscribe(
    sessions: async_sessionmaker[AsyncSession], key: str, topic: str = "memorial"
) -> None:
    async with sessions() as session, session.begin():
        await preferences.consent(session, "telegram", key, MORNING - timedelta(days=30))
        await preferences.set_topic(session, "telegram", key, topic, True, MORNING)


async def campaign(
    sessions: async_sessionmaker[AsyncSession], on: date, topic: str = "memorial", at: int = 600
) -> int:
    async with sessions() as session, session.begin():
        rule = ReminderRule(
            name="冬至祭扫",
            kind="calendar",
            topic=topic,
            message="冬至祭扫请提前预约。",
            on_date=on,
            send_at=at,
            state=RuleState.active,
            created_by="staff",
            updated_by="staff",
        )
        session.add(rule)
        await session.flush()
        assert rule.id is not None
        return rule.id


def sender(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, messenger: FakeMessenger
) -> Sender:
    return Sender(
        sessions=sessions, messenger=messenger, tz=TZ, owner="test", clock=clock, concurrency=3
    )


async def tick(sessions: async_sessionmaker[AsyncSession], now: datetime) -> evaluate.Evaluation:
    async with sessions() as session, session.begin():
        return await evaluate.run_due(session, now=now, tz=TZ)


async def states(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        found = await outbox.counts(session)
    return {state: n for state, n in found.items() if n}


async def test_a_campaign_is_queued_once_and_sent_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for key in ("a", "b", "c"):
        await subscribe(sessions, key)
    await campaign(sessions, MORNING.date())
    clock, messenger = Clock(MORNING + timedelta(minutes=1)), FakeMessenger()
    first = await tick(sessions, clock())
    assert first.queued == 3
    # The next ticks find the occurrence done; a dry run finds it all queued.
    assert (await tick(sessions, clock() + timedelta(minutes=1))).queued == 0
    async with sessions() as session:
        dry = await evaluate.run_due(session, now=clock(), tz=TZ, dry_run=True)
    assert [(r.queued, r.already, len(r.due)) for r in dry.rules.values()] == [(0, 3, 3)]
    report = await sender(sessions, clock, messenger).drain()
    assert report.sent == 3
    assert sorted(m.recipient_key for m in messenger.sent) == ["a", "b", "c"]
    assert await sender(sessions, clock, messenger).drain() == type(report)()
    assert await states(sessions) == {"sent": 3}


async def test_a_reminder_due_at_night_waits_for_the_morning(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(sessions, "a")
    await campaign(sessions, MORNING.date(), at=22 * 60)
    night = Clock(MORNING.replace(hour=22, minute=1))
    messenger = FakeMessenger()
    await tick(sessions, night())
    report = await sender(sessions, night, messenger).drain()
    assert (report.sent, report.deferred, messenger.sent) == (0, 1, [])
    async with sessions() as session:
        row = await session.scalar(select(OutboxRow))
    assert row is not None and row.not_before == datetime(2026, 12, 22, 8, 0, tzinfo=TZ)
    assert row.attempts == 0 and row.error == "免打扰时间"
    night.now = datetime(2026, 12, 22, 8, 0, tzinfo=TZ)
    assert (await sender(sessions, night, messenger).drain()).sent == 1


async def test_the_fourth_reminder_in_a_week_waits_and_is_cancelled_when_too_late(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(sessions, "a")
    clock, messenger = Clock(MORNING), FakeMessenger()
    for day in range(4):
        when = MORNING + timedelta(days=day)
        await campaign(sessions, when.date())
        clock.now = when + timedelta(minutes=1)
        await tick(sessions, clock())
        await sender(sessions, clock, messenger).drain()
    assert len(messenger.to("a")) == 3
    async with sessions() as session:
        waiting = await session.scalar(
            select(OutboxRow).where(col(OutboxRow.state) == OutboxState.pending)
        )
    # The first was sent on the 21st at 10:01: the fourth may go a week after it, but a
    # campaign's reminder is valid three days, so it is cancelled rather than sent late.
    assert waiting is None
    assert await states(sessions) == {"sent": 3, "cancelled": 1}


async def test_a_429_is_retried_after_retry_after_and_a_403_stops_the_resident(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(sessions, "a")
    await subscribe(sessions, "b")
    await campaign(sessions, MORNING.date())
    clock, messenger = Clock(MORNING + timedelta(minutes=1)), FakeMessenger()
    await tick(sessions, clock())
    messenger.planned = [RetryLater(7, "429 Too Many Requests"), Blocked()]
    first = await Sender(
        sessions=sessions, messenger=messenger, tz=TZ, owner="t", clock=clock, concurrency=1
    ).drain()
    assert (first.retried, first.blocked, first.sent) == (1, 1, 0)
    clock.advance(seconds=7)
    second = await sender(sessions, clock, messenger).drain()
    assert second.sent == 1
    assert await states(sessions) == {"sent": 1, "failed_permanent": 1}
    async with sessions() as session:
        blocked = await preferences.profile(session, "telegram", "b")
        retried = await session.scalar(select(OutboxRow).where(col(OutboxRow.recipient_key) == "a"))
    assert blocked is not None and blocked.inactive_since is not None
    assert retried is not None and retried.attempts == 2
    # Nothing more is queued for the resident who blocked the bot.
    await campaign(sessions, MORNING.date())
    assert (await tick(sessions, clock())).queued == 1


async def test_a_row_left_sending_by_a_dead_sender_is_sent_again_after_a_while(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(sessions, "a")
    await campaign(sessions, MORNING.date())
    clock, messenger = Clock(MORNING + timedelta(minutes=1)), FakeMessenger()
    await tick(sessions, clock())
    async with sessions() as session, session.begin():
        (taken,) = await outbox.claim(session, now=clock(), owner="dead", limit=5)
    # Another sender leaves it alone while the claim is fresh…
    assert (await sender(sessions, clock, messenger).drain()).sent == 0
    clock.advance(seconds=31)
    report = await sender(sessions, clock, messenger).drain()
    assert (report.released, report.sent) == (1, 1)
    # …and the dead one's late answer does not overwrite the row.
    async with sessions() as session, session.begin():
        assert not await outbox.mark_sent(session, taken, "dead", clock(), 1)
        await session.execute(update(OutboxRow).values(error=None))
    assert await states(sessions) == {"sent": 1}


async def test_unsubscribing_cancels_what_waits(sessions: async_sessionmaker[AsyncSession]) -> None:
    await subscribe(sessions, "a")
    await campaign(sessions, MORNING.date(), at=22 * 60)
    await tick(sessions, MORNING.replace(hour=22, minute=5))
    async with sessions() as session, session.begin():
        await preferences.set_topic(session, "telegram", "a", "memorial", False, MORNING)
    assert await states(sessions) == {"cancelled": 1}


async def test_a_due_date_is_found_by_the_first_tick_after_its_send_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Due dates run once a day, but not before the day's send time: a run at midnight would
    find nothing due and mark the day done."""
    await subscribe(sessions, "a", topic="rental")
    async with sessions() as session, session.begin():
        session.add(
            ReminderFact(
                channel="telegram",
                user_key="a",
                kind="rental_due",
                topic="rental",
                due_on=date(2026, 12, 24),
                label="轮椅",
                code_id="x",
            )
        )
        session.add(
            ReminderRule(
                name="辅具到期",
                kind="due",
                topic="rental",
                message="您租的{物品}将在{到期日}到期。",
                days_before=3,
                fact_kind="rental_due",
                state=RuleState.active,
                created_by="staff",
                updated_by="staff",
            )
        )
    assert (await tick(sessions, MORNING.replace(hour=0, minute=1))).queued == 0
    assert (await tick(sessions, MORNING.replace(hour=10, minute=1))).queued == 1
    assert (await tick(sessions, MORNING.replace(hour=10, minute=2))).queued == 0
    # A fact bound after the day's run is queued at once for its resident alone.
    async with sessions() as session, session.begin():
        session.add(
            ReminderFact(
                channel="telegram",
                user_key="a",
                kind="rental_due",
                topic="rental",
                due_on=date(2026, 12, 23),
                label="助行器",
                code_id="y",
            )
        )
        await session.flush()
        queued = await evaluate.run_for(
            session, channel="telegram", user_key="a", now=MORNING.replace(hour=15), tz=TZ
        )
    assert queued == 1


async def test_what_waited_past_its_use_is_cancelled_not_sent_late(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(sessions, "a")
    await campaign(sessions, MORNING.date())
    await tick(sessions, MORNING + timedelta(minutes=1))
    # Telegram was away for five days; the campaign was valid for three.
    clock, messenger = Clock(MORNING + timedelta(days=5)), FakeMessenger()
    report = await sender(sessions, clock, messenger).drain()
    assert (report.sent, report.cancelled, messenger.sent) == (0, 1, [])
    assert await states(sessions) == {"cancelled": 1}


async def test_the_weekly_cap_holds_when_many_are_due_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Eight workers at once, five campaigns due together for one resident: three go."""
    await subscribe(sessions, "a")
    for _ in range(5):
        await campaign(sessions, MORNING.date())
    clock, messenger = Clock(MORNING + timedelta(minutes=1)), FakeMessenger()
    await tick(sessions, clock())
    report = await Sender(
        sessions=sessions, messenger=messenger, tz=TZ, owner="t", clock=clock, concurrency=8
    ).drain()
    assert (report.sent, len(messenger.to("a"))) == (3, 3)
    assert (await states(sessions))["sent"] == 3


async def test_a_reminder_no_longer_wanted_as_it_goes_is_dropped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A subscription switched off by a path that did not cancel (or at the very moment of the
    claim): the check at send time catches it."""
    await subscribe(sessions, "a")
    await campaign(sessions, MORNING.date())
    clock, messenger = Clock(MORNING + timedelta(minutes=1)), FakeMessenger()
    await tick(sessions, clock())
    async with sessions() as session, session.begin():
        await session.execute(update(ReminderSubscription).values(subscribed=False))
    report = await sender(sessions, clock, messenger).drain()
    assert (report.sent, report.cancelled) == (0, 1)
    async with sessions() as session:
        row = await session.scalar(select(OutboxRow))
    assert row is not None and row.error == "居民已退订"


async def test_unsubscribing_cancels_the_familys_copies_waiting_too(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(sessions, "mother")
    async with sessions() as session, session.begin():
        session.add(
            CaregiverLink(
                resident_channel="telegram",
                resident_key="mother",
                caregiver_channel="telegram",
                caregiver_key="daughter",
                label="妈妈",
                state="active",
                expires_at=MORNING,
            )
        )
    await campaign(sessions, MORNING.date(), at=22 * 60)
    queued = await tick(sessions, MORNING.replace(hour=22, minute=5))
    assert queued.queued == 2
    async with sessions() as session, session.begin():
        await preferences.set_topic(session, "telegram", "mother", "memorial", False, MORNING)
    assert await states(sessions) == {"cancelled": 2}


async def test_a_rule_paused_after_queueing_sends_nothing_until_it_is_in_force(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(sessions, "a")
    rule_id = await campaign(sessions, MORNING.date())
    clock, messenger = Clock(MORNING + timedelta(minutes=1)), FakeMessenger()
    await tick(sessions, clock())
    async with sessions() as session, session.begin():
        await session.execute(
            update(ReminderRule).where(col(ReminderRule.id) == rule_id).values(state="paused")
        )
    report = await sender(sessions, clock, messenger).drain()
    assert (report.sent, report.deferred, messenger.sent) == (0, 1, [])
    async with sessions() as session, session.begin():
        await session.execute(update(ReminderRule).values(state=RuleState.active))
    clock.advance(minutes=10)
    assert (await sender(sessions, clock, messenger).drain()).sent == 1
