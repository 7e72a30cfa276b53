"""A case's records: opening it, its transcript, reading it (``service.Cases`` adds the
transitions).

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

from sqlalchemy import select
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


def changed(result: Any) -> bool:
    assert isinstance(result, CursorResult)
    return bool(result.rowcount == 1)


class CaseRecords:
    def __init__(
        self,
        *,
        keyring: KeyRing,
        desk_enabled: bool,
        observer: CaseObserver | None = None,
        steps: StepStore | None = None,
    ) -> None:
        self.keyring = keyring
        # Whether an advisors' Telegram group is configured (messages are sent there too).
        self.desk_enabled = desk_enabled
        self.observer = observer or CaseObserver()
        # Residents' steps: closing a case moves its resident on (the conversation shares it).
        self.steps = steps or StepStore()

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
            waiting_since=now,
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
