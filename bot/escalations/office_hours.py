"""The eldercare advisors' office hours: periods on China's working days.

Pure and tz-aware: every moment given is converted to the hours' time zone, and naive
datetimes are refused. Working days follow ``chinese_calendar`` (public holidays and 调休
adjusted working days); for years it does not know, Monday to Friday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SEARCH_DAYS = 60
WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_FULL_WIDTH = str.maketrans({"，": ",", "：": ":", "－": "-", "—": "-", "–": "-"})
_PERIOD = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


def is_workday(day: date) -> bool:
    """A working day by China's calendar; Monday to Friday for years it does not know."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def _clock(value: time) -> str:
    """8:30, 13:00: hours without a leading zero."""
    return f"{value.hour}:{value.minute:02d}"


def _parse_time(hours: str, minutes: str, period: str) -> time:
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"office hours: invalid time {hours}:{minutes} in period {period!r}")
    return time(h, m)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"office hours need a tz-aware datetime, got naive {moment!r}")
    return moment


@dataclass(frozen=True)
class OfficeHours:
    periods: tuple[tuple[time, time], ...]
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("office hours: no period given (expected e.g. 08:30-12:00)")
        previous_end: time | None = None
        for start, end in self.periods:
            label = f"{_clock(start)}-{_clock(end)}"
            if start >= end:
                raise ValueError(f"office hours: period {label} does not end after it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError(
                    f"office hours: period {label} overlaps or precedes the one before it; "
                    "periods must be in ascending order and must not overlap"
                )
            previous_end = end

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo) -> OfficeHours:
        """``"08:30-12:00,13:00-17:00"``: HH:MM-HH:MM periods, comma-separated, ascending."""
        normalized = re.sub(r"\s+", "", text.translate(_FULL_WIDTH))
        if not normalized:
            raise ValueError("office hours: empty setting (expected e.g. 08:30-12:00,13:00-17:00)")
        periods = []
        for part in normalized.split(","):
            match = _PERIOD.fullmatch(part)
            if match is None:
                raise ValueError(
                    f"office hours: period {part!r} is not in the form HH:MM-HH:MM"
                    if part
                    else f"office hours: empty period in {text!r}"
                )
            h1, m1, h2, m2 = match.groups()
            periods.append((_parse_time(h1, m1, part), _parse_time(h2, m2, part)))
        return cls(tuple(periods), tz)

    def _local(self, moment: datetime) -> datetime:
        return _aware(moment).astimezone(self.tz)

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.tz)

    def is_open(self, now: datetime) -> bool:
        local = self._local(now)
        if not is_workday(local.date()):
            return False
        clock = local.time()
        return any(start <= clock < end for start, end in self.periods)

    def next_opening(self, now: datetime) -> datetime:
        """``now`` (in the hours' tz) if open, else the start of the next period."""
        local = self._local(now)
        if self.is_open(local):
            return local
        for offset in range(SEARCH_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            if not is_workday(day):
                continue
            for start, _ in self.periods:
                opening = self._at(day, start)
                if opening > local:
                    return opening
        raise RuntimeError(f"office hours: no opening within {SEARCH_DAYS} days of {local}")

    def describe_next(self, now: datetime) -> str:
        """现在 / 今天13:00 / 明天（12月2日）8:30 / 12月8日（周一）8:30."""
        local = self._local(now)
        opening = self.next_opening(local)
        if opening == local:
            return "现在"
        days = (opening.date() - local.date()).days
        day = opening.date()
        clock = _clock(opening.time())
        if days == 0:
            return f"今天{clock}"
        if days == 1:
            return f"明天（{day.month}月{day.day}日）{clock}"
        return f"{day.month}月{day.day}日（{WEEKDAY_NAMES[day.weekday()]}）{clock}"

    def open_duration(self, start: datetime, end: datetime) -> timedelta:
        """Office-hours time elapsed between two moments (zero if ``end`` is not later)."""
        begin, finish = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
        total = timedelta()
        if finish <= begin:
            return total
        day, last = begin.astimezone(self.tz).date(), finish.astimezone(self.tz).date()
        while day <= last:
            if is_workday(day):
                for opens, closes in self.periods:
                    lo = max(begin, self._at(day, opens).astimezone(UTC))
                    hi = min(finish, self._at(day, closes).astimezone(UTC))
                    if hi > lo:
                        total += hi - lo
            day += timedelta(days=1)
        return total

    def describe(self) -> str:
        """工作日 8:30-12:00、13:00-17:00."""
        return "工作日 " + "、".join(f"{_clock(s)}-{_clock(e)}" for s, e in self.periods)
