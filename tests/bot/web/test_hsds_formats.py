"""The pieces the HSDS API's validity rests on: RFC 3339 timestamps and a format checker that
checks every format HSDS names (jsonschema's stock one skips ``date-time`` and ``uri`` unless
optional packages are installed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.hsds import find_schema_dir, format_checker, is_date_time, rfc3339, schema_errors
from directory.hsds_query import Catalogue, one_to_one

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCHEMAS = find_schema_dir()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # SQLite gives the stored UTC time back without its offset.
        ("2026-12-01T09:34:17.864302", "2026-12-01T17:34:17.864+08:00"),
        ("2026-12-01T09:34:17.864302+00:00", "2026-12-01T17:34:17.864+08:00"),
        (datetime(2026, 12, 1, 9, 34, 17, 864302), "2026-12-01T17:34:17.864+08:00"),
        (datetime(2026, 12, 1, 9, 34, 17, tzinfo=UTC), "2026-12-01T17:34:17.000+08:00"),
    ],
)
def test_rfc3339_has_the_offset_and_milliseconds(value: str | datetime, expected: str) -> None:
    assert rfc3339(value, SHANGHAI) == expected
    assert is_date_time(expected)


def test_rfc3339_in_utc_by_default() -> None:
    assert rfc3339("2026-12-01T09:34:17") == "2026-12-01T09:34:17.000+00:00"


def test_rfc3339_before_standard_time_falls_back_to_utc() -> None:
    # Shanghai kept local mean time (+08:05:43) until 1901; RFC 3339 offsets are whole minutes.
    assert rfc3339("1900-01-01T00:00:00", SHANGHAI) == "1900-01-01T00:00:00.000+00:00"


def test_rfc3339_refuses_what_is_not_a_time() -> None:
    with pytest.raises(ValueError):
        rfc3339("yesterday")


@given(
    st.datetimes(
        min_value=datetime(1800, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.one_of(st.none(), st.timezones()),
    )
)
@settings(max_examples=200, deadline=None, database=None)
def test_every_datetime_becomes_a_valid_date_time(moment: datetime) -> None:
    stamp = rfc3339(moment, SHANGHAI)
    assert is_date_time(stamp), stamp
    assert datetime.fromisoformat(stamp).tzinfo is not None


@pytest.mark.parametrize(
    ("value", "conforms"),
    [
        ("2026-12-01T09:34:17.864+08:00", True),
        ("2026-12-01T09:34:17Z", True),
        ("2026-12-01t09:34:17z", True),
        ("2016-12-31T23:59:60Z", True),  # a leap second
        ("2026-12-01T09:34:17.864302", False),  # no offset: the defect this guards against
        ("2026-12-01 09:34:17+08:00", False),
        ("2026-02-30T09:34:17Z", False),
        ("2026-12-01T24:00:00Z", False),
        ("2026-12-01T09:34:17+24:00", False),
        ("2026-12-01T09:34:17Z\n", False),
        ("２０２６-12-01T09:34:17Z", False),  # full-width digits
        ("2026-12-01", False),
    ],
)
def test_date_time(value: str, conforms: bool) -> None:
    assert format_checker().conforms(value, "date-time") is conforms


@pytest.mark.parametrize(
    ("value", "fmt", "conforms"),
    [
        ("https://shmzj.sh.gov.cn/", "uri", True),
        ("mailto:songjiang@example.org", "uri", True),
        ("shmzj.sh.gov.cn", "uri", False),  # no scheme: a reference, not a URI
        ("https://例子.中国/", "uri", False),  # an IRI, not a URI
        ("https://a b/", "uri", False),
        ("2f1f0a4e-6a37-4a7e-9f3b-7d1b2c8e4a10", "uuid", True),
        ("2f1f0a4e6a374a7e9f3b7d1b2c8e4a10", "uuid", False),
        ("songjiang@example.org", "email", True),
        ("songjiang.example.org", "email", False),
        ("2026-12-01", "date", True),
        ("20261201", "date", False),
    ],
)
def test_other_formats(value: str, fmt: str, conforms: bool) -> None:
    assert format_checker().conforms(value, fmt) is conforms


def test_formats_constrain_strings_only() -> None:
    # A number where a string belongs is the ``type`` keyword's to report, not the format's.
    assert format_checker().conforms(12, "date-time")


def test_strict_formats_catch_what_the_stock_checker_lets_through() -> None:
    assert SCHEMAS is not None
    service = {
        "id": "2f1f0a4e-6a37-4a7e-9f3b-7d1b2c8e4a10",
        "name": "示例·岳阳老年助餐点",
        "status": "active",
        "last_modified": "2026-12-01T09:34:17.864302",
        "url": "shmzj.sh.gov.cn",
    }
    assert schema_errors(service, "service", Path(SCHEMAS)) == []
    errors = schema_errors(service, "service", Path(SCHEMAS), strict_formats=True)
    assert len(errors) == 2
    assert any(e.startswith("last_modified:") for e in errors)
    assert any(e.startswith("url:") for e in errors)


def test_the_catalogue_stamps_every_service_without_touching_the_export() -> None:
    exported = [{"id": "a", "name": "n", "status": "active", "last_modified": "2026-01-01T00:00"}]
    catalogue = Catalogue(exported, SHANGHAI)
    assert catalogue.services[0]["last_modified"] == "2026-01-01T08:00:00.000+08:00"
    assert exported[0]["last_modified"] == "2026-01-01T00:00"


def test_one_to_one_drops_arrays_at_every_level() -> None:
    document = {"id": "a", "phones": [1], "organization": {"id": "b", "contacts": []}, "n": None}
    assert one_to_one(document) == {"id": "a", "organization": {"id": "b"}, "n": None}
