"""Getting each case's messages to the other side, after the commit that wrote them.

``sync(case_id)`` brings one case's desk up to date (its topic and card made, the card edited
when it changed, the topic closed or reopened with the case) and sends its pending messages in
order. It runs right after the action that wrote them (the fast path) and from the sweeper for
anything left behind (a crash, Telegram away), so every replica may run it at once: each message
is taken by a conditional update (``pending → sending``) and sent by whoever took it, and a case's
topic is made by whoever set ``desk_claimed_at``.

What is guaranteed, honestly: each message is stored once (a Telegram message id is unique in the
transcript) and taken by one sender. Telegram has no idempotency key, so a sender that dies
between Telegram's answer and marking the row ``sent`` leaves it ``sending``; such a row is taken
again after ``STALE_AFTER`` and may then arrive twice. Nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.escalations import callbacks
from bot.escalations.cards import CardFacts, card, digest, to_desk, to_resident
from bot.escalations.models import CaseState, Delivery, Escalation, EscalationMessage
from bot.escalations.ports import Desk, DeskRef, ResidentLine, Unreachable
from bot.escalations.service import Cases
from bot.residents import reach
from bot.residents.models import ESCALATION

log = logging.getLogger(__name__)


class NotYet(Exception):
    """Cannot be sent now (Telegram not connected): the message stays pending."""


class NoChat(Exception):
    """There is no chat to send it to (the chat id was not kept, or is gone)."""


STALE_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5


class Relay:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        cases: Cases,
        tz: ZoneInfo,
        desk: Desk | None = None,
        line: ResidentLine | None = None,
    ) -> None:
        self.sessions = sessions
        self.cases = cases
        self.tz = tz
        self.desk = desk
        self.line = line
        # One sync of a case at a time in this process (other replicas are kept off by the
        # conditional updates).
        self._locks: dict[int, asyncio.Lock] = {}

    async def sync(self, case_id: int, now: datetime | None = None) -> None:
        lock = self._locks.setdefault(case_id, asyncio.Lock())
        try:
            async with lock:
                moment = now or datetime.now(self.tz)
                # Twice at most: a resident found to have blocked the bot closes the case, and
                # the group is to be told at once.
                for _ in range(2):
                    if self.desk is not None:
                        await self._sync_desk(case_id, moment)
                    if await self._deliver(case_id, moment):
                        continue  # the case was closed meanwhile: its notice goes first
                    if self.desk is not None:
                        # Closed after the last messages went: a closed topic takes no more.
                        await self._sync_topic(case_id, closing=True)
                    break
        finally:
            if not lock.locked() and not lock._waiters:
                self._locks.pop(case_id, None)

    # The desk ----------------------------------------------------------------------------------

    async def _sync_desk(self, case_id: int, now: datetime) -> None:
        assert self.desk is not None
        async with self.sessions() as session:
            case = await self.cases.get(session, case_id)
            if case is None:
                return
            shown = card(case, self.tz, CardFacts(callbacks.phone_of(self.cases, case), now))
        if case.card_message_id is None:
            if case.state == CaseState.closed or not await self._take_desk(case_id, now):
                return
            try:
                ref = await self.desk.open_case(shown)
            except Exception:
                log.exception(
                    "could not open a case in the advisors' group", extra={"case": case_id}
                )
                await self._set(case_id, desk_claimed_at=None)
                return
            await self._set(
                case_id,
                desk_chat_id=ref.chat_id,
                desk_thread_id=ref.thread_id,
                card_message_id=ref.card_message_id,
                card_digest=digest(shown),
            )
            return
        ref = DeskRef(case.desk_chat_id or 0, case.desk_thread_id, case.card_message_id)
        if case.card_digest != digest(shown):
            try:
                await self.desk.edit_card(ref, shown)
                await self._set(case_id, card_digest=digest(shown))
            except Exception:
                log.exception("could not update a case's card", extra={"case": case_id})
        await self._sync_topic(case_id, closing=False, case=case)

    async def _sync_topic(
        self, case_id: int, *, closing: bool, case: Escalation | None = None
    ) -> None:
        """Reopen the topic of a reopened case (before its messages), close that of a closed
        one (after them)."""
        assert self.desk is not None
        if case is None:
            async with self.sessions() as session:
                case = await self.cases.get(session, case_id)
        if case is None or case.card_message_id is None:
            return
        closed = case.state == CaseState.closed
        if case.topic_closed == closed or closed != closing:
            return
        ref = DeskRef(case.desk_chat_id or 0, case.desk_thread_id, case.card_message_id)
        try:
            if closed and case.closed_by == "stop":
                await self.desk.delete_case(ref)
            else:
                await self.desk.set_closed(ref, closed)
            await self._set(case_id, topic_closed=closed)
        except Exception:
            log.exception("could not close or reopen a case's topic", extra={"case": case_id})

    async def _take_desk(self, case_id: int, now: datetime) -> bool:
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(Escalation)
                .where(
                    col(Escalation.id) == case_id,
                    col(Escalation.card_message_id).is_(None),
                    or_(
                        col(Escalation.desk_claimed_at).is_(None),
                        col(Escalation.desk_claimed_at) < now - STALE_AFTER,
                    ),
                )
                .values(desk_claimed_at=datetime.now(self.tz))
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    async def _set(self, case_id: int, **values: object) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Escalation).where(col(Escalation.id) == case_id).values(**values)
            )

    # Messages ----------------------------------------------------------------------------------

    async def _deliver(self, case_id: int, now: datetime) -> bool:
        """Send what is due; True when that closed the case (the resident blocked the bot)."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(EscalationMessage)
                .where(
                    col(EscalationMessage.escalation_id) == case_id,
                    or_(_due("to_desk", now), _due("to_resident", now)),
                )
                .order_by(col(EscalationMessage.id))
            )
            messages = list(rows.scalars())
            case = await self.cases.get(session, case_id)
            found = (
                await reach.resident(session, case.channel, case.user_key)
                if case is not None and case.user_key is not None
                else None
            )
        if case is None:
            return False
        chat_id = reach.chat_id(self.cases.keyring, found)
        for message in messages:
            # Waits while the case has no card in the group yet (being made, or the group away).
            desk_ready = self.desk is not None and case.card_message_id is not None
            if desk_ready and message.to_desk in (Delivery.pending, Delivery.sending):
                await self._one(message, "to_desk", now, self._to_desk, case)
            if message.to_resident in (Delivery.pending, Delivery.sending):
                sent = await self._one(
                    message, "to_resident", now, self._to_resident, case, chat_id
                )
                if sent is Delivery.failed and message.kind != "closed":
                    return True
        return False

    async def _one(
        self,
        message: EscalationMessage,
        side: str,
        now: datetime,
        send: Callable[..., Awaitable[int | None]],
        case: Escalation,
        *args: object,
    ) -> Delivery | None:
        """Take one message for one side and send it: how it went (None: another took it, or
        it cannot be sent yet)."""
        column = getattr(EscalationMessage, side)
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(EscalationMessage)
                .where(col(EscalationMessage.id) == message.id, _due(side, now))
                .values(
                    {
                        column: Delivery.sending,
                        # The moment it is taken, not the sweep's: a long sweep must not make
                        # its own rows look stale to another replica.
                        "sending_since": datetime.now(self.tz),
                        "attempts": col(EscalationMessage.attempts) + 1,
                    }
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                return None  # another sender took it
        state: Delivery
        posted: int | None = None
        try:
            posted = await send(message, case, *args)
            state = Delivery.sent
        except NotYet:
            state = Delivery.pending  # Telegram not connected yet: the sweeper sends it later
        except NoChat:
            state = Delivery.failed  # no chat id kept (the case has ended): nothing to send to
        except Unreachable:
            state = Delivery.failed
            await self._blocked(case, now)
        except Exception:
            where = {"escalation_message": message.id, "side": side}
            log.exception("relay failed; tried again", extra=where)
            state = Delivery.failed if message.attempts + 1 >= MAX_ATTEMPTS else Delivery.pending
        # Recorded apart from the sending: a failure here must not make a sent message look
        # unsent (it would be sent again).
        values: dict[Any, object] = {column: state, "sending_since": None}
        if posted is not None and side == "to_desk":
            values["desk_message_id"] = posted
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(EscalationMessage)
                .where(col(EscalationMessage.id) == message.id)
                .values(values)
            )
        if side == "to_resident" and message.kind == "closed" and state != Delivery.pending:
            await self._release(case)
        return state

    async def _to_desk(self, message: EscalationMessage, case: Escalation) -> int:
        assert self.desk is not None and case.card_message_id is not None
        ref = DeskRef(case.desk_chat_id or 0, case.desk_thread_id, case.card_message_id)
        if message.kind == "ended" and case.closed_by == "stop":
            # Said in the group's general chat: the case's own topic is about to be deleted.
            return await self.desk.post_general(ref.chat_id, to_desk(message))
        return await self.desk.post(ref, to_desk(message))

    async def _to_resident(
        self, message: EscalationMessage, case: Escalation, chat_id: str | None
    ) -> None:
        if self.line is None:
            raise NotYet("Telegram is not connected")
        if chat_id is None:
            raise NoChat("no chat id kept for this resident")
        assert case.id is not None
        await self.line.send(chat_id, to_resident(message, case.id))

    async def _release(self, case: Escalation) -> None:
        """The resident has been told the case closed (or cannot be): the chat id has served
        its purpose."""
        if case.user_key is None or case.id is None:
            return
        try:
            async with self.sessions() as session, session.begin():
                current = await self.cases.get(session, case.id)
                if current is not None and current.state == CaseState.closed:
                    await reach.release(
                        session,
                        channel=case.channel,
                        user_key=case.user_key,
                        purpose=ESCALATION,
                        now=datetime.now(self.tz),
                    )
        except Exception:
            log.exception("could not drop a resident's chat id; retention drops it later")

    async def _blocked(self, case: Escalation, now: datetime) -> None:
        assert case.id is not None
        async with self.sessions() as session, session.begin():
            if case.user_key is not None:
                await reach.mark_inactive(
                    session, channel=case.channel, user_key=case.user_key, now=now
                )
            await self.cases.close(
                session, case.id, by="blocked", actor="system", note="居民已屏蔽本助手", now=now
            )


def _due(side: str, now: datetime) -> ColumnElement[bool]:
    column = getattr(EscalationMessage, side)
    return or_(
        col(column) == Delivery.pending,
        and_(
            col(column) == Delivery.sending,
            col(EscalationMessage.sending_since) < now - STALE_AFTER,
        ),
    )
