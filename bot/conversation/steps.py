"""Where a resident is in the conversation: one store, ``conversation_state``, for Telegram and
the web chat alike, read and written in the transaction of the action being answered (and only
written when it changed: residents who only ask leave no row).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.conversation.models import ConversationState, utcnow
from knowledge.models import upsert


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
    # 提醒设置: the birth year and month, a code (/bind), a name for a family member's copies.
    AWAIT_BIRTH = "await_birth"
    AWAIT_CODE = "await_code"
    AWAIT_CARE_LABEL = "await_care_label"


@dataclass
class Step:
    state: State = State.IDLE
    category: str | None = None
    town: str | None = None
    escalation_id: int | None = None

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


_COLUMNS = select(
    col(ConversationState.id),
    col(ConversationState.state),
    col(ConversationState.category),
    col(ConversationState.town),
    col(ConversationState.escalation_id),
)


def _step(row: Any) -> Step:
    return Step(
        state=_state(row.state),
        category=row.category,
        town=row.town,
        escalation_id=row.escalation_id,
    )


# Steps kept in memory per process, for a channel whose updates only this process receives.
MAX_CACHED_STEPS = 100_000


def _values(step: Step) -> dict[str, object]:
    values = {f.name: getattr(step, f.name) for f in fields(step)}
    values["state"] = None if step.state is State.IDLE else step.state.value
    return values


def _upsert(dialect: str, row: dict[str, Any]) -> Any:
    return upsert(dialect, ConversationState, row, "id")


_AFTER_COMMIT = "steps_after_commit"


def _after_commit(session: AsyncSession, apply: Callable[[], None]) -> None:
    """Run ``apply`` once ``session``'s transaction is committed (never, if it rolls back): the
    memory follows the database, not a write that did not happen."""
    pending: list[Callable[[], None]] | None = session.info.get(_AFTER_COMMIT)
    if pending is None:
        pending = session.info[_AFTER_COMMIT] = []

        def committed(sync_session: Any) -> None:
            for change in sync_session.info.pop(_AFTER_COMMIT, []):
                change()

        def rolled_back(sync_session: Any, previous_transaction: Any = None) -> None:
            sync_session.info.pop(_AFTER_COMMIT, None)

        event.listen(session.sync_session, "after_commit", committed, once=True)
        event.listen(session.sync_session, "after_soft_rollback", rolled_back, once=True)
    pending.append(apply)


class StepStore:
    """Reads and writes steps inside a caller's transaction.

    For the channels in ``cached`` (Telegram when polling: Telegram hands its updates to one
    process only) the steps are also kept in memory, so that a question costs no database
    round trip. Everything that moves a resident into a case happens in the process that has
    their updates; moves out of a case made elsewhere (the console, the CLI, another replica)
    are caught by the case handlers, which look at the case itself in the database.
    """

    def __init__(self, cached: frozenset[str] = frozenset()) -> None:
        self.cached = cached
        # Steps that are not the default one; with the channel in ``_complete``, a resident
        # missing here has the default step (no query needed).
        self._steps: OrderedDict[str, Step] = OrderedDict()
        self._complete: set[str] = set()

    def _remember(self, key: str, step: Step) -> None:
        if step == Step():
            self._steps.pop(key, None)
            return
        self._steps[key] = step.copy()
        self._steps.move_to_end(key)
        if len(self._steps) > MAX_CACHED_STEPS:
            self._steps.popitem(last=False)
            self._complete.clear()  # forgotten ones would now read as the default: read again

    async def preload(self, sessions: async_sessionmaker[AsyncSession], channel: str) -> int:
        """Read every kept step of ``channel`` once (at start): from then on a resident who
        has none costs no query at all. Steps made later by this process are remembered as they
        are written; other processes only ever update existing rows."""
        if channel not in self.cached:
            return 0
        prefix = f"{channel}:"
        async with sessions() as session:
            rows = await session.execute(
                _COLUMNS.where(col(ConversationState.id).startswith(prefix)).limit(
                    MAX_CACHED_STEPS + 1
                )
            )
            found = [(row.id, _step(row)) for row in rows]
        if len(found) > MAX_CACHED_STEPS:
            return 0  # too many to hold: read resident by resident
        for key, step in found:
            self._remember(key, step)
        self._complete.add(channel)
        return len(found)

    async def load(self, session: AsyncSession, channel: str, user_key: str) -> Step:
        key = step_id(channel, user_key)
        if channel in self.cached:
            known = self._steps.get(key)
            if known is not None:
                return known.copy()
            if channel in self._complete:
                return Step()
        row = (await session.execute(_COLUMNS.where(col(ConversationState.id) == key))).first()
        step = _step(row) if row is not None else Step()
        if channel in self.cached:
            self._remember(key, step)
        return step.copy()

    async def save(
        self, session: AsyncSession, channel: str, user_key: str, step: Step, before: Step
    ) -> None:
        """Write ``step`` if it changed since ``before`` (the step as loaded)."""
        if step == before:
            return
        key = step_id(channel, user_key)
        row = {"id": key, **_values(step), "updated_at": utcnow()}
        dialect = (await session.connection()).dialect.name
        await session.execute(_upsert(dialect, row))
        if channel in self.cached:
            kept = step.copy()
            _after_commit(session, lambda: self._remember(key, kept))

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
        key = step_id(channel, user_key)
        statement = (
            update(ConversationState)
            .where(col(ConversationState.id) == key)
            .values(
                state=None if state is State.IDLE else state.value, updated_at=utcnow(), **changes
            )
        )
        if only_from:
            statement = statement.where(
                col(ConversationState.state).in_([s.value for s in only_from])
            )
        await session.execute(statement)

        def moved() -> None:
            known = self._steps.get(key)
            if known is not None and (not only_from or known.state in only_from):
                known.state = state
                for name, value in changes.items():
                    setattr(known, name, value)

        _after_commit(session, moved)

    def forget_cached(self, channel: str, user_key: str) -> None:
        self._steps.pop(step_id(channel, user_key), None)

    async def forget(self, session: AsyncSession, channel: str, user_key: str) -> None:
        _after_commit(session, lambda: self.forget_cached(channel, user_key))
        await session.execute(
            delete(ConversationState).where(col(ConversationState.id) == step_id(channel, user_key))
        )
