"""A reminder as residents see it (pure): the notification with its buttons, and a sensitive
reminder's details once its recipient presses. The Telegram messenger and the console's preview
both use these, so staff preview exactly what residents get."""

from __future__ import annotations

from bot.conversation.buttons import (
    ReminderDetail,
    RemindSettings,
    ShowEntry,
    StopCopies,
    Unsubscribe,
)
from bot.conversation.messages import Button, Reply
from jobs import texts
from jobs.sender import Outgoing


def _footer(reminder: Outgoing) -> tuple[Button, ...]:
    if reminder.caregiver_link_id is not None:
        return (
            StopCopies(reminder.caregiver_link_id).button(texts.STOP_COPIES),
            RemindSettings().button(texts.SETTINGS),
        )
    return (
        Unsubscribe(reminder.topic).button(texts.UNSUBSCRIBE),
        RemindSettings().button(texts.SETTINGS),
    )


def notification(reminder: Outgoing) -> Reply:
    """What is sent: a sensitive topic is not spelled out, not even on the lock screen."""
    rows: list[tuple[Button, ...]] = []
    if reminder.sensitive:
        rows.append((ReminderDetail(reminder.id).button(texts.SHOW_DETAILS),))
        return Reply(texts.SENSITIVE_NOTICE, buttons=(*rows, _footer(reminder)))
    if reminder.entry_id:
        rows.append((ShowEntry(reminder.entry_id).button(texts.SHOW_ENTRY),))
    return Reply(reminder.text, buttons=(*rows, _footer(reminder)))


def details(reminder: Outgoing) -> Reply:
    """A sensitive reminder's text, for its recipient's press."""
    rows: list[tuple[Button, ...]] = []
    if reminder.entry_id:
        rows.append((ShowEntry(reminder.entry_id).button(texts.SHOW_ENTRY),))
    return Reply(reminder.text, buttons=(*rows, _footer(reminder)))
