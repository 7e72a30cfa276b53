"""Which failed sends may go again: at most once means a send that may have reached Telegram
is never repeated, and one that never left always is."""

from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut

from bot.reminders.telegram import never_left


def _raised(error: NetworkError, cause: BaseException) -> NetworkError:
    error.__cause__ = cause
    return error


def test_a_send_that_never_left_may_go_again() -> None:
    assert never_left(_raised(TimedOut("Timed out"), aiohttp.ConnectionTimeoutError()))
    assert never_left(NetworkError("Bad Gateway"))


def test_a_send_whose_answer_was_lost_is_not_repeated() -> None:
    assert not never_left(_raised(TimedOut("Timed out"), aiohttp.SocketTimeoutError()))
    lost = aiohttp.ServerDisconnectedError()
    assert not never_left(_raised(NetworkError("aiohttp.ServerDisconnectedError"), lost))
