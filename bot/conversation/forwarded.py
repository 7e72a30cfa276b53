"""Is this really from the bureau? A resident forwards a message that claims to be; the bot says
whether it sent it (Telegram names the sender of a forward; the sent log knows our reminders'
texts) and that 民政 never asks for money or bank codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversation import reminder_texts as say
from bot.conversation.messages import Forwarded, Reply
from jobs import sentlog

if TYPE_CHECKING:
    from bot.conversation.core import Turn


async def check(turn: Turn, action: Forwarded) -> Reply:
    if action.from_this_bot:
        return Reply(f"{say.FROM_US}\n{say.NEVER_MONEY}")
    if action.text.strip() and await sentlog.was_sent(
        turn.session, action.text, around=action.sent_at
    ):
        return Reply(f"{say.COPIED_FROM_US}\n{say.NEVER_MONEY}")
    return Reply(f"{say.NOT_FROM_US}\n{say.NEVER_MONEY}")
