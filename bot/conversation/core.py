"""The conversation: one async ``handle`` from a resident's action to the replies.

Each action is answered in one transaction: the resident's step is read (``steps``), the
handler of their state for that kind of action runs (``TABLE``, drawn in ``conversation.mmd``),
and the step is written back if it changed. What must reach an advisor is written in the same
transaction and sent after it (``bot.escalations.relay``), off the resident's reply path.

The handlers live in ``answers`` (questions, buttons, places) and ``advisor`` (a case with a
person); ``/stop`` is the same in every state.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.conversation import advisor, answers, forwarded, reminders, texts
from bot.conversation.buttons import ReminderDetail, StopCopies, Unsubscribe, decode
from bot.conversation.messages import (
    Action,
    Command,
    Contact,
    Forwarded,
    Location,
    Media,
    Press,
    Reply,
    Text,
)
from bot.conversation.question_log import QuestionLogWriter
from bot.conversation.render import EntryReplies
from bot.conversation.steps import State, Step
from bot.escalations.office_hours import OfficeHours
from bot.escalations.relay import Relay
from bot.escalations.service import Cases
from bot.residents import reach, registry
from directory.service import Directory
from knowledge.service import KnowledgeBase

log = logging.getLogger(__name__)

Handler = Callable[["Conversation", "Turn", Any], Awaitable[list[Reply]]]


@dataclass
class Turn:
    """One action being answered: whose, where they are, and the transaction it runs in."""

    channel: str
    user_key: str
    step: Step
    now: datetime
    session: AsyncSession
    # The raw chat id, for a channel that can be written to later (Telegram); kept only when
    # a purpose needs it (an advisor's answer to come).
    chat_id: str | None = None
    # Cases whose messages are to be sent once the transaction is committed.
    cases_to_sync: set[int] = field(default_factory=set)
    forgotten: bool = False


@dataclass(frozen=True)
class Handlers:
    """What a state does with each kind of action; None: as when idle."""

    text: Handler | None = None
    press: Handler | None = None
    location: Handler | None = None
    media: Handler | None = None
    contact: Handler | None = None
    command: Handler | None = None

    def for_action(self, action: Action) -> Handler | None:
        kind: dict[type, Handler | None] = {
            Text: self.text,
            Press: self.press,
            Location: self.location,
            Media: self.media,
            Contact: self.contact,
            Command: self.command,
        }
        return kind[type(action)]


def _unless_menu(handler: Handler) -> Handler:
    """A step awaiting words (a birth month, a code, a name): a menu button's words, or a
    question, leave it and are answered; nobody is held in a step they forgot."""

    async def awaiting(conv: Conversation, turn: Turn, action: Text) -> list[Reply]:
        text = action.text.strip()
        if text in texts.MENU_WORDS or reminders.is_question(text):
            turn.step.reset()
            return await answers.on_text(conv, turn, action)
        return await handler(conv, turn, action)

    return awaiting


IDLE = Handlers(
    text=answers.on_text,
    press=answers.on_press,
    location=answers.on_location,
    media=answers.on_media,
    contact=answers.on_media,
    command=answers.on_command,
)
CASE = Handlers(
    text=advisor.relay,
    press=advisor.on_case_press,
    location=advisor.relay,
    media=advisor.relay,
    # A phone number is only ever taken for a callback (sealed, deleted at closing), never
    # relayed as it is.
    contact=advisor.on_contact,
    command=advisor.on_case_command,
)
TABLE: dict[State, Handlers] = {
    State.IDLE: IDLE,
    State.AWAIT_LOCATION: Handlers(text=answers.on_town_or_text),
    State.DESCRIBING: Handlers(
        text=advisor.on_need,
        press=advisor.on_describing_press,
        media=advisor.on_need,
        location=advisor.on_need,
    ),
    State.WITH_ADVISOR: CASE,
    State.AWAIT_CONTACT: Handlers(
        text=advisor.on_typed_phone,
        contact=advisor.on_contact,
        press=advisor.on_contact_press,
        media=advisor.relay,
        location=advisor.relay,
        command=advisor.on_case_command,
    ),
    State.AWAIT_WINDOW: Handlers(
        press=advisor.on_window_press,
        text=advisor.relay,
        media=advisor.relay,
        location=advisor.relay,
        contact=advisor.on_contact,
        command=advisor.on_case_command,
    ),
    State.ASK_RESOLVED: Handlers(press=advisor.on_resolved_press),
    State.AWAIT_BIRTH: Handlers(text=_unless_menu(reminders.on_birth)),
    State.AWAIT_CODE: Handlers(text=_unless_menu(reminders.on_code)),
    State.AWAIT_CARE_LABEL: Handlers(text=_unless_menu(reminders.on_care_label)),
}
# The buttons under a reminder work whatever the resident is doing (even with an advisor).
UNDER_A_REMINDER = (ReminderDetail, Unsubscribe, StopCopies)
_UNDER_A_REMINDER_CODES = frozenset(kind.code for kind in UNDER_A_REMINDER)


class FallbackStreaks(OrderedDict[str, int]):
    """How many answers in a row found nothing, per resident: after two, a person is offered.
    Kept in memory, not with the step: it would cost a database write for every second
    question, and a count lost to a restart (or another replica) only delays an offer."""

    MAX = 50_000

    def count(self, user_key: str) -> int:
        value = self.pop(user_key, 0) + 1
        self[user_key] = value
        if len(self) > self.MAX:
            self.popitem(last=False)
        return value


class Conversation:
    def __init__(
        self,
        *,
        knowledge: KnowledgeBase,
        directory: Directory,
        sessions: async_sessionmaker[AsyncSession],
        tz: ZoneInfo,
        cases: Cases,
        office_hours: OfficeHours,
        relay: Relay | None = None,
        question_log: QuestionLogWriter | None = None,
        reminders_per_week: int = 3,
    ) -> None:
        self.knowledge = knowledge
        self.directory = directory
        self.sessions = sessions
        self.tz = tz
        self.cases = cases
        self.office_hours = office_hours
        self.relay = relay
        # The weekly cap, as the consent text states it.
        self.reminders_per_week = reminders_per_week
        # Questions are logged for staff off the reply path: gathered, then written together.
        self.question_log = question_log or QuestionLogWriter(sessions)
        self.entry_replies = EntryReplies()
        # One store with the cases: an advisor's close moves the resident on in it too.
        self.steps = cases.steps
        self._relaying: set[asyncio.Task[None]] = set()
        # Answers in a row that found nothing, per resident (this process; see FallbackStreaks).
        self.fallbacks = FallbackStreaks()
        # What "now" is when a channel does not say (tests of office hours set it).
        self.clock: Callable[[], datetime] = lambda: datetime.now(tz)

    async def flush(self) -> None:
        """Write the gathered questions now (tests, and before shutdown)."""
        await self.question_log.flush()

    async def settled(self) -> None:
        """Wait for the messages being relayed (tests, and before shutdown)."""
        while self._relaying:
            await asyncio.gather(*list(self._relaying), return_exceptions=True)

    async def close(self) -> None:
        await self.settled()
        await self.question_log.close()

    async def handle(
        self,
        channel: str,
        user_key: str,
        action: Action,
        now: datetime | None = None,
        *,
        chat_id: str | None = None,
    ) -> list[Reply]:
        moment = (now or self.clock()).astimezone(self.tz)
        if isinstance(action, Command) and action.name == "stop":
            await self.question_log.settle()
        for attempt in range(2):
            try:
                turn, replies = await self._in_transaction(
                    channel, user_key, action, moment, chat_id
                )
                break
            except IntegrityError:
                # Two of this resident's actions at once (two replicas, or the web chat's two
                # tabs) both opened a case: one did; the other sees it when tried again.
                if attempt:
                    raise
        for case_id in turn.cases_to_sync:
            self._sync_later(case_id)
        return replies

    async def _in_transaction(
        self,
        channel: str,
        user_key: str,
        action: Action,
        moment: datetime,
        chat_id: str | None,
    ) -> tuple[Turn, list[Reply]]:
        async with self.sessions() as session, session.begin():
            step = await self.steps.load(session, channel, user_key)
            before = step.copy()
            turn = Turn(channel, user_key, step, moment, session, chat_id)
            replies = await self.dispatch(turn, action)
            if turn.forgotten:
                await self.steps.forget(session, channel, user_key)
            else:
                await self.steps.save(session, channel, user_key, step, before)
        return turn, replies

    async def dispatch(self, turn: Turn, action: Action) -> list[Reply]:
        """The handler of the resident's state for this action (as idle when it has none)."""
        if isinstance(action, Command) and action.name == "stop":
            return [await self._forget(turn)]
        if isinstance(action, Forwarded):
            return [await forwarded.check(turn, action)]
        # Only these buttons' data are decoded here; every other press once, by its handler.
        if (
            isinstance(action, Press)
            and action.data.partition("|")[0] in _UNDER_A_REMINDER_CODES
            and isinstance(data := decode(action.data), UNDER_A_REMINDER)
        ):
            return await reminders.on_press(self, turn, data)
        handler = TABLE[turn.step.state].for_action(action) or IDLE.for_action(action)
        assert handler is not None
        return await handler(self, turn, action)

    def _sync_later(self, case_id: int) -> None:
        if self.relay is None:
            return
        task = asyncio.create_task(self.relay.sync(case_id), name=f"relay-{case_id}")
        self._relaying.add(task)
        task.add_done_callback(self._relayed)

    def _relayed(self, task: asyncio.Task[None]) -> None:
        self._relaying.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("relaying a case failed; the sweeper tries again", exc_info=task.exception())

    async def unreachable(self, channel: str, user_key: str, now: datetime) -> None:
        """The resident blocked the bot: nothing more is sent to them, and a case under way is
        closed with a word to the advisor."""
        async with self.sessions() as session, session.begin():
            await reach.mark_inactive(session, channel=channel, user_key=user_key, now=now)
            case = await self.cases.current(session, channel, user_key)
            if case is not None:
                assert case.id is not None
                await self.cases.close(
                    session, case.id, by="blocked", actor="system", note="居民已屏蔽本助手", now=now
                )
        if case is not None and case.id is not None:
            self._sync_later(case.id)

    async def _forget(self, turn: Turn) -> Reply:
        """/stop: a case under way is closed (the advisor is told), then everything kept under
        this resident's key is deleted, by the same registry the retention purge uses."""
        case = await self.cases.current(turn.session, turn.channel, turn.user_key)
        if case is not None:
            assert case.id is not None
            await self.cases.close(
                turn.session, case.id, by="stop", actor=advisor.RESIDENT, now=turn.now
            )
            turn.cases_to_sync.add(case.id)
        self.question_log.forget(turn.user_key)
        await reminders.before_forget(turn)
        await registry.forget(turn.session, turn.channel, turn.user_key)
        turn.forgotten = True
        return Reply(texts.DATA_DELETED)
