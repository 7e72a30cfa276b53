"""The conversation itself: one async ``handle`` from an action to replies.

Steps that span messages (choosing a category, then sending a location) are kept in the
database, so a restart in the middle loses nothing: in ``conversation_state`` for the web chat, and
in the mapping a channel hands in for Telegram (python-telegram-bot's ``user_data``, which
``bot.telegram.persistence`` stores). Button data are short codes (``d|<entry>|materials``) well
under Telegram's 64 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable
from sqlmodel import SQLModel, col

from bot.conversation import texts
from bot.conversation.messages import (
    Action,
    Button,
    Command,
    Location,
    Place,
    Press,
    Reply,
)
from bot.conversation.models import (
    AdvisorRequest,
    AnswerFeedback,
    ConversationState,
    utcnow,
)
from bot.conversation.question_log import QuestionLogWriter
from directory.places import CATEGORIES, CATEGORY_BY_CODE, find_town
from directory.search import Result
from directory.service import Directory
from knowledge.matcher import Answer
from knowledge.service import KnowledgeBase
from knowledge.store import PublishedEntry

log = logging.getLogger(__name__)

AWAIT_LOCATION = "await_location"
NEARBY_LIMIT = 5
# Entry replies kept built (a few per entry: before and after its review date).
MAX_CACHED_REPLIES = 4096
# A resident's advisor requests closer together than this are recorded once.
ADVISOR_REPEAT_S = 30 * 60
MAX_ADVISOR_REMEMBERED = 50_000
# Where a channel's own mapping (Telegram's user_data) keeps the step.
STEP_KEY = "step"


@dataclass
class Step:
    """Where a resident is in a conversation."""

    pending: str | None = None
    category: str | None = None
    last_entry_id: str | None = None
    # Set by /stop: the resident's data is to be deleted, the step included.
    forgotten: bool = False

    def as_dict(self) -> dict[str, str]:
        values = {
            "pending": self.pending,
            "category": self.category,
            "last_entry_id": self.last_entry_id,
        }
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_dict(cls, data: object) -> Step:
        if not isinstance(data, dict):
            return cls()
        fields = ("pending", "category", "last_entry_id")
        return cls(**{k: data[k] for k in fields if isinstance(data.get(k), str)})


def pseudonym(secret: str, channel: str, raw_id: str) -> str:
    """A keyed hash of a resident's id: logs never hold the raw Telegram id."""
    digest = hmac.new(secret.encode(), f"{channel}:{raw_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


@dataclass
class _Turn:
    """One action being answered: whose, where they are, and what it writes to the database."""

    channel: str
    user_key: str
    step: Step
    now: datetime
    # Rows to insert and statements to run, in order, in one transaction.
    writes: list[SQLModel | Executable] = field(default_factory=list)


async def _write(session: AsyncSession, writes: Sequence[SQLModel | Executable]) -> None:
    for write in writes:
        if isinstance(write, SQLModel):
            session.add(write)
        else:
            await session.execute(write)


def entry_reply(entry: PublishedEntry, expired: bool) -> Reply:
    """An entry's answer as residents see it, with its buttons (the console previews it)."""
    lines = [
        entry.title,
        "",
        entry.answer.strip(),
        "",
        f"来源：{entry.source}",
        f"最后核对：{entry.reviewed:%Y年%m月%d日}",
    ]
    if expired:
        lines.append("（这条内容已过核对期，请以办理窗口的最新要求为准）")
    rows: list[tuple[Button, ...]] = [
        (Button("有帮助", f"fb|{entry.id}|1"), Button("没帮助", f"fb|{entry.id}|0"))
    ]
    details = tuple(
        Button(label, f"d|{entry.id}|{field}")
        for field, label in texts.DETAIL_LABELS.items()
        if field in entry.details
    )
    if details:
        rows.append(details[:3])
        if details[3:]:
            rows.append(details[3:])
    extra = []
    if entry.related:
        extra.append(Button("相关问题", f"rel|{entry.id}"))
    if entry.facility_category:
        extra.append(Button("找附近的服务点", f"near|{entry.facility_category}"))
    if extra:
        rows.append(tuple(extra))
    return Reply("\n".join(lines), buttons=tuple(rows))


class Conversation:
    def __init__(
        self,
        *,
        knowledge: KnowledgeBase,
        directory: Directory,
        sessions: async_sessionmaker[AsyncSession],
        tz: ZoneInfo,
        question_log: QuestionLogWriter | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.directory = directory
        self.sessions = sessions
        self.tz = tz
        # Questions are logged for staff off the reply path: gathered, then written together.
        self.question_log = question_log or QuestionLogWriter(sessions)
        # When each resident last asked for an advisor (this process), to throttle repeats.
        self._advisor_asked: dict[str, datetime] = {}
        # (id of the entry, past its review date) -> (the entry, its reply); see _entry_reply.
        self._entry_replies: dict[tuple[int, bool], tuple[PublishedEntry, Reply]] = {}

    async def flush(self) -> None:
        """Write the gathered questions now (tests, and before shutdown)."""
        await self.question_log.flush()

    async def close(self) -> None:
        await self.question_log.close()

    async def handle(
        self,
        channel: str,
        user_key: str,
        action: Action,
        now: datetime | None = None,
        store: MutableMapping[Any, Any] | None = None,
    ) -> list[Reply]:
        """Answer one action. The step is read from and written to ``store`` when a channel keeps
        it itself (Telegram's persisted ``user_data``), otherwise to ``conversation_state``.

        With ``store``, the database is opened only for an action that writes (feedback, an
        advisor request, /stop): a question costs no transaction on the reply path."""
        moment = (now or datetime.now(self.tz)).astimezone(self.tz)
        if isinstance(action, Command) and action.name == "stop":
            await self.question_log.settle()
        if store is not None:
            turn = _Turn(channel, user_key, Step.from_dict(store.get(STEP_KEY)), moment)
            before = turn.step.as_dict()
            replies = self._dispatch(turn, action)
            if turn.writes:
                async with self.sessions() as session, session.begin():
                    await _write(session, turn.writes)
            if turn.step.forgotten:
                store.clear()
            elif turn.step.as_dict() != before or STEP_KEY not in store:
                store[STEP_KEY] = turn.step.as_dict()
            return replies
        async with self.sessions() as session, session.begin():
            row = await session.get(ConversationState, f"{channel}:{user_key}")
            step = Step(row.pending, row.category, row.last_entry_id) if row else Step()
            turn = _Turn(channel, user_key, step, moment)
            before = step.as_dict()
            replies = self._dispatch(turn, action)
            await _write(session, turn.writes)
            if step.forgotten:
                if row is not None:
                    await session.delete(row)
            elif row is None:
                session.add(
                    ConversationState(
                        id=f"{channel}:{user_key}",
                        pending=step.pending,
                        category=step.category,
                        last_entry_id=step.last_entry_id,
                    )
                )
            elif step.as_dict() != before:
                row.pending, row.category = step.pending, step.category
                row.last_entry_id = step.last_entry_id
                row.updated_at = utcnow()
        return replies

    def _dispatch(self, turn: _Turn, action: Action) -> list[Reply]:
        state = turn.step
        if isinstance(action, Command) and action.name == "stop":
            return [self._forget(turn)]
        if isinstance(action, Command):
            return self._command(action.name, state)
        if isinstance(action, Location):
            return self._nearby(state, action.latitude, action.longitude, turn.now)
        if isinstance(action, Press):
            return self._press(turn, action.data)
        text = action.text.strip()
        if text == texts.ASK_POLICY:
            state.pending = None
            return [Reply(texts.ASK_PROMPT)]
        if text == texts.FIND_PLACE:
            return [self._choose_category(state)]
        if text == texts.ADVISOR:
            return [self._advisor(turn)]
        if text == texts.HELP:
            return [Reply(texts.HELP_TEXT, keyboard=texts.MENU)]
        if state.pending == AWAIT_LOCATION and (town := find_town(text)) is not None:
            return self._in_town(state, town.name, town.latitude, town.longitude, turn.now)
        return [self._answer(turn, text)]

    # Commands and menu --------------------------------------------------------------------

    def _forget(self, turn: _Turn) -> Reply:
        """/stop: delete everything kept under this resident's key."""
        user_key, state = turn.user_key, turn.step
        self._advisor_asked.pop(user_key, None)
        self.question_log.forget(user_key)
        turn.writes.append(self.question_log.delete_statement(user_key))
        for table in (AnswerFeedback, AdvisorRequest):
            turn.writes.append(delete(table).where(col(table.user_key) == user_key))
        state.pending = state.category = state.last_entry_id = None
        state.forgotten = True
        return Reply(texts.DATA_DELETED)

    def _command(self, name: str, state: Step) -> list[Reply]:
        if name == "start":
            state.pending = None
            return [Reply(texts.GREETING, keyboard=texts.MENU)]
        if name == "hotline":
            return [Reply(texts.HOTLINES)]
        return [Reply(texts.HELP_TEXT, keyboard=texts.MENU)]

    def _choose_category(self, state: Step) -> Reply:
        state.pending = None
        rows = [
            tuple(Button(c.name, f"cat|{c.code}") for c in CATEGORIES[i : i + 2])
            for i in range(0, len(CATEGORIES), 2)
        ]
        return Reply(texts.CHOOSE_CATEGORY, buttons=tuple(rows))

    def _advisor(self, turn: _Turn) -> Reply:
        # One request is enough: repeats within a while are answered, not stored again.
        last = self._advisor_asked.get(turn.user_key)
        if last is not None and (turn.now - last).total_seconds() < ADVISOR_REPEAT_S:
            return Reply(texts.ADVISOR_ALREADY)
        if len(self._advisor_asked) >= MAX_ADVISOR_REMEMBERED:
            self._advisor_asked.clear()
        self._advisor_asked[turn.user_key] = turn.now
        turn.writes.append(
            AdvisorRequest(
                user_key=turn.user_key,
                channel=turn.channel,
                last_question=turn.step.last_entry_id,
            )
        )
        if turn.channel == "web":
            return Reply(texts.ADVISOR_RECORDED_WEB)
        return Reply(texts.ADVISOR_RECORDED)

    # Answers ------------------------------------------------------------------------------

    def _answer(self, turn: _Turn, text: str) -> Reply:
        answer = self.knowledge.ask(text, now=turn.now)
        self.question_log.add(
            user_key=turn.user_key,
            channel=turn.channel,
            text=text,
            entry_id=None if answer.fallback or not answer.entry else answer.entry.id,
            score=answer.score,
            fallback=answer.fallback,
        )
        if answer.empty:
            return Reply(texts.EMPTY_PROMPT)
        if answer.fallback or answer.entry is None:
            return self._fallback(answer)
        turn.step.last_entry_id = answer.entry.id
        return self._entry_reply(answer.entry, turn.now)

    def _fallback(self, answer: Answer) -> Reply:
        if answer.out_of_scope is not None:
            return Reply(
                f"{texts.OUT_OF_SCOPE}{answer.out_of_scope.advice}",
                buttons=((Button(texts.ADVISOR, "advisor"),),),
            )
        lines = [texts.NOT_FOUND]
        rows: list[tuple[Button, ...]] = []
        if answer.suggestions:
            lines.append(texts.MAYBE)
            rows.extend((Button(s.title, f"q|{s.entry_id}"),) for s in answer.suggestions)
            lines.append(f"都不是的话，可以联系养老顾问，或拨打 {texts.CITY_HOTLINE}。")
        else:
            lines.append(f"可以换个说法再问，也可以联系养老顾问，或拨打 {texts.CITY_HOTLINE}。")
        rows.append((Button(texts.ADVISOR, "advisor"),))
        return Reply("\n".join(lines), buttons=tuple(rows))

    def _entry_reply(self, entry: PublishedEntry, now: datetime) -> Reply:
        """An entry's answer with its buttons. The same for every resident until the entry is
        replaced (entries are immutable) or passes its review date, so it is built once."""
        expired = entry.review_by < now.date()
        key = (id(entry), expired)
        cached = self._entry_replies.get(key)
        if cached is not None and cached[0] is entry:
            return cached[1]
        reply = entry_reply(entry, expired)
        if len(self._entry_replies) >= MAX_CACHED_REPLIES:
            self._entry_replies.clear()  # content was replaced many times over: start afresh
        self._entry_replies[key] = (entry, reply)
        return reply

    # Buttons ------------------------------------------------------------------------------

    def _press(self, turn: _Turn, data: str) -> list[Reply]:
        state, now = turn.step, turn.now
        kind, _, rest = data.partition("|")
        entries = self.knowledge.index.entries
        if kind == "q" and (entry := entries.get(rest)):
            state.last_entry_id = entry.id
            return [self._entry_reply(entry, now)]
        if kind == "d":
            entry_id, _, field = rest.partition("|")
            entry = entries.get(entry_id)
            if entry and field in entry.details:
                label = texts.DETAIL_LABELS.get(field, field)
                return [Reply(f"{entry.title} · {label}\n\n{entry.details[field].strip()}")]
        if kind == "rel" and (entry := entries.get(rest)):
            related = [entries[r] for r in entry.related if r in entries]
            return [
                Reply(
                    "相关问题：",
                    buttons=tuple((Button(r.title, f"q|{r.id}"),) for r in related),
                )
            ]
        if kind == "fb":
            entry_id, _, value = rest.partition("|")
            if entry_id in entries and value in {"0", "1"}:
                turn.writes.append(
                    AnswerFeedback(user_key=turn.user_key, entry_id=entry_id, helpful=value == "1")
                )
                return [Reply(texts.THANKS, acknowledges_press=True)]
        if kind in {"cat", "near"} and rest in CATEGORY_BY_CODE:
            state.category = rest
            state.pending = AWAIT_LOCATION
            return [
                Reply(
                    f"找{CATEGORY_BY_CODE[rest].name}：{texts.SEND_LOCATION}", request_location=True
                )
            ]
        if kind == "advisor":
            return [self._advisor(turn)]
        if kind == "v" and (facility := self.directory.index.by_id.get(rest)):
            place = Place(
                facility.service_id,
                facility.name,
                facility.address,
                facility.phone,
                facility.hours,
                False,
                None,
                facility.latitude,
                facility.longitude,
            )
            lines = [
                facility.name,
                f"地址：{facility.address or '暂无'}",
                f"电话：{facility.phone or '暂无'}",
                f"时间：{facility.hours or '暂无'}",
            ]
            if facility.note:
                lines.append(f"（{facility.note}）")
            return [Reply("\n".join(lines), venue=place)]
        # An old or unknown button: start again rather than fail.
        return [Reply(texts.HELP_TEXT, keyboard=texts.MENU)]

    # Places -------------------------------------------------------------------------------

    def _nearby(self, state: Step, latitude: float, longitude: float, now: datetime) -> list[Reply]:
        category = state.category if state.pending == AWAIT_LOCATION else None
        state.pending = None
        results = self.directory.index.search(
            now=now, category=category, near=(latitude, longitude), limit=NEARBY_LIMIT
        )
        reply = self._places_reply(results, category)
        if category is None and results:
            narrow = tuple(
                tuple(Button(c.name, f"cat|{c.code}") for c in CATEGORIES[i : i + 2])
                for i in range(0, len(CATEGORIES), 2)
            )
            reply = Reply(
                reply.text + "\n可以选类别再找：",
                buttons=reply.buttons + narrow,
                places=reply.places,
            )
        return [reply]

    def _in_town(
        self,
        state: Step,
        town: str,
        latitude: float,
        longitude: float,
        now: datetime,
    ) -> list[Reply]:
        category = state.category
        state.pending = None
        results = self.directory.index.search(
            now=now,
            category=category,
            town=town,
            near=(latitude, longitude),
            limit=NEARBY_LIMIT,
        )
        return [self._places_reply(results, category, town)]

    def _places_reply(
        self, results: Sequence[Result], category: str | None, town: str | None = None
    ) -> Reply:
        if not results:
            return Reply(texts.NO_PLACES)
        what = CATEGORY_BY_CODE[category].name if category else "服务点"
        where = f"{town}的" if town else "离您最近的"
        lines = [f"{where}{what}："]
        places = []
        for n, result in enumerate(results, start=1):
            f = result.facility
            # For a town typed, distances would be from the town's centre, not the resident.
            shown = result.distance_m if town is None else None
            distance = f"，约{round(shown)}米" if shown is not None else ""
            state = "正在营业" if result.open_now else "已休息"
            lines.append(f"{n}. {f.name}{distance}（{state}）")
            lines.append(f"   地址：{f.address or '暂无'}；电话：{f.phone or '暂无'}")
            lines.append(f"   时间：{f.hours or '暂无'}")
            places.append(
                Place(
                    f.service_id,
                    f.name,
                    f.address,
                    f.phone,
                    f.hours,
                    result.open_now,
                    round(shown) if shown is not None else None,
                    f.latitude,
                    f.longitude,
                )
            )
        if self.directory.index.has_sample_data:
            lines.append(texts.SAMPLE_NOTE)
        # One button a place: pressing it shows the place on a map.
        buttons = tuple(
            (Button(f"📍 {n}. {place.name[:24]}", f"v|{place.service_id}"),)
            for n, place in enumerate(places, start=1)
            if place.latitude is not None
        )
        return Reply("\n".join(lines), buttons=buttons, places=tuple(places))
