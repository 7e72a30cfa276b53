"""The sample directory: invented facilities in the numbers of the plan's 2020 figures, placed
around each town's approximate centre, with realistic opening hours.

Every record says it is sample data: names and addresses begin with 示例, the ``source`` is
``sample``, and each service carries the note residents are shown. Nothing here may pass for a
real place; the bureau's registry replaces it by import.
"""

from __future__ import annotations

import math
import random
from typing import Any

from directory.hsds import HsdsService, closure_dict, schedule_dict
from directory.places import CATEGORY_BY_CODE, TOWNS, Town, stable_id

SAMPLE_NOTE = "示例数据，地址电话以实际公布为准"
SAMPLE_ORGANIZATION = {
    "id": str(stable_id("organization", "sample")),
    "name": "松江民政助手示例数据",
    "description": "演示用的示例服务点，不是真实机构。" + SAMPLE_NOTE + "。",
}

WEEKDAYS = "MO,TU,WE,TH,FR"
EVERY_DAY = "MO,TU,WE,TH,FR,SA,SU"

# (code, how many in the district, weekly hours, follows the state calendar)
PLAN: tuple[tuple[str, int, list[tuple[str, str, str]], bool], ...] = (
    # Plan 2020: 66 meal points, 45 day-care centres, 18 service centres, 12 care homes,
    # 23 institutions; one community service centre per town; rental points in ~70 % of towns.
    ("meal_point", 66, [(EVERY_DAY, "10:30", "12:30")], False),
    ("day_care", 45, [(WEEKDAYS, "08:00", "17:00")], True),
    ("elderly_service_centre", 18, [(WEEKDAYS, "08:30", "17:00"), ("SA", "09:00", "12:00")], True),
    ("care_home", 12, [(EVERY_DAY, "08:30", "17:00")], False),
    ("eldercare_institution", 23, [(EVERY_DAY, "08:30", "17:00")], False),
    ("community_service_centre", 17, [(WEEKDAYS, "09:00", "17:00")], True),
    ("rental_point", 12, [(WEEKDAYS, "09:00", "16:30")], True),
    ("charity_shop", 17, [("MO,TU,WE,TH,FR,SA", "09:00", "17:00")], True),
    ("good_neighbour_centre", 17, [(EVERY_DAY, "08:30", "20:00")], False),
    ("marriage_registry", 1, [(WEEKDAYS, "09:00", "16:30")], True),
    ("funeral_parlour", 1, [(EVERY_DAY, "07:00", "17:00")], False),
    ("rescue_station", 1, [(EVERY_DAY, "00:00", "23:59")], False),
    ("welfare_institute", 1, [(EVERY_DAY, "08:30", "17:00")], False),
)
# District-wide facilities sit in the central towns.
_CENTRAL = ("方松街道", "中山街道", "岳阳街道", "永丰街道")


def _offset(town: Town, rng: random.Random, radius_m: float = 1500.0) -> tuple[float, float]:
    distance = radius_m * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111_320
    dlon = distance * math.sin(bearing) / (111_320 * math.cos(math.radians(town.latitude)))
    return round(town.latitude + dlat, 6), round(town.longitude + dlon, 6)


def _towns_for(code: str, count: int) -> list[Town]:
    if count == 1:
        return [next(t for t in TOWNS if t.name == _CENTRAL[0])]
    if code == "rental_point":
        return list(TOWNS[:count])
    return [TOWNS[i % len(TOWNS)] for i in range(count)]


def sample_services(seed: int = 2021) -> list[dict[str, Any]]:
    """The sample directory as HSDS services, nested as the API returns them."""
    rng = random.Random(seed)
    services: list[dict[str, Any]] = []
    for code, count, hours, state_calendar in PLAN:
        category = CATEGORY_BY_CODE[code]
        numbering: dict[str, int] = {}
        for town in _towns_for(code, count):
            numbering[town.name] = numbering.get(town.name, 0) + 1
            n = numbering[town.name]
            suffix = f"第{n}{category.name}" if count > 1 else category.name
            name = f"示例·{town.short}{suffix}"
            latitude, longitude = _offset(town, rng)
            key = (code, town.name, str(n))
            location_id = stable_id("location", *key)
            schedules = [
                schedule_dict(
                    stable_id("schedule", *key, str(i)),
                    location_id,
                    byday,
                    opens,
                    closes,
                    follows_state_calendar=state_calendar,
                )
                for i, (byday, opens, closes) in enumerate(hours)
            ]
            service = HsdsService.build(
                service_id=stable_id("service", *key),
                name=name,
                description=f"{category.description}。{SAMPLE_NOTE}。",
                category_code=code,
                organization=SAMPLE_ORGANIZATION,
                town=town.name,
                location_id=location_id,
                location_name=name,
                latitude=latitude,
                longitude=longitude,
                address=f"示例路{rng.randint(1, 999)}号（示例地址，{town.name}）",
                phone=None,
                schedules=schedules,
                alert=SAMPLE_NOTE,
                source="sample",
            )
            services.append(service)
    # One dated closure, so "open now" has something real to respect in the sample.
    first_meal = next(s for s in services if "助餐点" in s["name"])
    location = first_meal["service_at_locations"][0]["location"]
    location["closures"] = [
        closure_dict(stable_id("closure", "sample", "1"), "2026-02-16", "2026-02-22", "春节休息")
    ]
    return services
