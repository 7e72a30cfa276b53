"""What a resident does and what the assistant answers, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Telegram allows 64 bytes of callback data; the web chat sends the same strings.
MAX_BUTTON_DATA_BYTES = 64


# Where a resident's message came from on its channel, (chat id, message id): a message relayed
# to an advisor is relayed once, and a Telegram photo is copied rather than retold.
Source = tuple[int, int]


@dataclass(frozen=True)
class Text:
    text: str
    source: Source | None = None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    source: Source | None = None


@dataclass(frozen=True)
class Media:
    """A photo, voice message, document… (Telegram): only an advisor can look at it."""

    kind: str  # photo, voice, audio, document, video, video_note, sticker
    caption: str | None = None
    source: Source | None = None


@dataclass(frozen=True)
class Contact:
    """A phone number shared with Telegram's contact button; ``own``: the sender's own."""

    phone: str
    own: bool
    source: Source | None = None


@dataclass(frozen=True)
class Press:
    """A button pressed: its data, as the reply that offered it set it."""

    data: str


@dataclass(frozen=True)
class Command:
    name: str  # one of bot.conversation.texts.COMMANDS
    # What follows the command (``/bind 1234 5678``).
    args: str = ""


@dataclass(frozen=True)
class Forwarded:
    """A message the resident forwarded to the bot (is this really from the bureau?)."""

    text: str
    # Telegram says it was sent by this bot itself.
    from_this_bot: bool
    # When the forwarded message was first sent, as Telegram gives it.
    sent_at: datetime | None = None


Action = Text | Location | Press | Command | Media | Contact | Forwarded


@dataclass(frozen=True)
class Button:
    label: str
    data: str

    def __post_init__(self) -> None:
        if len(self.data.encode()) > MAX_BUTTON_DATA_BYTES:
            raise ValueError(f"button data over {MAX_BUTTON_DATA_BYTES} bytes: {self.data!r}")


@dataclass(frozen=True)
class Place:
    service_id: str
    name: str
    address: str | None
    phone: str | None
    hours: str
    open_now: bool
    distance_m: int | None
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class Reply:
    text: str
    # Rows of inline buttons under the message.
    buttons: tuple[tuple[Button, ...], ...] = ()
    places: tuple[Place, ...] = ()
    # Big reply-keyboard buttons (Telegram) / quick buttons (web): labels sent back as text.
    keyboard: tuple[tuple[str, ...], ...] = ()
    # Ask the resident's device for its location, or (Telegram) for their phone number.
    request_location: bool = False
    request_contact: bool = False
    # A place to show on a map (Telegram: a venue message).
    venue: Place | None = None
    # A short acknowledgement of the button just pressed (feedback): Telegram adds it to the
    # message that carried the button and removes that button's row; the web chat appends it.
    acknowledges_press: bool = False
    notes: tuple[str, ...] = field(default=())
