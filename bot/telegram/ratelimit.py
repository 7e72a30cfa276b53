"""One budget of outbound messages per second for everything the bot sends
(``MINZHENG_SEND_RATE``), replies to residents first, reminders with what is left.

PTB's ``AIORateLimiter`` has one queue: a campaign of 10,000 reminders would make a resident's
answer wait behind it. Here replies take a message's slot at once (a few slots are kept back for
them), and bulk sends (``rate_limit_args={"bulk": True}``) take one only when no reply is
waiting. Telegram's 429 pauses every send for its ``retry_after``; the advisors' group keeps to
Telegram's 20 messages a minute per group, as ``AIORateLimiter`` does.
"""

from __future__ import annotations

import asyncio
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
# A bulk send does not wait inside the limiter longer than this for a 429: its row is tried
# again later by the sender instead, so a row is never held "sending" for long.
BULK_MAX_WAIT_S = 30.0
JSONDict = dict[str, Any]


class SendBudget:
    """A token bucket with two lanes. Tokens refill at ``rate`` a second up to a small burst;
    a reply takes one as soon as there is one; a bulk send only while no reply waits and more
    than ``reserve`` tokens are left, so a reply arriving mid-campaign finds one."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * 0.2)
        self.reserve = min(3.0, self.capacity - 1.0)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self.replies_waiting = 0
        self.paused_until = 0.0

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return now

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nothing goes for ``seconds``."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        self.tokens = 0.0

    async def reply(self) -> None:
        self.replies_waiting += 1
        try:
            while True:
                now = self._refill()
                if self.paused_until > now:
                    await asyncio.sleep(self.paused_until - now)
                elif self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return
                else:
                    await asyncio.sleep((1.0 - self.tokens) / self.rate)
        finally:
            self.replies_waiting -= 1

    async def bulk(self) -> None:
        need = 1.0 + self.reserve
        while True:
            now = self._refill()
            if self.paused_until > now:
                await asyncio.sleep(self.paused_until - now)
            elif self.tokens >= need and not self.replies_waiting:
                self.tokens -= 1.0
                return
            else:
                await asyncio.sleep(max((need - self.tokens) / self.rate, 0.002))


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
                await (self.budget.bulk() if bulk else self.budget.reply())
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
                if attempt == self.max_retries or (bulk and seconds > BULK_MAX_WAIT_S):
                    raise
        raise AssertionError("unreachable")
