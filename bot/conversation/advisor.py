"""The resident's side of a case with an eldercare advisor: asking for one (and saying what
they need first), talking while the case runs (everything relayed, nothing answered by the
bot), a phone callback, and the question after the case closes."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.conversation import texts
from bot.conversation.buttons import (
    AskAdvisor,
    AskCallback,
    CallbackWindow,
    CancelAdvisor,
    EndAdvisor,
    Reopen,
    Resolved,
    SkipDescribing,
    decode,
)
from bot.conversation.messages import (
    Action,
    Command,
    Contact,
    Location,
    Media,
    Press,
    Reply,
    Text,
)
from bot.conversation.steps import State
from bot.escalations import callbacks
from bot.escalations.cards import CASE_BUTTONS, reopen_buttons, solved_buttons
from bot.escalations.models import Escalation

if TYPE_CHECKING:
    from bot.conversation.core import Conversation, Turn

RESIDENT = "居民"
# What the card shows of the conversation before: the last turns of the past day.
TURNS = 10
TURNS_SINCE = timedelta(hours=24)
GUESSES = 3


def _opened_text(conv: Conversation, turn: Turn, case: Escalation) -> str:
    where = "这个页面" if turn.channel == "web" else "这里"
    head = f"已为您转给养老顾问（案件号 #{case.id}）。"
    if conv.office_hours.is_open(turn.now):
        return (
            f"{head}顾问一般几分钟内会在{where}回复您，请留意消息。\n"
            f"您可以接着把情况说清楚，照片、语音也可以发。"
        )
    return (
        f"{head}现在不是顾问的工作时间（{conv.office_hours.describe()}），"
        f"顾问会在{conv.office_hours.describe_next(turn.now)}以后在{where}回复您。\n"
        f"{texts.HOTLINES_MEANWHILE}"
    )


async def begin(conv: Conversation, turn: Turn) -> list[Reply]:
    """联系养老顾问: the resident may say what they need first."""
    if turn.channel == "telegram" and turn.chat_id is None:
        return [Reply(texts.ADVISOR_PRIVATELY)]
    case = await conv.cases.current(turn.session, turn.channel, turn.user_key)
    if case is not None:
        turn.step.state, turn.step.escalation_id = State.WITH_ADVISOR, case.id
        return [Reply(texts.WITH_ADVISOR_NOTE, buttons=CASE_BUTTONS)]
    turn.step.state = State.DESCRIBING
    buttons = (
        (SkipDescribing().button(texts.SKIP_DESCRIBING), CancelAdvisor().button(texts.CANCEL)),
    )
    return [Reply(texts.ADVISOR_DESCRIBE, buttons=buttons)]


async def _context(conv: Conversation, turn: Turn, need: str | None) -> dict[str, Any]:
    asked = await conv.question_log.recent(
        turn.session, turn.user_key, since=turn.now - TURNS_SINCE, limit=TURNS
    )
    entries = conv.knowledge.index.entries
    turns = []
    for row in asked:
        entry = entries.get(row["entry_id"]) if row.get("entry_id") else None
        turns.append({"q": row["text"], "a": entry.title if entry else "没找到答案"})
    guesses: list[dict[str, Any]] = []
    words = need or (asked[-1]["text"] if asked else None)
    if words:
        found = conv.knowledge.ask(words, now=turn.now)
        if found.entry is not None and not found.fallback:
            guesses.append(
                {"entry_id": found.entry.id, "title": found.entry.title, "score": found.score}
            )
        guesses.extend(
            {"entry_id": s.entry_id, "title": s.title, "score": s.score}
            for s in found.suggestions
            if s.entry_id not in {g["entry_id"] for g in guesses}
        )
    return {"guesses": guesses[:GUESSES], "turns": turns}


async def _open(conv: Conversation, turn: Turn, need: str | None) -> tuple[Escalation, Reply]:
    context = await _context(conv, turn, need)
    topic = None
    if context["guesses"]:
        entry = conv.knowledge.index.entries.get(context["guesses"][0]["entry_id"])
        topic = entry.category if entry else None
    case = await conv.cases.open(
        turn.session,
        channel=turn.channel,
        user_key=turn.user_key,
        chat_id=turn.chat_id,
        need=need,
        topic=topic,
        town=turn.step.town,
        context=context,
        now=turn.now,
    )
    assert case.id is not None
    turn.step.state, turn.step.escalation_id = State.WITH_ADVISOR, case.id
    conv.fallbacks.pop(turn.user_key, None)
    turn.cases_to_sync.add(case.id)
    return case, Reply(_opened_text(conv, turn, case), buttons=CASE_BUTTONS)


async def on_need(conv: Conversation, turn: Turn, action: Action) -> list[Reply]:
    """What the resident needs, in their words (or a photo): the case opens with it."""
    if isinstance(action, Text):
        if action.text.strip() in {texts.ASK_POLICY, texts.FIND_PLACE, texts.HELP}:
            turn.step.reset()
            from bot.conversation.answers import on_text

            return await on_text(conv, turn, action)
        _, reply = await _open(conv, turn, action.text.strip() or None)
        return [reply]
    case, reply = await _open(conv, turn, None)
    await _relay_into(conv, turn, case, action)
    return [reply]


async def on_describing_press(conv: Conversation, turn: Turn, action: Press) -> list[Reply]:
    data = decode(action.data)
    if isinstance(data, SkipDescribing):
        _, reply = await _open(conv, turn, None)
        return [reply]
    turn.step.reset()
    if isinstance(data, CancelAdvisor):
        return [Reply(texts.ADVISOR_CANCELLED, keyboard=texts.MENU)]
    from bot.conversation.answers import on_press

    return await on_press(conv, turn, action)


# While the case runs -----------------------------------------------------------------------


async def _case(conv: Conversation, turn: Turn) -> Escalation | None:
    case = await conv.cases.current(turn.session, turn.channel, turn.user_key)
    if case is None:
        # Closed meanwhile (by the advisor, in another process): the bot answers again.
        turn.step.reset()
    return case


def _kind_and_text(action: Action) -> tuple[str, str | None]:
    if isinstance(action, Text):
        return "text", action.text
    if isinstance(action, Media):
        return action.kind, action.caption
    if isinstance(action, Location):
        return "location", f"位置：{action.latitude:.5f}, {action.longitude:.5f}"
    if isinstance(action, Contact):
        return "contact", action.phone
    return "text", None


async def _relay_into(conv: Conversation, turn: Turn, case: Escalation, action: Action) -> None:
    kind, text = _kind_and_text(action)
    source = getattr(action, "source", None)
    message = await conv.cases.from_resident(
        turn.session, case, kind=kind, text=text, source=source, now=turn.now
    )
    if message is not None:
        assert case.id is not None
        turn.cases_to_sync.add(case.id)


async def relay(conv: Conversation, turn: Turn, action: Action) -> list[Reply]:
    """The resident's message goes to the advisor; the bot says nothing of its own."""
    case = await _case(conv, turn)
    if case is None:
        return await conv.dispatch(turn, action)
    if isinstance(action, Text) and action.text.strip() in {
        texts.ASK_POLICY,
        texts.FIND_PLACE,
        texts.ADVISOR,
        texts.HELP,
    }:
        return [Reply(texts.WITH_ADVISOR_NOTE, buttons=CASE_BUTTONS)]
    await _relay_into(conv, turn, case, action)
    return []


async def on_case_command(conv: Conversation, turn: Turn, action: Command) -> list[Reply]:
    if await _case(conv, turn) is None:
        return await conv.dispatch(turn, action)
    if action.name == "hotline":
        return [Reply(texts.HOTLINES)]
    return [Reply(texts.WITH_ADVISOR_NOTE, buttons=CASE_BUTTONS)]


async def on_case_press(conv: Conversation, turn: Turn, action: Press) -> list[Reply]:
    case = await _case(conv, turn)
    if case is None:
        return await conv.dispatch(turn, action)
    assert case.id is not None
    data = decode(action.data)
    if isinstance(data, EndAdvisor):
        await conv.cases.close(turn.session, case.id, by="resident", actor=RESIDENT, now=turn.now)
        turn.cases_to_sync.add(case.id)
        turn.step.state = State.ASK_RESOLVED
        return [
            Reply(f"{texts.RESIDENT_ENDED}\n{texts.ASK_SOLVED}", buttons=solved_buttons(case.id))
        ]
    if isinstance(data, AskCallback):
        turn.step.state = State.AWAIT_CONTACT
        return [_consent()]
    if isinstance(data, AskAdvisor):
        return [Reply(texts.WITH_ADVISOR_NOTE, buttons=CASE_BUTTONS)]
    return [Reply(texts.WITH_ADVISOR_NOTE, buttons=CASE_BUTTONS)]


# A phone callback ----------------------------------------------------------------------------


def _consent() -> Reply:
    return Reply(
        texts.CALLBACK_CONSENT,
        buttons=((CancelAdvisor().button(texts.CANCEL),),),
        request_contact=True,
    )


async def _phone(conv: Conversation, turn: Turn, phone: str) -> list[Reply]:
    case = await _case(conv, turn)
    if case is None:
        return [Reply(texts.CASE_GONE, keyboard=texts.MENU)]
    await callbacks.share_phone(conv.cases, turn.session, case, phone, now=turn.now)
    assert case.id is not None
    turn.cases_to_sync.add(case.id)
    turn.step.state = State.AWAIT_WINDOW
    rows = []
    for day, name in ((0, "今天"), (1, "明天")):
        row = tuple(
            CallbackWindow(day, afternoon).button(f"{name}{callbacks.HALF_DAYS[afternoon]}")
            for afternoon in (False, True)
            # Today's morning (or afternoon) is offered only while some of it is left.
            if day or turn.now.hour < (17 if afternoon else 12)
        )
        if row:
            rows.append(row)
    return [Reply(texts.CHOOSE_WINDOW, buttons=tuple(rows))]


async def on_contact(conv: Conversation, turn: Turn, action: Contact) -> list[Reply]:
    phone = callbacks.clean_phone(action.phone)
    if not action.own or phone is None:
        return [Reply(texts.NOT_YOUR_PHONE, request_contact=True)]
    return await _phone(conv, turn, phone)


async def on_typed_phone(conv: Conversation, turn: Turn, action: Text) -> list[Reply]:
    if action.text.strip() == texts.CANCEL:  # the keyboard's 不用了
        turn.step.state = State.WITH_ADVISOR
        return [Reply(texts.CALLBACK_CANCELLED, buttons=CASE_BUTTONS)]
    phone = callbacks.clean_phone(action.text)
    if phone is None:
        return [Reply(texts.NOT_A_PHONE, buttons=((CancelAdvisor().button(texts.CANCEL),),))]
    return await _phone(conv, turn, phone)


async def on_contact_press(conv: Conversation, turn: Turn, action: Press) -> list[Reply]:
    if isinstance(decode(action.data), CancelAdvisor):
        turn.step.state = State.WITH_ADVISOR
        return [Reply(texts.CALLBACK_CANCELLED, buttons=CASE_BUTTONS)]
    return await on_case_press(conv, turn, action)


async def on_window_press(conv: Conversation, turn: Turn, action: Press) -> list[Reply]:
    data = decode(action.data)
    if not isinstance(data, CallbackWindow) or data.day not in (0, 1):
        return await on_case_press(conv, turn, action)
    case = await _case(conv, turn)
    if case is None:
        return [Reply(texts.CASE_GONE, keyboard=texts.MENU)]
    day = turn.now.date() + timedelta(days=data.day)
    await callbacks.choose_window(
        conv.cases, turn.session, case, day=day, afternoon=data.afternoon, now=turn.now
    )
    assert case.id is not None
    turn.cases_to_sync.add(case.id)
    turn.step.state = State.WITH_ADVISOR
    phone = callbacks.phone_of(conv.cases, case) or ""
    shown = f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else phone
    when = callbacks.window_text(day, data.afternoon, turn.now.date())
    return [
        Reply(
            f"好的，顾问会在{when}给您打电话（{shown}）。号码只用于这次回电，结案后删除。\n"
            "接电话之前，也可以继续在这里说。",
            buttons=CASE_BUTTONS,
        )
    ]


# After the case ------------------------------------------------------------------------------


async def on_resolved_press(conv: Conversation, turn: Turn, action: Press) -> list[Reply]:
    data = decode(action.data)
    if isinstance(data, Resolved):
        turn.step.reset()
        case = await conv.cases.get(turn.session, data.case_id)
        if case is not None and case.user_key == turn.user_key:
            case.solved = data.solved
        if data.solved:
            return [Reply(texts.SOLVED_THANKS, keyboard=texts.MENU)]
        return [Reply(texts.NOT_SOLVED, buttons=reopen_buttons(data.case_id))]
    if isinstance(data, Reopen):
        case = await conv.cases.reopen(
            turn.session,
            data.case_id,
            channel=turn.channel,
            user_key=turn.user_key,
            chat_id=turn.chat_id,
            now=turn.now,
        )
        if case is None:
            turn.step.reset()
            return [Reply(texts.CANNOT_REOPEN, buttons=((AskAdvisor().button(texts.ADVISOR),),))]
        assert case.id is not None
        turn.step.state, turn.step.escalation_id = State.WITH_ADVISOR, case.id
        turn.cases_to_sync.add(case.id)
        return [Reply(_opened_text(conv, turn, case), buttons=CASE_BUTTONS)]
    # The resident moved on without answering: the bot answers as usual.
    turn.step.reset()
    return await conv.dispatch(turn, action)
