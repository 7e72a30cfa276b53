"""The sender's outcomes on /metrics: ``ReminderMetrics`` as the sender's ``SendObserver``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from bot.reminders.metrics import ReminderMetrics
from jobs.sender import SendObserver


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_outcomes_are_counted_and_the_lag_of_sent_ones_observed() -> None:
    registry = CollectorRegistry()
    metrics = ReminderMetrics(registry)
    observer: SendObserver = metrics  # the protocol the sender is given
    # Every outcome is there from the start, at zero.
    for outcome in ("sent", "retried", "blocked", "failed"):
        assert sample(registry, "minzheng_reminders_total", outcome=outcome) == 0.0

    observer.outcome("sent", 2.5)
    observer.outcome("sent", 400.0)
    observer.outcome("sent", -1.0)  # a clock a little behind counts as on time
    observer.outcome("retried", None)
    observer.outcome("blocked", None)
    observer.outcome("failed", None)
    observer.outcome("failed", None)
    observer.outcome("something else", 3.0)  # not a label of its own

    assert sample(registry, "minzheng_reminders_total", outcome="sent") == 3.0
    assert sample(registry, "minzheng_reminders_total", outcome="retried") == 1.0
    assert sample(registry, "minzheng_reminders_total", outcome="blocked") == 1.0
    assert sample(registry, "minzheng_reminders_total", outcome="failed") == 2.0
    assert sample(registry, "minzheng_reminder_send_lag_seconds_count") == 3.0
    assert sample(registry, "minzheng_reminder_send_lag_seconds_sum") == 402.5
    assert sample(registry, "minzheng_reminder_send_lag_seconds_bucket", le="1.0") == 1.0
    assert sample(registry, "minzheng_reminder_send_lag_seconds_bucket", le="5.0") == 2.0
    assert sample(registry, "minzheng_reminder_send_lag_seconds_bucket", le="300.0") == 2.0
    assert sample(registry, "minzheng_reminder_send_lag_seconds_bucket", le="600.0") == 3.0
    text = generate_latest(registry).decode()
    assert "something else" not in text
    assert 'minzheng_reminders_total{outcome="sent"} 3.0' in text


def test_two_registries_do_not_collide() -> None:
    # One per application: two apps in one process (tests) each register their own.
    ReminderMetrics(CollectorRegistry())
    ReminderMetrics(CollectorRegistry())
