"""Cases from open to closed: the one service behind the advisors' Telegram group, the console
inbox, the CLI and the resident's side of the conversation.

Every function works in the caller's transaction and audits each transition in it; nothing is
sent here. A message that must reach the other side is written with ``to_desk`` or
``to_resident`` pending, and ``bot.escalations.relay`` sends it after the commit, so a crash
between the two loses nothing. Transitions are conditional updates (``… WHERE state = 'open'``):
of two advisors pressing 认领 at once, in one process or two, exactly one wins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.conversation.steps import State
from bot.escalations.models import Author, CaseState, Escalation, EscalationMessage
from bot.escalations.records import (
    CASE_STATES,
    CLOSED_FOR_RESIDENT,
    REOPEN_WITHIN,
    RESIDENT_ACTOR,
    Advisor,
    CaseRecords,
    Claimed,
    Refused,
    changed,
)
from bot.residents import reach
from bot.residents.models import ESCALATION

__all__ = ["RESIDENT_ACTOR", "Advisor", "Cases", "Claimed", "Refused"]


class Cases(CaseRecords):
    async def from_advisor(
        self,
        session: AsyncSession,
        case_id: int,
        advisor: Advisor,
        *,
        text: str,
        via: str,
        source: tuple[int, int] | None = None,
        now: datetime,
    ) -> EscalationMessage | None:
        """An advisor's answer, on its way to the resident. An unclaimed case is claimed by the
        advisor who answers it. None: this message was relayed before."""
        if await self._seen(session, source):
            return None
        case = await self.get(session, case_id)
        if case is None or case.state == CaseState.closed:
            raise Refused("这个案件已经结案，消息没有转给居民。")
        if case.state == CaseState.open:
            claimed = await self.claim(session, case_id, advisor, now=now)
            if not claimed.won:
                raise Refused(f"这个案件已由工号 {claimed.holder} 认领，消息没有转给居民。")
            case = claimed.case
        elif case.advisor_id != advisor.staff_id:
            raise Refused(f"这个案件由工号 {case.advisor_id} 负责，消息没有转给居民。")
        if case.first_reply_at is None:
            case.first_reply_at = now
            self.observer.first_reply(case, now)
        case.advisor_at = now
        message = self.add_message(
            session,
            case,
            Author.advisor,
            "text",
            text,
            via=via,
            staff_id=advisor.staff_id,
            source=source,
            # Written on the console: the group's topic shows it too.
            to_desk=self.desk_delivery() if via == "console" else None,
            to_resident=self.resident_delivery(case),
            now=now,
        )
        await session.flush()
        return message

    # Transitions -----------------------------------------------------------------------------

    async def claim(
        self, session: AsyncSession, case_id: int, advisor: Advisor, *, now: datetime
    ) -> Claimed:
        won = changed(
            await session.execute(
                update(Escalation)
                .where(col(Escalation.id) == case_id, col(Escalation.state) == CaseState.open)
                .values(state=CaseState.claimed, advisor_id=advisor.staff_id, claimed_at=now)
            )
        )
        case = await self.get(session, case_id)
        if case is None:
            raise Refused("没有这个案件。")
        if not won:
            mine = case.state == CaseState.claimed and case.advisor_id == advisor.staff_id
            holder = case.advisor_id if case.state == CaseState.claimed else None
            return Claimed(case, won=mine, holder=holder)
        self.observer.claimed(case, now)
        self.add_message(
            session,
            case,
            Author.system,
            "claimed",
            f"养老顾问（{advisor.badge}）已接手您的问题，请直接在这里说。",
            via="system",
            staff_id=advisor.staff_id,
            to_resident=self.resident_delivery(case),
            now=now,
        )
        self.audit(session, case, advisor.name, "escalation_claimed", now)
        return Claimed(case, won=True)

    async def close(
        self,
        session: AsyncSession,
        case_id: int,
        *,
        by: str,
        actor: str,
        note: str | None = None,
        now: datetime,
    ) -> Escalation | None:
        """Close the case (None: it was closed already). ``by``: advisor, staff, cli, resident,
        stop (the resident's /stop) or blocked (they blocked the bot)."""
        closed = changed(
            await session.execute(
                update(Escalation)
                .where(col(Escalation.id) == case_id, col(Escalation.state) != CaseState.closed)
                .values(
                    state=CaseState.closed,
                    closed_at=now,
                    closed_by=by,
                    close_note=note,
                    # The number was for this callback only.
                    phone_sealed=None,
                )
            )
        )
        case = await self.get(session, case_id)
        if not closed or case is None:
            return None
        self.observer.closed(case, now)
        if by in CLOSED_FOR_RESIDENT:
            self.add_message(
                session,
                case,
                Author.system,
                "closed",
                "养老顾问已结束本次服务。",
                via="system",
                to_resident=self.resident_delivery(case),
                now=now,
            )
            if case.user_key is not None:
                await self.steps.move(
                    session,
                    case.channel,
                    case.user_key,
                    State.ASK_RESOLVED,
                    only_from=CASE_STATES,
                    escalation_id=case.id,
                )
        else:
            notices = {
                "resident": "居民已结束人工服务，案件已结案。",
                "stop": f"案件 #{case.id}：居民删除了自己的数据，案件已结案，"
                "对话记录和这个话题已删除。",
                "blocked": "居民已屏蔽本助手，消息发不出去，案件已结案。",
            }
            self.add_message(
                session,
                case,
                Author.system,
                # Not "closed": that one is the resident's notice; this is the advisors'.
                "ended",
                notices.get(by, "案件已结案。"),
                via="system",
                to_desk=self.desk_delivery(),
                now=now,
                keyed=by != "stop",
            )
            if case.user_key is not None:
                # The resident is not to be told anything more: their chat id goes now.
                await reach.release(
                    session,
                    channel=case.channel,
                    user_key=case.user_key,
                    purpose=ESCALATION,
                    now=now,
                )
        # The note stays on the case (scrubbed with it); the audit says only who closed it.
        self.audit(session, case, actor, "escalation_closed", now, note=by)
        return case

    async def reopen(
        self,
        session: AsyncSession,
        case_id: int,
        *,
        channel: str,
        user_key: str,
        chat_id: str | None,
        now: datetime,
    ) -> Escalation | None:
        """The resident reopens their case within three days of its closing (None: too late,
        not theirs, or they have another case open)."""
        case = await self.get(session, case_id)
        if (
            case is None
            or case.user_key != user_key
            or case.channel != channel
            or case.state != CaseState.closed
            or case.closed_at is None
            or now - case.closed_at > REOPEN_WITHIN
            or await self.current(session, channel, user_key) is not None
        ):
            return None
        # Conditional, like every transition: of two presses of 重新联系养老顾问, one reopens.
        if not changed(
            await session.execute(
                update(Escalation)
                .where(col(Escalation.id) == case_id, col(Escalation.state) == CaseState.closed)
                .values(state=CaseState.open)
            )
        ):
            return None
        case = await self.get(session, case_id)
        assert case is not None
        case.state, case.advisor_id, case.claimed_at = CaseState.open, None, None
        case.closed_at = case.closed_by = case.close_note = None
        case.reopened += 1
        case.waiting_since = case.announced_at = case.resident_at = now
        self.add_message(
            session,
            case,
            Author.system,
            "reopened",
            "居民重新打开了这个案件，请再看一下。",
            via="system",
            to_desk=self.desk_delivery(),
            now=now,
        )
        await self._keep_reachable(session, channel, user_key, chat_id, now)
        self.audit(session, case, RESIDENT_ACTOR, "escalation_reopened", now)
        return case
