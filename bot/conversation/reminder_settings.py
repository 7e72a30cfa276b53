"""The 提醒设置 page as a reply: what the resident chose, and a button for every change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversation import reminder_texts as say
from bot.conversation.buttons import (
    InviteCaregiver,
    RemindBirth,
    RemindChooseQuiet,
    RemindChooseTown,
    RemindDone,
    RemindStopAll,
    RemindTopic,
    StopCopies,
)
from bot.conversation.messages import Button, Reply
from jobs import codes, preferences
from jobs.models import CareState
from jobs.topics import TOPICS

if TYPE_CHECKING:
    from bot.conversation.core import Turn


def quiet_text(start: int, end: int) -> str:
    return say.QUIET_CHOICE.format(
        start=f"{start // 60}:{start % 60:02d}", end=f"{end // 60}:{end % 60:02d}"
    )


async def settings_reply(turn: Turn, note: str | None = None) -> Reply:
    session, channel, key = turn.session, turn.channel, turn.user_key
    found = await preferences.profile(session, channel, key)
    rows: list[tuple[Button, ...]] = []
    lines = [note] if note else []
    if found is not None:
        chosen = await preferences.topics(session, channel, key)
        lines.append(say.SETTINGS_HEAD)
        for topic in TOPICS:
            on = chosen.get(topic.code, False)
            label = (say.TOPIC_ON if on else say.TOPIC_OFF).format(label=topic.label)
            rows.append((RemindTopic(topic.code, not on).button(label),))
            if on and topic.needs_town and not found.town:
                lines.append(say.NEEDS_TOWN.format(label=topic.label))
            if on and topic.needs_age and not found.birth_year:
                lines.append(say.NEEDS_AGE.format(label=topic.label))
        birth = f"{found.birth_year}年{found.birth_month}月" if found.birth_year else say.NOT_SET
        lines += [
            say.TOWN_LINE.format(town=found.town or say.NOT_SET),
            say.BIRTH_LINE.format(birth=birth),
            say.QUIET_LINE.format(quiet=quiet_text(found.quiet_start, found.quiet_end)),
        ]
        rows.append(
            (
                RemindChooseTown().button(say.CHOOSE_TOWN),
                RemindBirth().button(say.FILL_BIRTH),
            )
        )
        rows.append((RemindChooseQuiet().button(say.CHANGE_QUIET),))
        links = await codes.links_of(session, channel, key)
        if links:
            names = "、".join(
                link.label
                if link.state == CareState.active
                else say.WAITING.format(label=link.label)
                for link in links
            )
            lines.append(say.CAREGIVER_LINE.format(names=names))
            for link in links:
                assert link.id is not None
                rows.append((StopCopies(link.id).button(say.END_COPIES.format(label=link.label)),))
        rows.append((InviteCaregiver().button(say.INVITE),))
    received = await preferences.receives_copies(session, channel, key)
    if received:
        lines.append(say.RECEIVING_LINE.format(names="、".join(link.label for link in received)))
        for link in received:
            assert link.id is not None
            rows.append((StopCopies(link.id).button(say.STOP_RECEIVING.format(label=link.label)),))
    rows.append((RemindStopAll(False).button(say.STOP_ALL), RemindDone().button(say.DONE)))
    return Reply("\n".join(lines), buttons=tuple(rows))
