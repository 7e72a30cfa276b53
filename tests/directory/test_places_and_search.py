from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from directory.places import CATEGORIES, TOWNS, find_category, find_town
from directory.sample import PLAN, SAMPLE_NOTE, sample_services
from directory.search import DirectoryIndex, SearchError, facility_from_service, is_open

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_11 = datetime(2026, 11, 30, 11, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def index() -> DirectoryIndex:
    return DirectoryIndex.from_services(sample_services())


@pytest.mark.parametrize("text", ["九亭", "九亭镇", "9亭", "jiuting", "JiuTing Zhen", " 九亭镇 "])
def test_towns_are_found_forgivingly(text: str) -> None:
    town = find_town(text)
    assert town is not None and town.name == "九亭镇"


def test_every_town_by_each_of_its_names() -> None:
    assert len(TOWNS) == 17
    for town in TOWNS:
        for name in (town.name, town.short, town.pinyin):
            assert find_town(name) == town
    assert find_town("北京") is None and find_town("") is None
    assert find_town("葉榭鎮") is not None  # traditional characters


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("meal_point", "meal_point"),
        ("老年助餐点", "meal_point"),
        ("老年食堂", "meal_point"),
        ("托老所", "day_care"),
        ("养老院", "eldercare_institution"),
        ("救助站", "rescue_station"),
    ],
)
def test_categories_by_code_name_or_residents_word(text: str, code: str) -> None:
    category = find_category(text)
    assert category is not None and category.code == code


def test_sample_data_has_the_plans_numbers_and_says_it_is_sample() -> None:
    services = sample_services()
    assert len(CATEGORIES) == 13
    for code, count, _, _ in PLAN:
        assert sum(1 for s in services if s["attributes"][0]["value"] == code) == count
    assert all(s["name"].startswith("示例") and s["source"] == "sample" for s in services)
    assert all(s["alert"] == SAMPLE_NOTE for s in services)
    addresses = [
        a["address_1"]
        for s in services
        for sal in s["service_at_locations"]
        for a in sal["location"]["addresses"]
    ]
    assert all("示例地址" in a for a in addresses)
    assert sample_services() == services  # deterministic


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_nearest_is_sorted_in_metres_within_radius_and_limit(index: DirectoryIndex) -> None:
    here = (31.03, 121.23)
    results = index.search(now=MONDAY_11, near=here, radius_m=3000, limit=8)
    assert 0 < len(results) <= 8
    distances = [r.distance_m for r in results]
    assert distances == sorted(distances)  # type: ignore[type-var]
    for result in results:
        f = result.facility
        assert f.latitude is not None and f.longitude is not None
        assert result.distance_m == pytest.approx(_distance(here, (f.latitude, f.longitude)), 1e-6)
        assert result.distance_m is not None and result.distance_m <= 3000


def test_filters_combine(index: DirectoryIndex) -> None:
    results = index.search(now=MONDAY_11, category="老年食堂", town="9亭", near=(31.13, 121.3))
    assert results and all(
        r.facility.category == "meal_point" and r.facility.town == "九亭镇" for r in results
    )
    rows = [r.as_row() for r in results]
    assert set(rows[0]) == {
        "service_id",
        "name",
        "category",
        "town",
        "address",
        "latitude",
        "longitude",
        "phone",
        "hours",
        "open_now",
        "distance_m",
    }


def test_fuzzy_text_search(index: DirectoryIndex) -> None:
    names = [r.facility.name for r in index.search(now=MONDAY_11, text="婚姻登记")]
    assert names and "婚姻登记处" in names[0]
    assert index.search(now=MONDAY_11, text="完全无关的词语组合") == []


def test_unknown_filters_are_named(index: DirectoryIndex) -> None:
    with pytest.raises(SearchError) as caught:
        index.search(now=MONDAY_11, category="天气")
    assert caught.value.field == "category"
    with pytest.raises(SearchError) as caught:
        index.search(now=MONDAY_11, town="北京")
    assert caught.value.field == "town"
    with pytest.raises(SearchError):
        index.search(now=MONDAY_11, near=(91.0, 0.0))


def _office(index: DirectoryIndex) -> object:
    return next(f for f in index.facilities if f.category == "community_service_centre")


def _first_adjusted_workday(year: int) -> date:
    day = date(year, 1, 1)
    while not (day.weekday() >= 5 and chinese_calendar.is_workday(day)):
        day += timedelta(days=1)
    return day


def test_open_now_follows_hours_and_chinas_calendar(index: DirectoryIndex) -> None:
    office = _office(index)
    assert is_open(office, MONDAY_11)  # type: ignore[arg-type]
    assert not is_open(office, MONDAY_11.replace(hour=18))  # type: ignore[arg-type]
    assert not is_open(office, datetime(2026, 11, 28, 11, 0, tzinfo=TZ))  # type: ignore[arg-type]
    # National Day, a Thursday: offices are closed.
    assert not is_open(office, datetime(2026, 10, 1, 11, 0, tzinfo=TZ))  # type: ignore[arg-type]
    # A weekend working day (调休): offices open.
    adjusted = _first_adjusted_workday(2026)
    moment = datetime.combine(adjusted, datetime.min.time(), TZ).replace(hour=10)
    assert is_open(office, moment)  # type: ignore[arg-type]
    # A meal point serves lunch every day, holidays included, but not in the evening.
    meal = next(f for f in index.facilities if f.category == "meal_point" and not f.closures)
    assert is_open(meal, datetime(2026, 10, 1, 11, 0, tzinfo=TZ))
    assert not is_open(meal, datetime(2026, 10, 1, 14, 0, tzinfo=TZ))


def test_dated_closures_close_a_place(index: DirectoryIndex) -> None:
    closed = next(f for f in index.facilities if f.closures)
    start, end = closed.closures[0]
    inside = datetime.combine(start, datetime.min.time(), TZ).replace(hour=11)
    after = datetime.combine(end + timedelta(days=1), datetime.min.time(), TZ).replace(hour=11)
    assert not is_open(closed, inside)
    assert is_open(closed, after)


def test_open_now_filter(index: DirectoryIndex) -> None:
    evening = datetime(2026, 11, 30, 21, 0, tzinfo=TZ)
    open_places = index.search(now=evening, open_now=True)
    assert open_places and all(r.open_now for r in open_places)
    assert {r.facility.category for r in open_places} == {"rescue_station"}


def test_hours_are_written_for_people() -> None:
    service = next(s for s in sample_services() if s["attributes"][0]["value"] == "day_care")
    assert facility_from_service(service).hours == "周一至周五 08:00–17:00"
