"""提醒设置: consent first (nothing is kept before it), then topics, town, birth year and month,
quiet hours, family members receiving copies; ``/bind CODE``; and the buttons under a reminder
(退订此类提醒, 点开查看). What is kept and how is ``jobs.preferences`` and ``jobs.codes``; this
module only turns presses and words into those calls and their replies."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.conversation import reminder_texts as say
from bot.conversation.buttons import (
    AcceptCare,
    ButtonData,
    InviteCaregiver,
    RemindBirth,
    RemindChooseQuiet,
    RemindChooseTown,
    RemindConsent,
    RemindDone,
    ReminderDetail,
    RemindQuiet,
    RemindSettings,
    RemindStopAll,
    RemindTopic,
    RemindTown,
    SensitiveConsent,
    StopCopies,
    Unsubscribe,
)
from bot.conversation.messages import Reply, Text
from bot.conversation.reminder_settings import quiet_text, settings_reply
from bot.conversation.steps import State
from bot.reminders.render import details
from bot.residents import reach
from directory.places import TOWN_BY_NAME, TOWNS
from jobs import codes, evaluate, preferences
from jobs.codes import Redeemed
from jobs.models import CaregiverLink, OutboxRow
from jobs.preferences import QUIET_CHOICES, NoConsent
from jobs.sender import Outgoing
from jobs.topics import BY_CODE

if TYPE_CHECKING:
    from bot.conversation.core import Conversation, Turn

# Purposes the chat id is kept for (bot.residents): the resident's reminders, a family
# member's copies.
REMINDERS = "reminder"
COPIES = "caregiver"
# What a resident asking a question (not answering the step's question) writes.
_QUESTION = re.compile(r"[?？]|怎么|什么|哪里|哪儿|能不能|可不可以|多少|为什么|吗$|呢$")
_BIRTH = re.compile(r"((?:19|20)\d\d)\s*[年./\-\s]\s*(\d{1,2})\s*月?")


def is_question(text: str) -> bool:
    """Words that ask rather than answer: a step awaiting a month, a code or a name lets go."""
    return len(text) > 30 or bool(_QUESTION.search(text))


def _reachable(turn: Turn) -> Reply | None:
    """Reminders reach a resident only where the bot can write to them later: Telegram, in a
    private chat. Elsewhere, a word on where to set them."""
    if turn.channel != "telegram":
        return Reply(say.TELEGRAM_ONLY)
    if turn.chat_id is None:
        return Reply(say.PRIVATELY)
    return None


async def _keep_chat(conv: Conversation, turn: Turn, purpose: str) -> None:
    assert turn.chat_id is not None
    await reach.reach(
        turn.session,
        conv.cases.keyring,
        channel=turn.channel,
        user_key=turn.user_key,
        chat_id=turn.chat_id,
        purpose=purpose,
        now=turn.now,
    )


async def _due_now(conv: Conversation, turn: Turn) -> None:
    """What the resident's new fact or birth month makes due today is queued now (the
    scheduler sends it at its next tick), not at tomorrow's run."""
    await turn.session.flush()
    await evaluate.run_for(
        turn.session, channel=turn.channel, user_key=turn.user_key, now=turn.now, tz=conv.tz
    )


def consent_reply(conv: Conversation) -> Reply:
    buttons = ((RemindConsent(True).button(say.AGREE), RemindConsent(False).button(say.NOT_NOW)),)
    return Reply(say.CONSENT.format(cap=conv.reminders_per_week), buttons=buttons)


async def show(conv: Conversation, turn: Turn, note: str | None = None) -> list[Reply]:
    """提醒设置 (the menu button, /remind, the button under every reminder)."""
    if (elsewhere := _reachable(turn)) is not None:
        return [elsewhere]
    if turn.step.state in (State.AWAIT_BIRTH, State.AWAIT_CODE, State.AWAIT_CARE_LABEL):
        turn.step.reset()
    # Whoever opens their settings is reachable again (after blocking and unblocking the bot).
    await active_again(conv, turn)
    if await preferences.profile(turn.session, turn.channel, turn.user_key) is None:
        received = await preferences.receives_copies(turn.session, turn.channel, turn.user_key)
        if not received:
            return [consent_reply(conv)]
    return [await settings_reply(turn, note)]


def _sensitive_consent(topic: str) -> Reply:
    text = say.SENSITIVE_CONSENT.format(label=BY_CODE[topic].label)
    buttons = (
        (
            SensitiveConsent(topic).button(say.AGREE_SENSITIVE),
            RemindSettings().button(say.NOT_NOW),
        ),
    )
    return Reply(text, buttons=buttons)


async def on_press(conv: Conversation, turn: Turn, data: ButtonData) -> list[Reply]:
    """Every reminder button; the ones under a reminder work in any state."""
    if isinstance(data, ReminderDetail):
        return [await _detail(conv, turn, data.reminder_id)]
    if (elsewhere := _reachable(turn)) is not None:
        return [elsewhere]
    session, channel, key, now = turn.session, turn.channel, turn.user_key, turn.now
    if isinstance(data, RemindSettings):
        return await show(conv, turn)
    if isinstance(data, RemindConsent):
        if not data.agreed:
            return [Reply(say.DECLINED)]
        await preferences.consent(session, channel, key, now)
        await _keep_chat(conv, turn, REMINDERS)
        return [await settings_reply(turn)]
    if isinstance(data, AcceptCare):
        return [await _accept(conv, turn, data)]
    if isinstance(data, StopCopies):
        ended = await codes.end_link(
            session, link_id=data.link_id, channel=channel, user_key=key, now=now
        )
        if ended is not None:
            await release_caregivers(turn, [ended])
        return [Reply(say.COPIES_ENDED if ended else say.CARE_GONE, acknowledges_press=True)]
    if isinstance(data, Unsubscribe):
        return [await _unsubscribe(turn, data.topic)]
    if isinstance(data, RemindDone):
        turn.step.reset()
        kept = await preferences.profile(session, channel, key) is not None
        return [Reply(say.SAVED if kept else say.OK)]
    if await preferences.profile(session, channel, key) is None:
        return [consent_reply(conv)]
    return await _on_settings_press(conv, turn, data)


async def _on_settings_press(conv: Conversation, turn: Turn, data: ButtonData) -> list[Reply]:
    session, channel, key, now = turn.session, turn.channel, turn.user_key, turn.now
    if isinstance(data, RemindTopic) and data.topic in BY_CODE:
        try:
            await preferences.set_topic(session, channel, key, data.topic, data.on, now)
        except NoConsent:
            return [_sensitive_consent(data.topic)]
        return [await settings_reply(turn)]
    if isinstance(data, SensitiveConsent) and data.topic in BY_CODE:
        await preferences.consent_sensitive(session, channel, key, now)
        await preferences.set_topic(session, channel, key, data.topic, True, now)
        return [await settings_reply(turn)]
    if isinstance(data, RemindChooseTown):
        towns = tuple(
            tuple(RemindTown(t.name).button(t.name) for t in TOWNS[i : i + 3])
            for i in range(0, len(TOWNS), 3)
        )
        return [Reply(say.PICK_TOWN, buttons=towns)]
    if isinstance(data, RemindTown) and data.town in TOWN_BY_NAME:
        await preferences.set_town(session, channel, key, data.town, now)
        return [await settings_reply(turn)]
    if isinstance(data, RemindBirth):
        turn.step.state = State.AWAIT_BIRTH
        return [Reply(say.ASK_BIRTH, buttons=((RemindDone().button(say.DONE),),))]
    if isinstance(data, RemindChooseQuiet):
        choices = tuple(
            (RemindQuiet(n).button(quiet_text(*choice)),) for n, choice in enumerate(QUIET_CHOICES)
        )
        return [Reply(say.PICK_QUIET, buttons=choices)]
    if isinstance(data, RemindQuiet) and 0 <= data.choice < len(QUIET_CHOICES):
        await preferences.set_quiet(session, channel, key, *QUIET_CHOICES[data.choice], now)
        return [await settings_reply(turn)]
    if isinstance(data, RemindStopAll):
        return [await _stop_all(turn, data.sure)]
    if isinstance(data, InviteCaregiver):
        turn.step.state = State.AWAIT_CARE_LABEL
        return [Reply(say.ASK_LABEL, buttons=((RemindDone().button(say.NEVER_MIND),),))]
    return [await settings_reply(turn)]


async def _detail(conv: Conversation, turn: Turn, reminder_id: int) -> Reply:
    """A sensitive reminder's details, for its own recipient only."""
    row = await turn.session.get(OutboxRow, reminder_id)
    if row is None or row.channel != turn.channel or row.recipient_key != turn.user_key:
        return Reply(say.GONE)
    return details(Outgoing.of(row, turn.now, conv.tz))


async def _unsubscribe(turn: Turn, topic: str) -> Reply:
    if topic not in BY_CODE:
        return Reply(say.GONE)
    session, channel, key = turn.session, turn.channel, turn.user_key
    if await preferences.profile(session, channel, key) is None:
        return Reply(say.NOTHING_TO_UNSUBSCRIBE)
    await preferences.set_topic(session, channel, key, topic, False, turn.now)
    text = say.UNSUBSCRIBED.format(label=BY_CODE[topic].label)
    return Reply(text, buttons=((RemindSettings().button(say.REMIND),),))


async def _stop_all(turn: Turn, sure: bool) -> Reply:
    if not sure:
        buttons = (
            (RemindStopAll(True).button(say.YES_STOP_ALL), RemindSettings().button(say.KEEP)),
        )
        return Reply(say.SURE_STOP_ALL, buttons=buttons)
    links = await codes.links_of(turn.session, turn.channel, turn.user_key)
    await preferences.forget(turn.session, turn.channel, turn.user_key)
    await release_caregivers(turn, links)
    for purpose in (REMINDERS, COPIES):
        await reach.release(
            turn.session,
            channel=turn.channel,
            user_key=turn.user_key,
            purpose=purpose,
            now=turn.now,
        )
    turn.step.reset()
    return Reply(say.STOPPED_ALL)


async def _accept(conv: Conversation, turn: Turn, data: AcceptCare) -> Reply:
    if not data.accepted:
        return Reply(say.DECLINED_CARE, acknowledges_press=True)
    link = await codes.accept_invitation(
        turn.session,
        link_id=data.link_id,
        channel=turn.channel,
        user_key=turn.user_key,
        now=turn.now,
    )
    if link is None:
        return Reply(say.CARE_GONE)
    await _keep_chat(conv, turn, COPIES)
    return Reply(say.ACCEPTED.format(label=link.label))


# Typed words: /bind CODE, the birth month, a family member's name for the resident ----------


async def bind(conv: Conversation, turn: Turn, typed: str) -> list[Reply]:
    if (elsewhere := _reachable(turn)) is not None:
        return [elsewhere]
    if not typed.strip():
        turn.step.state = State.AWAIT_CODE
        return [Reply(say.ASK_CODE, buttons=((RemindDone().button(say.NEVER_MIND),),))]
    turn.step.reset()
    found = await codes.redeem(
        turn.session, channel=turn.channel, user_key=turn.user_key, typed=typed, now=turn.now
    )
    result = found.result
    if result is Redeemed.bound and found.fact is not None:
        await _keep_chat(conv, turn, REMINDERS)
        await _due_now(conv, turn)
        due = f"{found.fact.due_on.year}年{found.fact.due_on.month}月{found.fact.due_on.day}日"
        ruled = await evaluate.has_due_rule(turn.session, found.fact.kind)
        text = say.BOUND if ruled else say.BOUND_NO_RULE
        return [Reply(text.format(label=found.fact.label, due=due))]
    if result is Redeemed.invited and found.invitation is not None:
        link = found.invitation
        assert link.id is not None
        buttons = (
            (
                AcceptCare(link.id, True).button(say.ACCEPT),
                AcceptCare(link.id, False).button(say.DECLINE),
            ),
        )
        return [Reply(say.INVITATION.format(label=link.label), buttons=buttons)]
    if result is Redeemed.no_consent:
        return [Reply(say.CONSENT_FIRST), consent_reply(conv)]
    if result is Redeemed.needs_sensitive_consent:
        return [_sensitive_consent("review"), Reply(say.SENSITIVE_FIRST)]
    return [Reply(_REFUSED[result])]


_REFUSED = {
    Redeemed.wrong: say.WRONG_CODE,
    Redeemed.expired: say.EXPIRED_CODE,
    Redeemed.used: say.USED_CODE,
    Redeemed.throttled: say.TOO_MANY_TRIES,
    Redeemed.own_invitation: say.OWN_INVITATION,
}


def parse_birth(text: str, this_year: int) -> tuple[int, int] | None:
    typed = unicodedata.normalize("NFKC", text).strip()
    found = _BIRTH.search(typed)
    if found is None:
        return None
    year, month = int(found.group(1)), int(found.group(2))
    if not 1900 <= year <= this_year or not 1 <= month <= 12:
        return None
    return year, month


async def on_birth(conv: Conversation, turn: Turn, action: Text) -> list[Reply]:
    birth = parse_birth(action.text, turn.now.year)
    if birth is None:
        return [Reply(say.BAD_BIRTH, buttons=((RemindDone().button(say.DONE),),))]
    turn.step.reset()
    try:
        await preferences.set_birth(turn.session, turn.channel, turn.user_key, *birth, turn.now)
    except NoConsent:
        return [consent_reply(conv)]
    await _due_now(conv, turn)
    return [await settings_reply(turn)]


async def on_code(conv: Conversation, turn: Turn, action: Text) -> list[Reply]:
    return await bind(conv, turn, action.text)


async def on_care_label(conv: Conversation, turn: Turn, action: Text) -> list[Reply]:
    label = "".join(ch for ch in action.text.strip() if ch.isprintable())
    if not 1 <= len(label) <= 10:
        return [Reply(say.BAD_LABEL)]
    turn.step.reset()
    try:
        code = await codes.invite(
            turn.session, channel=turn.channel, user_key=turn.user_key, label=label, now=turn.now
        )
    except NoConsent:
        return [consent_reply(conv)]
    shown = codes.shown(code)
    return [Reply(say.INVITED.format(code=shown))]


async def release_caregivers(turn: Turn, links: Sequence[CaregiverLink]) -> None:
    """A family member's chat id is kept only while they receive someone's copies."""
    for link in links:
        if link.caregiver_channel is None or link.caregiver_key is None:
            continue
        if await preferences.receives_copies(
            turn.session, link.caregiver_channel, link.caregiver_key
        ):
            continue
        await reach.release(
            turn.session,
            channel=link.caregiver_channel,
            user_key=link.caregiver_key,
            purpose=COPIES,
            now=turn.now,
        )


async def before_forget(turn: Turn) -> None:
    """/stop: the family members this resident invited keep no chat id for them."""
    await release_caregivers(turn, await codes.links_of(turn.session, turn.channel, turn.user_key))


async def active_again(conv: Conversation, turn: Turn) -> None:
    """/start after a 403: the resident unblocked the bot."""
    if turn.channel == "telegram":
        await preferences.active_again(turn.session, turn.channel, turn.user_key, turn.now)
        await reach.active_again(
            turn.session, channel=turn.channel, user_key=turn.user_key, now=turn.now
        )
