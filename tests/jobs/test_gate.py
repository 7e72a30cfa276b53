"""Quiet hours and the weekly cap, as functions of the time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jobs.gate import DEFAULT_QUIET, in_quiet_hours, next_allowed

TZ = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def test_quiet_hours_wrap_midnight() -> None:
    assert in_quiet_hours(at(1, 21), *DEFAULT_QUIET, TZ)
    assert in_quiet_hours(at(1, 3), *DEFAULT_QUIET, TZ)
    assert not in_quiet_hours(at(1, 8), *DEFAULT_QUIET, TZ)
    assert not in_quiet_hours(at(1, 20, 59), *DEFAULT_QUIET, TZ)


def test_a_late_reminder_waits_for_the_morning() -> None:
    assert next_allowed(at(1, 22), quiet=DEFAULT_QUIET, sent_this_week=[], cap=3, tz=TZ) == at(2, 8)
    assert next_allowed(at(2, 2), quiet=DEFAULT_QUIET, sent_this_week=[], cap=3, tz=TZ) == at(2, 8)
    assert next_allowed(at(2, 9), quiet=DEFAULT_QUIET, sent_this_week=[], cap=3, tz=TZ) is None


def test_the_weekly_cap_holds_the_fourth_until_the_first_is_a_week_old() -> None:
    sent = [at(1, 10), at(3, 10), at(5, 10)]
    assert next_allowed(at(6, 10), quiet=DEFAULT_QUIET, sent_this_week=sent, cap=3, tz=TZ) == at(
        8, 10
    )
    # Freed in what are now the resident's quiet hours: it waits for the morning too.
    late = [at(1, 20, 30), at(3, 10), at(5, 10)]
    earlier = (20 * 60, 8 * 60)
    assert next_allowed(at(6, 10), quiet=earlier, sent_this_week=late, cap=3, tz=TZ) == at(9, 8)
    assert (
        next_allowed(at(6, 10), quiet=DEFAULT_QUIET, sent_this_week=sent[:2], cap=3, tz=TZ) is None
    )
    assert next_allowed(at(9, 10), quiet=DEFAULT_QUIET, sent_this_week=sent, cap=3, tz=TZ) is None
