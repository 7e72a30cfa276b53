"""Where a resident is in the conversation: one store, ``conversation_state``, for Telegram and
the web chat alike, read and written in the transaction of the action being answered.

The step is read from the database for every action rather than kept in memory: an advisor
claiming or closing a case (in this process or another replica) moves the resident to another
state, and the resident's next message must see it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.conversation.models import ConversationState, utcnow


class State(StrEnum):
    """The conversation's states; ``conversation.mmd`` draws them and ``core.TABLE`` maps each
    to its handlers."""

    IDLE = "idle"
    # A category chosen: a location (or a town's name) is awaited.
    AWAIT_LOCATION = "await_location"
    # An advisor asked for: the resident may say what they need first.
    DESCRIBING = "describing"
    # A case open or claimed: what the resident sends goes to the advisor, not the matcher.
    WITH_ADVISOR = "with_advisor"
    # A phone callback asked for: the number is awaited, then the time of day.
    AWAIT_CONTACT = "await_contact"
    AWAIT_WINDOW = "await_window"
    # The case was closed: 问题解决了吗？
    ASK_RESOLVED = "ask_resolved"


@dataclass
class Step:
    state: State = State.IDLE
    category: str | None = None
    town: str | None = None
    escalation_id: int | None = None
    fallbacks: int = 0

    def reset(self) -> None:
        self.state, self.category = State.IDLE, None

    def copy(self) -> Step:
        return replace(self)


def step_id(channel: str, user_key: str) -> str:
    return f"{channel}:{user_key}"


def _state(raw: str | None) -> State:
    try:
        return State(raw) if raw else State.IDLE
    except ValueError:
        return State.IDLE  # a state of an older version: start afresh


def _from_row(row: ConversationState) -> Step:
    return Step(
        state=_state(row.state),
        category=row.category,
        town=row.town,
        escalation_id=row.escalation_id,
        fallbacks=row.fallbacks or 0,
    )


class StepStore:
    """Reads and writes steps inside a caller's transaction."""

    async def load(
        self, session: AsyncSession, channel: str, user_key: str
    ) -> tuple[Step, ConversationState | None]:
        row = await session.get(ConversationState, step_id(channel, user_key), with_for_update=True)
        return (_from_row(row) if row else Step()), row

    async def save(
        self,
        session: AsyncSession,
        channel: str,
        user_key: str,
        step: Step,
        row: ConversationState | None,
        before: Step | None,
    ) -> None:
        """Write ``step`` if it changed since ``before`` (the step as loaded)."""
        if row is not None and before == step:
            return
        if row is None and step == Step():
            return  # nothing worth keeping: no row for residents who only ask
        values = {f.name: getattr(step, f.name) for f in fields(step)}
        values["state"] = None if step.state is State.IDLE else step.state.value
        if row is None:
            session.add(ConversationState(id=step_id(channel, user_key), **values))
            return
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = utcnow()

    async def move(
        self,
        session: AsyncSession,
        channel: str,
        user_key: str,
        state: State,
        *,
        only_from: tuple[State, ...] = (),
        **changes: object,
    ) -> None:
        """Move another resident to ``state`` (an advisor closed their case), if they are in one
        of ``only_from`` (any, when empty)."""
        statement = (
            update(ConversationState)
            .where(col(ConversationState.id) == step_id(channel, user_key))
            .values(
                state=None if state is State.IDLE else state.value, updated_at=utcnow(), **changes
            )
        )
        if only_from:
            statement = statement.where(
                col(ConversationState.state).in_([s.value for s in only_from])
            )
        await session.execute(statement)

    async def forget(self, session: AsyncSession, channel: str, user_key: str) -> None:
        await session.execute(
            delete(ConversationState).where(col(ConversationState.id) == step_id(channel, user_key))
        )
