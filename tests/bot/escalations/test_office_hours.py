"""The advisors' office hours: periods on China's working days, in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.escalations.office_hours import OfficeHours

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
HOURS = OfficeHours.parse("08:30-12:00,13:00-17:00", SHANGHAI)


def at(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


# --- parse -------------------------------------------------------------------------------


def test_parse_normal_setting() -> None:
    assert [(str(s), str(e)) for s, e in HOURS.periods] == [
        ("08:30:00", "12:00:00"),
        ("13:00:00", "17:00:00"),
    ]
    assert HOURS.tz is SHANGHAI


@pytest.mark.parametrize(
    "text",
    [
        " 08:30 - 12:00 , 13:00 - 17:00 ",
        "08：30－12：00，13：00－17：00",
        "8:30—12:00，13:00—17:00",
        "8:30-12:00,\n13:00-17:00",
    ],
)
def test_parse_tolerates_whitespace_and_full_width(text: str) -> None:
    assert OfficeHours.parse(text, SHANGHAI) == HOURS


def test_parse_single_and_adjacent_periods() -> None:
    assert len(OfficeHours.parse("09:00-17:00", SHANGHAI).periods) == 1
    adjacent = OfficeHours.parse("09:00-12:00,12:00-13:00", SHANGHAI)
    assert adjacent.is_open(at(2025, 12, 2, 12, 0))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty setting"),
        ("   ", "empty setting"),
        ("8:30", "'8:30' is not in the form HH:MM-HH:MM"),
        ("08:30-12:00,", "empty period"),
        ("08:30~12:00", "not in the form"),
        ("8h30-12h00", "not in the form"),
        ("17:00-08:30", "17:00-8:30 does not end after it starts"),
        ("09:00-09:00", "does not end after it starts"),
        ("08:30-12:00,11:00-13:00", "overlaps or precedes"),
        ("13:00-17:00,08:30-12:00", "ascending"),
        ("25:00-26:00", "invalid time 25:00"),
        ("08:60-09:00", "invalid time 08:60"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OfficeHours.parse(text, SHANGHAI)


def test_describe() -> None:
    assert HOURS.describe() == "工作日 8:30-12:00、13:00-17:00"
    assert OfficeHours.parse("09:00-17:30", SHANGHAI).describe() == "工作日 9:00-17:30"


# --- is_open -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(2025, 12, 2, 10, 0), True),  # a Tuesday morning
        (at(2025, 12, 2, 8, 29, 59), False),
        (at(2025, 12, 2, 8, 30), True),  # start inclusive
        (at(2025, 12, 2, 11, 59, 59), True),
        (at(2025, 12, 2, 12, 0), False),  # end exclusive
        (at(2025, 12, 2, 12, 30), False),  # lunch break
        (at(2025, 12, 2, 13, 0), True),
        (at(2025, 12, 2, 16, 59, 59), True),
        (at(2025, 12, 2, 17, 0), False),
        (at(2025, 12, 2, 22, 0), False),
        (at(2025, 12, 2, 0, 0), False),
    ],
)
def test_is_open_on_a_tuesday(moment: datetime, expected: bool) -> None:
    assert HOURS.is_open(moment) is expected


def test_closed_on_a_weekend() -> None:
    assert not HOURS.is_open(at(2025, 12, 6, 10, 0))  # Saturday
    assert not HOURS.is_open(at(2025, 12, 7, 14, 0))  # Sunday


def test_closed_on_national_day() -> None:
    assert not HOURS.is_open(at(2025, 10, 1, 10, 0))  # a Wednesday, public holiday
    assert not HOURS.is_open(at(2025, 10, 8, 10, 0))  # last day of the 2025 holiday


def test_open_on_adjusted_working_days() -> None:
    assert HOURS.is_open(at(2025, 9, 28, 10, 0))  # a Sunday, 调休 working day
    assert HOURS.is_open(at(2025, 10, 11, 14, 0))  # a Saturday, 调休 working day


def test_unknown_year_falls_back_to_monday_to_friday() -> None:
    assert HOURS.is_open(at(2040, 10, 1, 10, 0))  # a Monday; no calendar data for 2040
    assert not HOURS.is_open(at(2040, 10, 6, 10, 0))  # a Saturday
    assert HOURS.next_opening(at(2040, 10, 5, 17, 30)) == at(2040, 10, 8, 8, 30)


def test_utc_is_converted() -> None:
    assert HOURS.is_open(datetime(2025, 12, 2, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    assert not HOURS.is_open(datetime(2025, 12, 2, 9, 30, tzinfo=UTC))  # 17:30
    # Monday 23:00 UTC is Tuesday 07:00 in Shanghai: opens at 08:30 the same local day.
    opening = HOURS.next_opening(datetime(2025, 12, 1, 23, 0, tzinfo=UTC))
    assert opening == at(2025, 12, 2, 8, 30)
    assert opening.tzinfo is SHANGHAI


def test_naive_datetime_raises() -> None:
    naive = datetime(2025, 12, 2, 10, 0)
    with pytest.raises(ValueError, match="tz-aware"):
        HOURS.is_open(naive)
    with pytest.raises(ValueError, match="tz-aware"):
        HOURS.next_opening(naive)
    with pytest.raises(ValueError, match="tz-aware"):
        HOURS.describe_next(naive)
    with pytest.raises(ValueError, match="tz-aware"):
        HOURS.open_duration(naive, at(2025, 12, 2, 11, 0))
    with pytest.raises(ValueError, match="tz-aware"):
        HOURS.open_duration(at(2025, 12, 2, 9, 0), naive)


# --- next_opening ------------------------------------------------------------------------


def test_next_opening_when_open_is_now() -> None:
    now = datetime(2025, 12, 2, 2, 15, 7, tzinfo=UTC)
    opening = HOURS.next_opening(now)
    assert opening == now
    assert opening.tzinfo is SHANGHAI


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2025, 12, 2, 7, 0), at(2025, 12, 2, 8, 30)),  # before opening
        (at(2025, 12, 2, 12, 0), at(2025, 12, 2, 13, 0)),  # lunch
        (at(2025, 12, 2, 17, 0), at(2025, 12, 3, 8, 30)),  # evening
        (at(2025, 12, 5, 17, 30), at(2025, 12, 8, 8, 30)),  # Friday → Monday
        (at(2025, 12, 6, 10, 0), at(2025, 12, 8, 8, 30)),  # Saturday
        (at(2025, 9, 27, 10, 0), at(2025, 9, 28, 8, 30)),  # Saturday → 调休 Sunday
    ],
)
def test_next_opening(now: datetime, expected: datetime) -> None:
    assert HOURS.next_opening(now) == expected


def test_next_opening_across_national_day() -> None:
    # Verified with chinese_calendar: 2025-10-01..08 are holidays, 2025-10-09 (Thu) works.
    assert HOURS.next_opening(at(2025, 9, 30, 17, 30)) == at(2025, 10, 9, 8, 30)
    assert HOURS.describe_next(at(2025, 9, 30, 17, 30)) == "10月9日（周四）8:30"


# --- describe_next -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "phrase"),
    [
        (at(2025, 12, 2, 10, 0), "现在"),
        (at(2025, 12, 2, 7, 0), "今天8:30"),
        (at(2025, 12, 2, 12, 30), "今天13:00"),
        (at(2025, 12, 1, 17, 30), "明天（12月2日）8:30"),
        (at(2025, 12, 5, 17, 30), "12月8日（周一）8:30"),
        (at(2025, 12, 6, 10, 0), "12月8日（周一）8:30"),
        (at(2025, 12, 7, 10, 0), "明天（12月8日）8:30"),
        (datetime(2025, 12, 2, 4, 30, tzinfo=UTC), "今天13:00"),  # 12:30 in Shanghai
    ],
)
def test_describe_next(now: datetime, phrase: str) -> None:
    assert HOURS.describe_next(now) == phrase


# --- open_duration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (at(2025, 12, 2, 9, 0), at(2025, 12, 2, 9, 10), timedelta(minutes=10)),
        (at(2025, 12, 2, 11, 55), at(2025, 12, 2, 13, 5), timedelta(minutes=10)),  # lunch
        (at(2025, 12, 2, 12, 10), at(2025, 12, 2, 12, 50), timedelta(0)),
        (at(2025, 12, 2, 16, 0), at(2025, 12, 3, 9, 0), timedelta(hours=1, minutes=30)),  # night
        (at(2025, 12, 5, 16, 30), at(2025, 12, 8, 9, 0), timedelta(hours=1)),  # weekend
        (at(2025, 12, 6, 9, 0), at(2025, 12, 7, 18, 0), timedelta(0)),  # all weekend
        (at(2025, 9, 30, 16, 0), at(2025, 10, 9, 9, 0), timedelta(hours=1, minutes=30)),
        (at(2025, 12, 2, 10, 0), at(2025, 12, 2, 9, 0), timedelta(0)),  # reversed
        (at(2025, 12, 2, 10, 0), at(2025, 12, 2, 10, 0), timedelta(0)),
    ],
)
def test_open_duration(start: datetime, end: datetime, expected: timedelta) -> None:
    assert HOURS.open_duration(start, end) == expected


def test_open_duration_over_weeks() -> None:
    # 2025-11-03 (Mon) to 2025-11-30 (Sun): four plain weeks, 20 working days of 7.5 hours.
    total = HOURS.open_duration(at(2025, 11, 3, 0, 0), at(2025, 11, 30, 23, 59))
    assert total == timedelta(hours=150)


def test_open_duration_mixed_time_zones() -> None:
    start = datetime(2025, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    end = at(2025, 12, 2, 9, 25)
    assert HOURS.open_duration(start, end) == timedelta(minutes=25)


# --- properties --------------------------------------------------------------------------

aware_moments = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2026, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([SHANGHAI, UTC, NEW_YORK]),
)


@settings(max_examples=300, deadline=None)
@given(now=aware_moments)
def test_next_opening_is_open_and_not_before_now(now: datetime) -> None:
    opening = HOURS.next_opening(now)
    assert opening.tzinfo is SHANGHAI
    assert opening.astimezone(UTC) >= now.astimezone(UTC)
    assert HOURS.is_open(opening)


@settings(max_examples=300, deadline=None)
@given(a=aware_moments, b=aware_moments)
def test_open_duration_is_bounded(a: datetime, b: datetime) -> None:
    elapsed = HOURS.open_duration(a, b)
    real = b.astimezone(UTC) - a.astimezone(UTC)  # not b - a: same-tz subtraction is wall time
    assert timedelta(0) <= elapsed <= max(real, timedelta(0))
