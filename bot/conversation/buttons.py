"""What a button means, as typed values, and its short code in the button's data.

Telegram carries at most 64 bytes of data on a button and the web chat sends the same strings,
so each kind of button has a short code and its fields follow, ``|``-separated:
``d|assist-dibao|materials``. Codes of buttons already sent stay readable: a resident may press
a button of a message from months ago. ``decode`` never raises; data it does not understand is
``None`` and the conversation starts afresh.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from bot.conversation.messages import MAX_BUTTON_DATA_BYTES, Button

SEPARATOR = "|"
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class ButtonData:
    code: ClassVar[str]

    def button(self, label: str) -> Button:
        return Button(label, encode(self))


# Residents' buttons --------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowEntry(ButtonData):
    code = "q"
    entry_id: str


@dataclass(frozen=True)
class ShowDetail(ButtonData):
    code = "d"
    entry_id: str
    field: str


@dataclass(frozen=True)
class ShowRelated(ButtonData):
    code = "rel"
    entry_id: str


@dataclass(frozen=True)
class Feedback(ButtonData):
    code = "fb"
    entry_id: str
    helpful: bool


@dataclass(frozen=True)
class ChooseCategory(ButtonData):
    code = "cat"
    category: str


@dataclass(frozen=True)
class FindNearby(ButtonData):
    """From an entry's answer: find the nearest place of its category."""

    code = "near"
    category: str


@dataclass(frozen=True)
class ShowPlace(ButtonData):
    code = "v"
    service_id: str


@dataclass(frozen=True)
class AskAdvisor(ButtonData):
    code = "advisor"


@dataclass(frozen=True)
class SkipDescribing(ButtonData):
    """Hand over to an advisor without saying more first."""

    code = "adv-go"


@dataclass(frozen=True)
class CancelAdvisor(ButtonData):
    code = "adv-no"


@dataclass(frozen=True)
class EndAdvisor(ButtonData):
    """结束人工服务: the resident ends the case themselves."""

    code = "adv-end"


@dataclass(frozen=True)
class AskCallback(ButtonData):
    """The resident would rather be phoned."""

    code = "adv-call"


@dataclass(frozen=True)
class CallbackWindow(ButtonData):
    code = "adv-when"
    day: int  # 0 today, 1 tomorrow
    afternoon: bool


@dataclass(frozen=True)
class Resolved(ButtonData):
    """The answer to 问题解决了吗？ after a case closed."""

    code = "adv-ok"
    case_id: int
    solved: bool


@dataclass(frozen=True)
class Reopen(ButtonData):
    code = "adv-again"
    case_id: int


# Reminders (bot.conversation.reminders) ------------------------------------------------------


@dataclass(frozen=True)
class RemindSettings(ButtonData):
    """提醒设置: under every reminder and in the menu."""

    code = "rm-set"


@dataclass(frozen=True)
class RemindConsent(ButtonData):
    """The answer to the consent text: agreed, or not now."""

    code = "rm-ok"
    agreed: bool


@dataclass(frozen=True)
class RemindTopic(ButtonData):
    code = "rm-t"
    topic: str
    on: bool


@dataclass(frozen=True)
class SensitiveConsent(ButtonData):
    """The separate consent for a topic that reveals hardship, then the topic switched on."""

    code = "rm-sens"
    topic: str


@dataclass(frozen=True)
class Unsubscribe(ButtonData):
    """退订此类提醒, under a reminder: one press."""

    code = "rm-off"
    topic: str


@dataclass(frozen=True)
class ReminderDetail(ButtonData):
    """A sensitive reminder's details, shown only when its recipient presses."""

    code = "rm-show"
    reminder_id: int


@dataclass(frozen=True)
class RemindChooseTown(ButtonData):
    code = "rm-towns"


@dataclass(frozen=True)
class RemindTown(ButtonData):
    code = "rm-town"
    town: str


@dataclass(frozen=True)
class RemindBirth(ButtonData):
    code = "rm-birth"


@dataclass(frozen=True)
class RemindChooseQuiet(ButtonData):
    code = "rm-qs"


@dataclass(frozen=True)
class RemindQuiet(ButtonData):
    code = "rm-q"
    choice: int  # an index of jobs.preferences.QUIET_CHOICES


@dataclass(frozen=True)
class RemindStopAll(ButtonData):
    """全部退订; ``sure`` once the resident confirmed."""

    code = "rm-all"
    sure: bool


@dataclass(frozen=True)
class InviteCaregiver(ButtonData):
    code = "rm-invite"


@dataclass(frozen=True)
class AcceptCare(ButtonData):
    """A family member confirms (or declines) receiving copies."""

    code = "rm-care"
    link_id: int
    accepted: bool


@dataclass(frozen=True)
class StopCopies(ButtonData):
    """Either side ends a family member's copies."""

    code = "rm-care-end"
    link_id: int


@dataclass(frozen=True)
class RemindDone(ButtonData):
    code = "rm-done"


# Advisors' buttons (on a case's card in their group) -----------------------------------------


@dataclass(frozen=True)
class Claim(ButtonData):
    code = "esc-claim"
    case_id: int


@dataclass(frozen=True)
class CloseCase(ButtonData):
    code = "esc-close"
    case_id: int


@dataclass(frozen=True)
class OfferCallback(ButtonData):
    """转电话回访: ask the resident for a number to phone."""

    code = "esc-phone"
    case_id: int


@dataclass(frozen=True)
class CalledBack(ButtonData):
    code = "esc-called"
    case_id: int
    result: str  # a key of CALLBACK_RESULTS


KINDS: dict[str, type[ButtonData]] = {
    kind.code: kind
    for kind in (
        ShowEntry,
        ShowDetail,
        ShowRelated,
        Feedback,
        ChooseCategory,
        FindNearby,
        ShowPlace,
        AskAdvisor,
        SkipDescribing,
        CancelAdvisor,
        EndAdvisor,
        AskCallback,
        CallbackWindow,
        Resolved,
        Reopen,
        Claim,
        CloseCase,
        OfferCallback,
        CalledBack,
        RemindSettings,
        RemindConsent,
        RemindTopic,
        SensitiveConsent,
        Unsubscribe,
        ReminderDetail,
        RemindChooseTown,
        RemindTown,
        RemindBirth,
        RemindChooseQuiet,
        RemindQuiet,
        RemindStopAll,
        InviteCaregiver,
        AcceptCare,
        StopCopies,
        RemindDone,
    )
}
REMINDER_KINDS = tuple(kind for kind in KINDS.values() if kind.code.startswith("rm-"))
ADVISOR_KINDS = (Claim, CloseCase, OfferCallback, CalledBack)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def encode(data: ButtonData) -> str:
    values = [_text(getattr(data, f.name)) for f in dataclasses.fields(data)]
    if any(SEPARATOR in value for value in values):
        raise ValueError(f"a button field holds {SEPARATOR!r}: {data!r}")
    text = SEPARATOR.join([data.code, *values])
    if len(text.encode()) > MAX_BUTTON_DATA_BYTES:
        raise ValueError(f"button data over {MAX_BUTTON_DATA_BYTES} bytes: {text!r}")
    return text


def decode(text: str) -> ButtonData | None:
    code, *values = text.split(SEPARATOR)
    kind = KINDS.get(code)
    if kind is None:
        return None
    fields = dataclasses.fields(kind)
    if len(values) != len(fields):
        return None
    parsed: list[object] = []
    for f, value in zip(fields, values, strict=True):
        if f.type == "bool":
            if value not in {"0", "1"}:
                return None
            parsed.append(value == "1")
        elif f.type == "int":
            # Ids are 32-bit in the database: a larger number is no case of ours.
            if not (value.isascii() and value.isdigit() and len(value) <= 10):
                return None
            if int(value) > MAX_ID:
                return None
            parsed.append(int(value))
        elif value:
            parsed.append(value)
        else:
            return None
    return kind(*parsed)
