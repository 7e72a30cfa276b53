"""What no single action triggers: re-announcing a case nobody claimed, reminding a claimer
whose resident is waiting, and sending what was left behind (a crash, Telegram away).

Every replica runs the sweeper. An alert is taken by a conditional update of the case
(``announced_at`` / ``reminded_at`` moved forward only if it still holds the value read), so it
is posted once however many replicas look; what it posts goes through the relay like any
message.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlmodel import col

from bot.escalations.metrics import CaseMetrics
from bot.escalations.models import Author, CaseState, Delivery, Escalation, EscalationMessage
from bot.escalations.office_hours import OfficeHours
from bot.escalations.relay import STALE_AFTER, Relay

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 15.0
# Office-hours time before a case is announced again, and before a claimer is reminded.
UNCLAIMED_ALERT = timedelta(minutes=10)
UNANSWERED_ALERT = timedelta(minutes=30)
# Cases looked at per sweep for alerts (the oldest first).
BATCH = 200


class Sweeper:
    def __init__(self, relay: Relay, office_hours: OfficeHours) -> None:
        self.relay = relay
        self.cases = relay.cases
        self.office_hours = office_hours

    async def run_once(self, now: datetime) -> None:
        await self._alerts(now)
        for case_id in await self._cases_with_work(now):
            await self.relay.sync(case_id, now)
        await self._gauge()

    async def _cases_with_work(self, now: datetime) -> list[int]:
        due = or_(
            col(EscalationMessage.to_desk) == Delivery.pending,
            col(EscalationMessage.to_resident) == Delivery.pending,
            and_(
                or_(
                    col(EscalationMessage.to_desk) == Delivery.sending,
                    col(EscalationMessage.to_resident) == Delivery.sending,
                ),
                col(EscalationMessage.sending_since) < now - STALE_AFTER,
            ),
        )
        async with self.relay.sessions() as session:
            ids: set[int] = set(
                (
                    await session.execute(
                        select(col(EscalationMessage.escalation_id)).where(due).distinct()
                    )
                ).scalars()
            )
            if self.relay.desk is not None:
                desk_behind = or_(
                    and_(
                        col(Escalation.state) != CaseState.closed,
                        col(Escalation.card_message_id).is_(None),
                    ),
                    and_(
                        col(Escalation.card_message_id).is_not(None),
                        col(Escalation.topic_closed) != (col(Escalation.state) == CaseState.closed),
                    ),
                )
                found = await session.execute(select(col(Escalation.id)).where(desk_behind))
                ids |= {case_id for case_id in found.scalars() if case_id is not None}
        return sorted(ids)

    async def _alerts(self, now: datetime) -> None:
        if not self.office_hours.is_open(now):
            return  # nobody is at work to be alerted; the time outside does not count
        async with self.relay.sessions() as session:
            rows = await session.execute(
                select(Escalation)
                .where(col(Escalation.state) != CaseState.closed)
                .order_by(col(Escalation.opened_at))
                .limit(BATCH)
            )
            cases = list(rows.scalars())
        for case in cases:
            if case.state == CaseState.open:
                since = case.announced_at or case.opened_at
                if self.office_hours.open_duration(since, now) >= UNCLAIMED_ALERT:
                    waited = int(
                        (now - (case.waiting_since or case.opened_at)).total_seconds() // 60
                    )
                    await self._alert(
                        case,
                        "announced_at",
                        since,
                        now,
                        f"⏰ 案件 #{case.id} 已等待 {waited} 分钟，还没有顾问认领，"
                        "请点卡片上的“认领”。",
                    )
            elif case.resident_at is not None:
                answered = max(filter(None, (case.advisor_at, case.claimed_at)), default=None)
                waiting = answered is None or case.resident_at > answered
                reminded = case.reminded_at is not None and case.reminded_at >= case.resident_at
                if (
                    waiting
                    and not reminded
                    and self.office_hours.open_duration(case.resident_at, now) >= UNANSWERED_ALERT
                ):
                    await self._alert(
                        case,
                        "reminded_at",
                        case.reminded_at,
                        now,
                        f"⏰ 工号 {case.advisor_id}：居民的消息已经 30 分钟没有回复了。",
                    )

    async def _alert(
        self, case: Escalation, column: str, was: datetime | None, now: datetime, text: str
    ) -> None:
        assert case.id is not None
        field = getattr(Escalation, column)
        async with self.relay.sessions() as session, session.begin():
            taken = await session.execute(
                update(Escalation)
                .where(
                    col(Escalation.id) == case.id,
                    col(field).is_(None) if was is None else col(field) == was,
                )
                .values({field: now})
            )
            if getattr(taken, "rowcount", 0) != 1:
                return  # another replica posted it
            self.cases.add_message(
                session,
                case,
                Author.system,
                "alert",
                text,
                via="system",
                to_desk=self.cases.desk_delivery(),
                now=now,
                keyed=False,
            )

    async def _gauge(self) -> None:
        observer = self.cases.observer
        if not isinstance(observer, CaseMetrics):
            return
        async with self.relay.sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(Escalation)
                .where(col(Escalation.state) == CaseState.open)
            )
        observer.waiting.set(int(waiting or 0))


async def sweep_forever(ready: asyncio.Event, sweeper: Sweeper) -> None:
    await ready.wait()
    while True:
        try:
            await sweeper.run_once(datetime.now(sweeper.relay.tz))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("escalation sweep failed; tried again shortly")
        await asyncio.sleep(SWEEP_EVERY_S)
