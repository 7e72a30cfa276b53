"""Cases from open to closed: the one service behind the advisors' Telegram group, the console
inbox, the CLI and the resident's side of the conversation.

Every function works in the caller's transaction and audits each transition in it; nothing is
sent here. A message that must reach the other side is written with ``to_desk`` or
``to_resident`` pending, and ``bot.escalations.relay`` sends it after the commit, so a crash
between the two loses nothing. Transitions are conditional updates (``… WHERE state = 'open'``):
of two advisors pressing 认领 at once, in one process or two, exactly one wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.console import audit
from bot.conversation.steps import State, StepStore
from bot.escalations.metrics import CaseObserver
from bot.escalations.models import (
    Author,
    CaseState,
    Delivery,
    Escalation,
    EscalationMessage,
)
from bot.keyring import KeyRing
from bot.residents import reach
from bot.residents.models import ESCALATION

RESIDENT_ACTOR = "居民"
REOPEN_WITHIN = timedelta(days=3)
# What one transcript message keeps (Telegram's own limit is 4,096; the web chat takes 2,000).
MAX_MESSAGE_CHARS = 10_000
# Closed by whom: the resident is told (and asked 问题解决了吗？) only when it was not them.
CLOSED_FOR_RESIDENT = {"advisor", "staff", "cli"}
# Where the resident still is while a case runs; closing moves them on from any of these.
CASE_STATES = (State.DESCRIBING, State.WITH_ADVISOR, State.AWAIT_CONTACT, State.AWAIT_WINDOW)


@dataclass(frozen=True)
class Advisor:
    staff_id: int
    name: str

    @property
    def badge(self) -> str:
        return f"工号 {self.staff_id}"


class Refused(Exception):
    """The action cannot be done; ``str()`` says why, in Chinese, for the advisor."""


@dataclass(frozen=True)
class Claimed:
    case: Escalation
    won: bool
    # Who holds the case when ``won`` is false (None: it is closed).
    holder: int | None = None


def _changed(result: Any) -> bool:
    assert isinstance(result, CursorResult)
    return bool(result.rowcount == 1)


class Cases:
    def __init__(
        self,
        *,
        keyring: KeyRing,
        desk_enabled: bool,
        observer: CaseObserver | None = None,
    ) -> None:
        self.keyring = keyring
        # Whether an advisors' Telegram group is configured (messages are sent there too).
        self.desk_enabled = desk_enabled
        self.observer = observer or CaseObserver()
        self.steps = StepStore()

    def desk_delivery(self) -> str | None:
        return Delivery.pending if self.desk_enabled else None

    @staticmethod
    def resident_delivery(case: Escalation) -> str | None:
        # The web chat reads the transcript itself; Telegram residents are sent each message.
        return Delivery.pending if case.channel == "telegram" else None

    # Reading ---------------------------------------------------------------------------------

    async def get(self, session: AsyncSession, case_id: int) -> Escalation | None:
        return await session.get(Escalation, case_id, populate_existing=True)

    async def current(
        self, session: AsyncSession, channel: str, user_key: str
    ) -> Escalation | None:
        """The resident's case that is not closed, if any."""
        return await session.scalar(
            select(Escalation).where(
                col(Escalation.channel) == channel,
                col(Escalation.user_key) == user_key,
                col(Escalation.state) != CaseState.closed,
            )
        )

    # Opening ---------------------------------------------------------------------------------

    async def open(
        self,
        session: AsyncSession,
        *,
        channel: str,
        user_key: str,
        chat_id: str | None,
        need: str | None,
        topic: str | None,
        town: str | None,
        context: Mapping[str, Any],
        now: datetime,
    ) -> Escalation:
        """A new case for the resident, or the one they have open already."""
        existing = await self.current(session, channel, user_key)
        if existing is not None:
            return existing
        case = Escalation(
            channel=channel,
            user_key=user_key,
            need=need[:MAX_MESSAGE_CHARS] if need else None,
            topic=topic,
            town=town,
            context=json.dumps(context, ensure_ascii=False),
            opened_at=now,
            announced_at=now,
            resident_at=now if need else None,
        )
        session.add(case)
        await session.flush()
        assert case.id is not None
        if need:
            # The card shows it: the group needs no message of its own for it.
            self.add_message(session, case, Author.resident, "text", need, via=channel, now=now)
        await self._keep_reachable(session, channel, user_key, chat_id, now)
        audit.record(
            session,
            actor=RESIDENT_ACTOR,
            action="escalation_opened",
            target_type="escalation",
            target_id=str(case.id),
            after={"channel": channel, "topic": topic, "town": town},
            at=now,
        )
        return case

    async def _keep_reachable(
        self, session: AsyncSession, channel: str, user_key: str, chat_id: str | None, now: datetime
    ) -> None:
        """The resident's chat id is kept while the case runs: the advisor's answer must reach
        them when they are not writing."""
        if chat_id is not None:
            await reach.reach(
                session,
                self.keyring,
                channel=channel,
                user_key=user_key,
                chat_id=chat_id,
                purpose=ESCALATION,
                now=now,
            )

    # Messages --------------------------------------------------------------------------------

    def add_message(
        self,
        session: AsyncSession,
        case: Escalation,
        author: Author,
        kind: str,
        text: str | None,
        *,
        via: str,
        now: datetime,
        staff_id: int | None = None,
        source: tuple[int, int] | None = None,
        to_desk: str | None = None,
        to_resident: str | None = None,
        keyed: bool = True,
    ) -> EscalationMessage:
        assert case.id is not None
        message = EscalationMessage(
            escalation_id=case.id,
            # Unkeyed messages (a notice that the resident deleted their data) outlive /stop.
            user_key=case.user_key if keyed else None,
            author=author,
            staff_id=staff_id,
            kind=kind,
            text=text[:MAX_MESSAGE_CHARS] if text else None,
            via=via,
            source_chat_id=source[0] if source else None,
            source_message_id=source[1] if source else None,
            created_at=now,
            to_desk=to_desk,
            to_resident=to_resident,
        )
        session.add(message)
        return message

    async def _seen(self, session: AsyncSession, source: tuple[int, int] | None) -> bool:
        if source is None:
            return False
        found = await session.scalar(
            select(col(EscalationMessage.id)).where(
                col(EscalationMessage.source_chat_id) == source[0],
                col(EscalationMessage.source_message_id) == source[1],
            )
        )
        return found is not None

    async def from_resident(
        self,
        session: AsyncSession,
        case: Escalation,
        *,
        kind: str,
        text: str | None,
        source: tuple[int, int] | None,
        now: datetime,
    ) -> EscalationMessage | None:
        """What the resident sent, on its way to the group (None: this one was relayed before)."""
        if await self._seen(session, source):
            return None
        case.resident_at = now
        message = self.add_message(
            session,
            case,
            Author.resident,
            kind,
            text,
            via=case.channel,
            source=source,
            to_desk=self.desk_delivery(),
            now=now,
        )
        await session.flush()
        return message

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
        won = _changed(
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
        closed = _changed(
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
                "stop": "居民删除了自己的数据，案件已结案，对话记录已删除。",
                "blocked": "居民已屏蔽本助手，消息发不出去，案件已结案。",
            }
            self.add_message(
                session,
                case,
                Author.system,
                "closed",
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
        self.audit(session, case, actor, "escalation_closed", now, note=note or by)
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
        case.state, case.advisor_id, case.claimed_at = CaseState.open, None, None
        case.closed_at = case.closed_by = case.close_note = None
        case.reopened += 1
        case.announced_at = case.resident_at = now
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

    def audit(
        self,
        session: AsyncSession,
        case: Escalation,
        actor: str,
        action: str,
        now: datetime,
        note: str | None = None,
    ) -> None:
        audit.record(
            session,
            actor=actor,
            action=action,
            target_type="escalation",
            target_id=str(case.id),
            after={"state": case.state, "advisor": case.advisor_id},
            note=note,
            at=now,
        )
