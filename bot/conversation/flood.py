"""A resident sending more than ``limit`` messages a minute is slowed, not dropped, and told
so once."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class FloodGuard:
    limit: int = 20
    window_s: float = 60.0
    slow_delay_s: float = 2.0
    _seen: dict[str, deque[float]] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    def check(self, key: str, now: float | None = None) -> tuple[float, bool]:
        """(seconds to wait before handling, whether to send the one notice now)."""
        moment = time.monotonic() if now is None else now
        recent = self._seen.setdefault(key, deque())
        while recent and moment - recent[0] > self.window_s:
            recent.popleft()
        recent.append(moment)
        if len(recent) <= self.limit:
            self._warned.discard(key)
            return 0.0, False
        notify = key not in self._warned
        self._warned.add(key)
        if len(self._seen) > 100_000:
            # Forget residents who went quiet, so the table cannot grow without bound.
            for stale in [k for k, q in self._seen.items() if moment - q[-1] > self.window_s]:
                del self._seen[stale]
        return self.slow_delay_s, notify
