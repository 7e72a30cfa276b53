from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from directory.hsds import find_schema_dir, schema_errors
from directory.models import DirService
from directory.sample import sample_services
from directory.store import (
    DirectoryFileError,
    export_services,
    import_services,
    parse_csv,
    parse_hours,
    parse_json,
    read_file,
)

GOOD_CSV = (
    "name,category,town,address,latitude,longitude,phone,hours\n"
    "泗泾镇第一助餐点,老年食堂,泗泾,泗泾镇某路1号,31.12,121.26,021-00000000,MO-FR 10:30-12:30\n"
    "九亭镇社区事务受理服务中心,community_service_centre,9亭,九亭镇某路2号,31.13,121.30,,"
    "MO-FR 09:00-17:00; SA 09:00-12:00\n"
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        yield engine


async def _count(engine: AsyncEngine) -> int:
    async with session_factory(engine)() as session:
        return (await session.execute(select(func.count()).select_from(DirService))).scalar_one()


def test_schema_folder_is_there() -> None:
    # CI never skips schema validation: the folder must be beside the checkout.
    assert find_schema_dir() is not None


async def test_sample_export_validates_against_hsds(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session, session.begin():
        report = await import_services(session, sample_services())
    assert report.created == len(sample_services())
    async with session_factory(engine)() as session:
        exported = await export_services(session)
    schema_dir = find_schema_dir()
    assert schema_dir is not None
    errors = {s["name"]: schema_errors(s, "service", schema_dir) for s in exported}
    assert {name: e for name, e in errors.items() if e} == {}
    assert len(exported) == len(sample_services())
    # Round trip: exporting then importing changes nothing.
    async with session_factory(engine)() as session, session.begin():
        again = await import_services(session, parse_json(json.dumps(exported), "x.json"))
    assert again.created == 0 and again.updated == 0


async def test_csv_import_is_idempotent_and_findable(engine: AsyncEngine) -> None:
    services = parse_csv(GOOD_CSV, "registry.csv")
    async with session_factory(engine)() as session, session.begin():
        first = await import_services(session, services)
    async with session_factory(engine)() as session, session.begin():
        second = await import_services(session, parse_csv(GOOD_CSV, "registry.csv"))
    assert (first.created, second.created, second.unchanged) == (2, 0, 2)
    async with session_factory(engine)() as session:
        exported = await export_services(session)
    office = next(s for s in exported if "受理" in s["name"])
    location = office["service_at_locations"][0]["location"]
    assert location["town"] == "九亭镇"
    assert [s["byday"] for s in location["schedules"]] == ["MO,TU,WE,TH,FR", "SA"]
    meal = next(s for s in exported if "助餐" in s["name"])
    assert meal["phones"][0]["number"] == "021-00000000"


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ("坏行,老年食堂,泗泾,某路,95,121.2,,MO-FR 10:00-12:00", "row 3, latitude"),
        ("坏行,老年食堂,泗泾,某路,abc,121.2,,MO-FR 10:00-12:00", "row 3, latitude"),
        ("坏行,天气,泗泾,某路,31,121.2,,MO-FR 10:00-12:00", "row 3, category"),
        ("坏行,老年食堂,北京,某路,31,121.2,,MO-FR 10:00-12:00", "row 3, town"),
        ("坏行,老年食堂,泗泾,某路,31,121.2,,周一到周五", "row 3, hours"),
        (",老年食堂,泗泾,某路,31,121.2,,MO-FR 10:00-12:00", "row 3, name"),
    ],
)
async def test_a_bad_csv_row_is_named_and_nothing_is_imported(
    engine: AsyncEngine, tmp_path: Path, row: str, where: str
) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(
        GOOD_CSV.splitlines()[0] + "\n" + GOOD_CSV.splitlines()[1] + "\n" + row + "\n",
        encoding="utf-8",
    )
    with pytest.raises(DirectoryFileError) as caught:
        read_file(path)
    assert caught.value.where == where
    assert str(caught.value).startswith(f"{path}: {where}: ")
    assert await _count(engine) == 0


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda s: s.update(id="not-a-uuid"), "service 1.id"),
        (lambda s: s.update(name=""), "service 1.name"),
        (lambda s: s.update(attributes=[]), "service 1.attributes"),
        (
            lambda s: s["service_at_locations"][0]["location"].update(latitude=200),
            "service 1.service_at_locations[0].location.latitude",
        ),
        (
            lambda s: s["service_at_locations"][0]["location"]["schedules"][0].update(
                opens_at="25:00"
            ),
            "service 1.service_at_locations[0].location.schedules[0]",
        ),
    ],
)
def test_a_bad_json_service_is_named(mutate: object, where: str) -> None:
    service = sample_services()[0]
    mutate(service)  # type: ignore[operator]
    with pytest.raises(DirectoryFileError) as caught:
        parse_json(json.dumps([service]), "bad.json")
    assert caught.value.where == where


def test_files_that_are_not_what_they_claim(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": 1,', encoding="utf-8")
    with pytest.raises(DirectoryFileError, match="not JSON"):
        read_file(broken)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x00")
    with pytest.raises(DirectoryFileError, match="UTF-8"):
        read_file(binary)
    wrong = tmp_path / "object.json"
    wrong.write_text('{"name": "x"}', encoding="utf-8")
    with pytest.raises(DirectoryFileError, match="array"):
        read_file(wrong)


def test_hours_format() -> None:
    assert parse_hours("MO-FR 9:00-17:00; SA 09:00-12:00") == [
        ("MO,TU,WE,TH,FR", "09:00", "17:00"),
        ("SA", "09:00", "12:00"),
    ]
    with pytest.raises(ValueError):
        parse_hours("MO-XX 09:00-17:00")
