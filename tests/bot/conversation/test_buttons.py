"""The button codec: every kind round-trips within Telegram's 64 bytes, buttons of messages sent
long ago still read, and data that is not ours is None, never an error."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from bot.conversation.buttons import (
    KINDS,
    MAX_ID,
    AskAdvisor,
    CallbackWindow,
    Claim,
    Feedback,
    ShowDetail,
    decode,
    encode,
)


def _example(kind: type) -> object:
    values = {
        "bool": True,
        "int": 123,
        "str": "assist-dibao-apply",
    }
    return kind(*(values[str(f.type)] for f in dataclasses.fields(kind)))


def test_every_kind_round_trips_within_64_bytes() -> None:
    for code, kind in KINDS.items():
        data = _example(kind)
        text = encode(data)  # type: ignore[arg-type]
        assert text.split("|")[0] == code and len(text.encode()) <= 64
        assert decode(text) == data


def test_buttons_sent_before_this_codec_still_read() -> None:
    assert decode("d|assist-dibao-apply|materials") == ShowDetail("assist-dibao-apply", "materials")
    assert decode("fb|elder-meal-point|0") == Feedback("elder-meal-point", False)
    assert decode("advisor") == AskAdvisor()


def test_what_is_not_ours_is_none() -> None:
    for text in ("", "x|1", "fb|a|2", "esc-claim|-1", "esc-claim|1|2", "d|a|", "adv-when|0"):
        assert decode(text) is None, text
    # Ids are 32-bit in the database: a larger one names no case.
    assert decode(f"esc-claim|{MAX_ID}") == Claim(MAX_ID)
    assert decode(f"esc-claim|{MAX_ID + 1}") is None
    assert decode("adv-when|1|1") == CallbackWindow(1, True)


@given(st.text(max_size=80))
def test_decode_never_raises(text: str) -> None:
    decode(text)
