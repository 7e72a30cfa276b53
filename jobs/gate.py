"""When a reminder may go: never in the resident's quiet hours, and no more than the weekly cap
in any seven days. Pure functions of the time; the sender asks them for each row it takes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK = timedelta(days=7)
DEFAULT_QUIET = (21 * 60, 8 * 60)
WEEKLY_CAP = 3


def in_quiet_hours(moment: datetime, start: int, end: int, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    minutes = local.hour * 60 + local.minute
    if start == end:
        return False
    if start < end:
        return start <= minutes < end
    return minutes >= start or minutes < end


def quiet_ends(moment: datetime, start: int, end: int, tz: ZoneInfo) -> datetime:
    """The first moment after ``moment`` outside the quiet hours (their end, that morning)."""
    local = moment.astimezone(tz)
    ends = datetime.combine(local.date(), time(end // 60, end % 60), tzinfo=tz)
    if ends <= local:
        ends += timedelta(days=1)
    return ends


def cap_frees(sent: Sequence[datetime], now: datetime, cap: int) -> datetime | None:
    """None when another reminder fits in the seven days before ``now``; else when one does.
    ``sent``: the times of what was sent in that week, oldest first."""
    recent = [at for at in sent if at > now - WEEK]
    if len(recent) < cap:
        return None
    return recent[len(recent) - cap] + WEEK


def next_allowed(
    now: datetime,
    *,
    quiet: tuple[int, int],
    sent_this_week: Sequence[datetime],
    cap: int,
    tz: ZoneInfo,
) -> datetime | None:
    """None: it may go now. Else the earliest moment both the cap and the quiet hours allow."""
    at = now
    for _ in range(3):
        frees = cap_frees(sent_this_week, at, cap)
        if frees is not None and frees > at:
            at = frees
        if in_quiet_hours(at, *quiet, tz):
            at = quiet_ends(at, *quiet, tz)
        if cap_frees(sent_this_week, at, cap) is None and not in_quiet_hours(at, *quiet, tz):
            break
    return None if at == now else at
