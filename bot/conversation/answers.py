"""The idle resident's handlers: questions answered from the knowledge base, the buttons under
answers, and the nearest places."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversation import advisor, reminders, render, texts
from bot.conversation.buttons import (
    REMINDER_KINDS,
    AskAdvisor,
    ChooseCategory,
    Feedback,
    FindNearby,
    Reopen,
    Resolved,
    ShowDetail,
    ShowEntry,
    ShowPlace,
    ShowRelated,
    decode,
)
from bot.conversation.messages import Action, Command, Location, Press, Reply, Text
from bot.conversation.models import AnswerFeedback
from bot.conversation.steps import State
from directory.places import CATEGORY_BY_CODE, find_town, nearest_town

if TYPE_CHECKING:
    from bot.conversation.core import Conversation, Turn

NEARBY_LIMIT = 5
MENU_REPLY = Reply(texts.HELP_TEXT, keyboard=texts.MENU)


async def on_command(conv: Conversation, turn: Turn, action: Command) -> list[Reply]:
    if action.name == "start":
        turn.step.reset()
        # Writing again after blocking the bot: reminders may reach the resident again.
        await reminders.active_again(conv, turn)
        return [Reply(texts.GREETING, keyboard=texts.MENU)]
    if action.name == "remind":
        return await reminders.show(conv, turn)
    if action.name == "bind":
        return await reminders.bind(conv, turn, action.args)
    if action.name == "hotline":
        return [Reply(texts.HOTLINES)]
    if action.name == "advisor":
        return await advisor.begin(conv, turn)
    return [MENU_REPLY]


async def on_media(conv: Conversation, turn: Turn, action: Action) -> list[Reply]:
    return [Reply(texts.TEXT_ONLY)]


async def on_text(conv: Conversation, turn: Turn, action: Text) -> list[Reply]:
    text = action.text.strip()
    step = turn.step
    if text == texts.ASK_POLICY:
        step.reset()
        return [Reply(texts.ASK_PROMPT)]
    if text == texts.FIND_PLACE:
        step.reset()
        return [render.choose_category()]
    if text == texts.ADVISOR:
        return await advisor.begin(conv, turn)
    if text == texts.HELP:
        return [MENU_REPLY]
    if text == texts.REMIND:
        return await reminders.show(conv, turn)
    return [answer(conv, turn, text)]


async def on_town_or_text(conv: Conversation, turn: Turn, action: Text) -> list[Reply]:
    """A category chosen: a town's name finds its places; anything else is a question."""
    town = find_town(action.text.strip())
    if town is None:
        return await on_text(conv, turn, action)
    category = turn.step.category
    turn.step.reset()
    turn.step.town = town.name
    results = conv.directory.index.search(
        now=turn.now,
        category=category,
        town=town.name,
        near=(town.latitude, town.longitude),
        limit=NEARBY_LIMIT,
    )
    sample = conv.directory.index.has_sample_data
    return [render.places_reply(results, category, town=town.name, sample_data=sample)]


def answer(conv: Conversation, turn: Turn, text: str) -> Reply:
    found = conv.knowledge.ask(text, now=turn.now)
    conv.question_log.add(
        user_key=turn.user_key,
        channel=turn.channel,
        text=text,
        entry_id=None if found.fallback or not found.entry else found.entry.id,
        score=found.score,
        fallback=found.fallback,
    )
    if found.empty:
        return Reply(texts.EMPTY_PROMPT)
    if found.fallback or found.entry is None:
        # Two in a row: a person is offered, never forced.
        in_a_row = conv.fallbacks.count(turn.user_key)
        return render.fallback_reply(found, offer_advisor=in_a_row >= 2)
    conv.fallbacks.pop(turn.user_key, None)
    return conv.entry_replies.get(found.entry, turn.now.date())


async def on_location(conv: Conversation, turn: Turn, action: Location) -> list[Reply]:
    step = turn.step
    category = step.category if step.state == State.AWAIT_LOCATION else None
    step.reset()
    near = (action.latitude, action.longitude)
    town = nearest_town(*near)
    if town is not None:
        step.town = town.name
    results = conv.directory.index.search(
        now=turn.now, category=category, near=near, limit=NEARBY_LIMIT
    )
    return [
        render.places_reply(
            results,
            category,
            sample_data=conv.directory.index.has_sample_data,
            narrow=category is None and bool(results),
        )
    ]


async def on_press(conv: Conversation, turn: Turn, action: Press) -> list[Reply]:
    data = decode(action.data)
    entries = conv.knowledge.index.entries
    step = turn.step
    if isinstance(data, ShowEntry) and (entry := entries.get(data.entry_id)):
        return [conv.entry_replies.get(entry, turn.now.date())]
    if isinstance(data, ShowDetail):
        entry = entries.get(data.entry_id)
        if entry and data.field in entry.details:
            return [render.detail_reply(entry, data.field)]
    if isinstance(data, ShowRelated) and (entry := entries.get(data.entry_id)):
        return [render.related_reply([entries[r] for r in entry.related if r in entries])]
    if isinstance(data, Feedback) and data.entry_id in entries:
        turn.session.add(
            AnswerFeedback(user_key=turn.user_key, entry_id=data.entry_id, helpful=data.helpful)
        )
        return [Reply(texts.THANKS, acknowledges_press=True)]
    if isinstance(data, ChooseCategory | FindNearby) and data.category in CATEGORY_BY_CODE:
        step.category = data.category
        step.state = State.AWAIT_LOCATION
        return [render.ask_location(data.category)]
    if isinstance(data, AskAdvisor):
        return await advisor.begin(conv, turn)
    if isinstance(data, REMINDER_KINDS):
        return await reminders.on_press(conv, turn, data)
    if isinstance(data, Resolved | Reopen):
        return await advisor.on_resolved_press(conv, turn, action)
    if isinstance(data, ShowPlace) and (
        facility := conv.directory.index.by_id.get(data.service_id)
    ):
        return [render.place_reply(facility)]
    if data is not None and type(data).__name__ in {"EndAdvisor", "AskCallback", "CallbackWindow"}:
        return [Reply(texts.CASE_GONE, keyboard=texts.MENU)]
    # An old or unknown button: start again rather than fail.
    step.reset()
    return [MENU_REPLY]
