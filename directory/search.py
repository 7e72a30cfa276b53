"""Searching the directory: by category, town and text, nearest to a point, open now.

Works on an in-memory index built from the exported HSDS services (a few hundred places, or
tens of thousands): distances are computed for all candidates at once with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from directory.hsds import DAYS, iter_locations
from directory.places import CATEGORY_BY_CODE, find_category, find_town

EARTH_RADIUS_M = 6_371_008.8
DAY_NAMES = {
    "MO": "周一",
    "TU": "周二",
    "WE": "周三",
    "TH": "周四",
    "FR": "周五",
    "SA": "周六",
    "SU": "周日",
}
TEXT_MATCH_MIN = 60.0


@dataclass(frozen=True)
class Opening:
    days: frozenset[str]
    opens: time
    closes: time
    valid_from: date | None
    valid_to: date | None
    follows_state_calendar: bool


@dataclass(frozen=True)
class Facility:
    service_id: str
    name: str
    category: str
    town: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    phone: str | None
    description: str | None
    note: str | None
    openings: tuple[Opening, ...]
    closures: tuple[tuple[date, date], ...]
    searchable: str

    @property
    def hours(self) -> str:
        return format_hours(self.openings)


def _time(value: str) -> time:
    hours, minutes = value[:5].split(":")
    return time(int(hours), int(minutes))


def format_hours(openings: Sequence[Opening]) -> str:
    """周一至周五 09:00–17:00；周六 09:00–12:00 (每天 for all seven days)."""
    parts = []
    for opening in openings:
        days = [d for d in DAYS if d in opening.days]
        if len(days) == 7:
            label = "每天"
        elif days == list(DAYS[DAYS.index(days[0]) : DAYS.index(days[-1]) + 1]) and len(days) > 2:
            label = f"{DAY_NAMES[days[0]]}至{DAY_NAMES[days[-1]]}"
        else:
            label = "、".join(DAY_NAMES[d] for d in days)
        parts.append(f"{label} {opening.opens:%H:%M}–{opening.closes:%H:%M}")
    return "；".join(parts)


def facility_from_service(service: dict[str, Any]) -> Facility:
    category = next(
        (
            a.get("taxonomy_term", {}).get("code") or a.get("value")
            for a in service.get("attributes") or []
        ),
        None,
    )
    location: dict[str, Any] = next(iter(iter_locations(service)), {})
    address = next((a.get("address_1") for a in location.get("addresses") or []), None)
    phone = next((p.get("number") for p in service.get("phones") or []), None)
    openings = tuple(
        Opening(
            days=frozenset(s["byday"].split(",")),
            opens=_time(s["opens_at"]),
            closes=_time(s["closes_at"]),
            valid_from=date.fromisoformat(s["valid_from"]) if s.get("valid_from") else None,
            valid_to=date.fromisoformat(s["valid_to"]) if s.get("valid_to") else None,
            follows_state_calendar=bool(s.get("follows_state_calendar", True)),
        )
        for s in location.get("schedules") or []
    )
    closures = tuple(
        (date.fromisoformat(c["starts_on"]), date.fromisoformat(c["ends_on"]))
        for c in location.get("closures") or []
    )
    code = str(category or "")
    name = str(service.get("name", ""))
    category_name = CATEGORY_BY_CODE[code].name if code in CATEGORY_BY_CODE else ""
    return Facility(
        service_id=str(service["id"]),
        name=name,
        category=code,
        town=location.get("town"),
        address=address,
        latitude=location.get("latitude"),
        longitude=location.get("longitude"),
        phone=phone,
        description=service.get("description"),
        note=service.get("alert"),
        openings=openings,
        closures=closures,
        searchable=" ".join(
            filter(None, [name, category_name, service.get("description"), address])
        ).lower(),
    )


def _state_day(day: date) -> tuple[bool, bool]:
    """(is a working day, is known) by China's calendar: holidays and adjusted workdays."""
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day)), True
    except (NotImplementedError, ImportError):
        return day.weekday() < 5, False


def is_open(facility: Facility, now: datetime) -> bool:
    """Open at ``now`` (local, tz-aware): its weekly hours, China's public holidays and
    adjusted working days for places that follow them, and its dated closures."""
    today = now.date()
    if any(start <= today <= end for start, end in facility.closures):
        return False
    weekday = DAYS[today.weekday()]
    workday, _ = _state_day(today)
    moment = now.time().replace(second=0, microsecond=0)
    for opening in facility.openings:
        if opening.valid_from and today < opening.valid_from:
            continue
        if opening.valid_to and today > opening.valid_to:
            continue
        day = weekday
        if opening.follows_state_calendar:
            if workday and weekday in ("SA", "SU"):
                day = "MO"  # 调休: a weekend working day keeps weekday hours
            elif not workday and weekday not in ("SA", "SU"):
                day = "SU"  # a public holiday on a weekday: holiday hours, usually closed
        if day in opening.days and opening.opens <= moment < opening.closes:
            return True
    return False


@dataclass(frozen=True)
class Result:
    facility: Facility
    distance_m: float | None
    open_now: bool

    def as_row(self) -> dict[str, Any]:
        f = self.facility
        row: dict[str, Any] = {
            "service_id": f.service_id,
            "name": f.name,
            "category": f.category,
            "town": f.town,
            "address": f.address,
            "latitude": f.latitude,
            "longitude": f.longitude,
            "phone": f.phone,
            "hours": f.hours,
            "open_now": self.open_now,
        }
        if self.distance_m is not None:
            row["distance_m"] = round(self.distance_m)
        return row


class SearchError(ValueError):
    """A filter that names nothing known (a category or town), for a clear message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DirectoryIndex:
    def __init__(self, facilities: Sequence[Facility]) -> None:
        self.facilities = tuple(facilities)
        self.by_id = {f.service_id: f for f in self.facilities}
        self.categories = np.array([f.category for f in self.facilities], dtype=object)
        self.towns = np.array([f.town or "" for f in self.facilities], dtype=object)
        lat = np.array([f.latitude if f.latitude is not None else np.nan for f in facilities])
        lon = np.array([f.longitude if f.longitude is not None else np.nan for f in facilities])
        self.lat = np.radians(lat.astype(float))
        self.lon = np.radians(lon.astype(float))
        self.cos_lat = np.cos(self.lat)

    @classmethod
    def from_services(cls, services: Sequence[dict[str, Any]]) -> DirectoryIndex:
        return cls([facility_from_service(s) for s in services])

    @property
    def has_sample_data(self) -> bool:
        return any(f.note and "示例数据" in f.note for f in self.facilities)

    def distances(self, latitude: float, longitude: float) -> np.ndarray[Any, Any]:
        """Great-circle distance in metres from a point to every facility (haversine)."""
        lat0, lon0 = math.radians(latitude), math.radians(longitude)
        a = (
            np.sin((self.lat - lat0) / 2) ** 2
            + math.cos(lat0) * self.cos_lat * np.sin((self.lon - lon0) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))

    def search(
        self,
        *,
        now: datetime,
        category: str | None = None,
        town: str | None = None,
        text: str | None = None,
        near: tuple[float, float] | None = None,
        radius_m: float | None = None,
        open_now: bool = False,
        limit: int | None = None,
    ) -> list[Result]:
        mask = np.ones(len(self.facilities), dtype=bool)
        if category:
            found = find_category(category)
            if found is None:
                raise SearchError("category", f"unknown category {category!r}")
            mask &= self.categories == found.code
        if town:
            place = find_town(town)
            if place is None:
                raise SearchError("town", f"unknown town {town!r}")
            mask &= self.towns == place.name
        distances = None
        if near is not None:
            latitude, longitude = near
            if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
                raise SearchError("near", "latitude must be -90..90 and longitude -180..180")
            distances = self.distances(latitude, longitude)
            mask &= ~np.isnan(distances)
            if radius_m is not None:
                mask &= distances <= radius_m
        indices = np.flatnonzero(mask)
        scores: dict[int, float] = {}
        if text:
            wanted = text.strip().lower()
            for i in indices:
                score = fuzz.partial_ratio(wanted, self.facilities[i].searchable)
                if score >= TEXT_MATCH_MIN:
                    scores[int(i)] = score
            indices = np.array(sorted(scores), dtype=int)
        if distances is not None:
            indices = indices[np.argsort(distances[indices], kind="stable")]
        elif text:
            indices = np.array(sorted(indices, key=lambda i: -scores[int(i)]), dtype=int)
        results = []
        for i in indices:
            facility = self.facilities[int(i)]
            opened = is_open(facility, now)
            if open_now and not opened:
                continue
            distance = float(distances[int(i)]) if distances is not None else None
            results.append(Result(facility, distance, opened))
            if limit is not None and len(results) >= limit:
                break
        return results
