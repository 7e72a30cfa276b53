"""How long residents wait for a person: Prometheus histograms of the time to claim, to the
first answer and to closing, and a gauge of cases waiting (read from the database when scraped,
so every replica reports the same number)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, Histogram

if TYPE_CHECKING:
    from bot.escalations.models import Escalation

# Seconds: from a minute to a working day.
_BUCKETS = (30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)


class CaseObserver:
    """Told of each transition; this one keeps nothing (the CLI and tests use it)."""

    def claimed(self, case: Escalation, now: datetime) -> None:
        return None

    def first_reply(self, case: Escalation, now: datetime) -> None:
        return None

    def closed(self, case: Escalation, now: datetime) -> None:
        return None


class CaseMetrics(CaseObserver):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.to_claim = Histogram(
            "minzheng_escalation_claim_seconds",
            "Time from a case opening (or reopening) to an advisor claiming it.",
            buckets=_BUCKETS,
            registry=registry,
        )
        self.to_first_reply = Histogram(
            "minzheng_escalation_first_reply_seconds",
            "Time from a case opening to the advisor's first answer.",
            buckets=_BUCKETS,
            registry=registry,
        )
        self.to_close = Histogram(
            "minzheng_escalation_close_seconds",
            "Time from a case opening to its closing.",
            buckets=_BUCKETS,
            registry=registry,
        )
        self.waiting = Gauge(
            "minzheng_escalations_waiting",
            "Cases open and not yet claimed by an advisor.",
            registry=registry,
        )

    def claimed(self, case: Escalation, now: datetime) -> None:
        waited = now - (case.waiting_since or case.opened_at)
        self.to_claim.observe(max(0.0, waited.total_seconds()))

    def first_reply(self, case: Escalation, now: datetime) -> None:
        self.to_first_reply.observe(max(0.0, (now - case.opened_at).total_seconds()))

    def closed(self, case: Escalation, now: datetime) -> None:
        self.to_close.observe(max(0.0, (now - case.opened_at).total_seconds()))
