"""One budget of outbound messages per second for everything the bot sends
(``MINZHENG_SEND_RATE``), replies to residents first, reminders with what is left.

PTB's ``AIORateLimiter`` has one queue: a campaign of 10,000 reminders would make a resident's
answer wait behind it. Here replies take a message's slot at once (one slot a second is kept
back for them), and bulk sends (``rate_limit_args={"bulk": True}``) take one only when no reply
is waiting. Telegram's 429 pauses every send for its ``retry_after``; the advisors' group keeps to
Telegram's 20 messages a minute per group, as ``AIORateLimiter`` does.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

GROUP_PER_MINUTE = 20
WINDOW_SLACK = 0.01
REPLIES_LATELY_S = 5.0
# A bulk send does not wait inside the limiter longer than this for a 429, nor retry there:
# its row is tried again later by the sender instead, so a row is never "sending" for long
# (well under jobs.outbox.IN_DOUBT_AFTER).
BULK_MAX_WAIT_S = 10.0
JSONDict = dict[str, Any]


class BudgetPaused(Exception):
    """A bulk send would wait longer than it may for Telegram's pause; it is tried later."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paused for {seconds:.1f} s")
        self.seconds = seconds


class SendBudget:
    """At most ``rate`` messages in any second, as Telegram counts: a sliding window of the
    sends' times, not a bucket (a bucket lets a burst over the limit and earns a 429).

    A reply takes the first free slot. A bulk send goes only while no reply waits, leaves one
    slot of each window to replies while residents are writing, and is spaced evenly, so slots
    keep freeing for replies arriving mid-campaign."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, int(rate))
        # Sends bunch a little on their way (the event loop, the network): a window 1 % longer
        # than Telegram's second keeps its count under the limit where Telegram counts.
        self.window = self.limit / rate * (1 + WINDOW_SLACK)
        self.keep = 1 if self.limit > 1 else 0
        self.spacing = self.window / self.limit
        self.last_reply = -1e9
        self.clock = clock
        self.sent: collections.deque[float] = collections.deque()
        self.replies_waiting = 0
        self.paused_until = 0.0
        self.next_bulk = 0.0

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nothing goes for ``seconds``."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def _free_at(self, now: float, keep: int) -> float:
        """When a send may go that leaves ``keep`` slots of the window free."""
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        over = len(self.sent) + keep + 1 - self.limit
        if over <= 0:
            return now
        return self.sent[over - 1] + self.window

    async def reply(self) -> None:
        self.replies_waiting += 1
        try:
            while True:
                now = self.clock()
                at = max(self._free_at(now, 0), self.paused_until)
                if at <= now:
                    self.sent.append(now)
                    self.last_reply = now
                    return
                await asyncio.sleep(at - now)
        finally:
            self.replies_waiting -= 1

    async def bulk(self, max_pause: float = BULK_MAX_WAIT_S) -> None:
        while True:
            now = self.clock()
            if self.paused_until - now > max_pause:
                raise BudgetPaused(self.paused_until - now)
            # A slot of each window is kept for replies while residents are writing.
            keep = self.keep if now - self.last_reply < REPLIES_LATELY_S else 0
            at = max(self._free_at(now, keep), self.next_bulk, self.paused_until)
            if at <= now and not self.replies_waiting:
                self.sent.append(now)
                # On the cadence, not from when this task happened to wake: lateness does not
                # add up (the window above still holds the count).
                self.next_bulk = max(self.next_bulk, now - self.spacing) + self.spacing
                return
            await asyncio.sleep(max(at - now, 0.002))


class SharedRateLimiter(BaseRateLimiter[dict[str, Any]]):
    def __init__(
        self,
        budget: SendBudget,
        max_retries: int = 3,
        group_per_minute: int | None = GROUP_PER_MINUTE,
    ) -> None:
        self.budget = budget
        self.max_retries = max_retries
        self.group_per_minute = group_per_minute
        self._groups: dict[str | int, AsyncLimiter] = {}

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def _group(self, chat_id: object) -> AsyncLimiter | None:
        if self.group_per_minute is None:
            return None
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)  # type: ignore[call-overload]
        if (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str):
            limiter = self._groups.get(chat_id)
            if limiter is None:
                limiter = self._groups[chat_id] = AsyncLimiter(self.group_per_minute, 60)
            return limiter
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | JSONDict | list[JSONDict]:
        bulk = bool(rate_limit_args and rate_limit_args.get("bulk"))
        chat_id = data.get("chat_id")
        # Only messages to a chat count against Telegram's limits (not getUpdates, answers to
        # button presses, getMe).
        group = self._group(chat_id) if chat_id is not None else None
        for attempt in range(self.max_retries + 1):
            if chat_id is not None:
                if bulk:
                    try:
                        await self.budget.bulk()
                    except BudgetPaused as exc:
                        raise RetryAfter(int(exc.seconds) + 1) from exc
                else:
                    await self.budget.reply()
            try:
                if group is not None:
                    async with group:
                        return await callback(*args, **kwargs)
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
                self.budget.pause(seconds + 0.1)
                log.info("Telegram asked to slow down", extra={"retry_after_s": seconds})
                if attempt == self.max_retries or bulk:
                    raise
        raise AssertionError("unreachable")
