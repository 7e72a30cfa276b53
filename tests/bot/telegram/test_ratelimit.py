"""The shared send budget: never more than the rate in any second, as Telegram counts, and a
reply never waits behind a campaign."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.telegram.ratelimit import BudgetPaused, SendBudget


def _most_in_a_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


async def test_bulk_sends_keep_under_the_rate_and_leave_room_for_replies() -> None:
    budget = SendBudget(40)
    sent: list[float] = []
    replies: list[float] = []

    async def bulk() -> None:
        while len(sent) < 60:
            await budget.bulk()
            sent.append(time.monotonic())

    async def reply() -> None:
        await asyncio.sleep(0.5)
        for _ in range(3):
            asked = time.monotonic()
            await budget.reply()
            replies.append(time.monotonic() - asked)
            sent.append(time.monotonic())
            await asyncio.sleep(0.1)

    await asyncio.gather(*(bulk() for _ in range(4)), reply())
    # Bulk alone takes 39 a second; with the replies, the window still holds at most 40.
    assert _most_in_a_second(sent) <= 40
    assert len(replies) == 3 and max(replies) < 0.1


async def test_a_429_pauses_everything_and_a_long_pause_sends_bulk_back() -> None:
    budget = SendBudget(30)
    budget.pause(0.3)
    started = time.monotonic()
    await budget.reply()
    assert time.monotonic() - started >= 0.29
    budget.pause(60)
    # The sender tries the row later rather than hold it "sending" for a minute.
    with pytest.raises(BudgetPaused):
        await budget.bulk(max_pause=10)
