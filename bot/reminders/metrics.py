"""What the sender did, on /metrics: a counter of outcomes and a histogram of how late the
sent reminders went out. ``ReminderMetrics`` is the ``jobs.sender.SendObserver`` the
composition root gives the sender; the outbox's gauges are read from the database when scraped
(``bot.console.metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# What jobs.sender reports; anything else is not counted, so the labels stay bounded.
OUTCOMES = ("sent", "retried", "blocked", "failed")
# Seconds from when a reminder could go to when it went: the rate limit's seconds to the
# hours a stopped scheduler leaves behind.
_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)


class ReminderMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = Counter(
            "minzheng_reminders_total",
            "Reminders the sender finished with, by outcome: sent, retried (a temporary "
            "failure), blocked (the resident blocked the bot), failed (never deliverable).",
            ["outcome"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            # Every series exists from the start, at 0: a rate over it never starts blank.
            self.outcomes.labels(outcome)
        self.lag = Histogram(
            "minzheng_reminder_send_lag_seconds",
            "Time from when a reminder was due (after quiet hours) to when it was sent.",
            buckets=_BUCKETS,
            registry=registry,
        )

    def outcome(self, kind: str, lag_s: float | None) -> None:
        if kind not in OUTCOMES:
            return
        self.outcomes.labels(kind).inc()
        if kind == "sent" and lag_s is not None:
            self.lag.observe(max(0.0, lag_s))
