"""HSDS 3.0 documents: build, validate and read fully nested services.

One shape in and out: ``directory export --format hsds`` prints what ``directory import``
takes, the sample data is generated in it, and the CSV import is converted to it. Extensions
HSDS allows (it sets no ``additionalProperties: false``): a location's ``closures`` and a
schedule's ``follows_state_calendar``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from directory.places import CATEGORY_BY_CODE, TAXONOMY_ID, stable_id

SCHEMA_DIR_NAMES = ("hsds-3.0/schema",)
HSDS_VERSION = "3.0"
OPENAPI_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json"
UTC_OFFSET = "+08:00"  # Asia/Shanghai has no daylight saving
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?(?:Z|[+-]\d\d:?\d\d)?$")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def hhmm(value: str) -> str:
    """``09:00``, ``09:00:00`` or ``09:00+08:00`` → ``09:00``; ValueError otherwise."""
    match = _TIME.match(value.strip())
    if not match:
        raise ValueError(f"not a time of day: {value!r} (use HH:MM)")
    return f"{match.group(1)}:{match.group(2)}"


def check_byday(value: str) -> str:
    days = [d.strip().upper() for d in value.split(",") if d.strip()]
    if not days or any(d not in DAYS for d in days):
        raise ValueError(f"not a list of weekdays: {value!r} (use MO,TU,WE,TH,FR,SA,SU)")
    return ",".join(days)


def schedule_dict(
    schedule_id: uuid.UUID,
    location_id: uuid.UUID,
    byday: str,
    opens_at: str,
    closes_at: str,
    *,
    follows_state_calendar: bool = True,
    valid_from: date | None = None,
    valid_to: date | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(schedule_id),
        "location_id": str(location_id),
        "freq": "WEEKLY",
        "byday": check_byday(byday),
        "opens_at": hhmm(opens_at) + UTC_OFFSET,
        "closes_at": hhmm(closes_at) + UTC_OFFSET,
        "timezone": 8,
        "follows_state_calendar": follows_state_calendar,
    }
    if valid_from:
        data["valid_from"] = valid_from.isoformat()
    if valid_to:
        data["valid_to"] = valid_to.isoformat()
    if description:
        data["description"] = description
    return data


def closure_dict(
    closure_id: uuid.UUID, starts_on: str, ends_on: str, reason: str | None
) -> dict[str, Any]:
    return {"id": str(closure_id), "starts_on": starts_on, "ends_on": ends_on, "reason": reason}


def taxonomy_dict() -> dict[str, Any]:
    return {
        "id": str(TAXONOMY_ID),
        "name": "松江民政服务点类别",
        "description": "松江民政助手用来区分服务点的类别（老年助餐点、日间照料中心等）",
        "version": "1",
    }


def term_dict(code: str) -> dict[str, Any]:
    category = CATEGORY_BY_CODE[code]
    return {
        "id": str(stable_id("term", code)),
        "code": code,
        "name": category.name,
        "description": category.description,
        "taxonomy": taxonomy_dict()["name"],
        "taxonomy_id": str(TAXONOMY_ID),
        "language": "zh",
    }


def rfc3339(value: datetime | str, tz: tzinfo = UTC) -> str:
    """``value`` as HSDS wants a ``date-time``: RFC 3339 with its offset, to the millisecond.

    A value without an offset is UTC: the directory stores ``datetime.now(UTC)`` and SQLite
    gives it back without the offset. ValueError if ``value`` is not a date and time.
    """
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    for zone in (tz, UTC):
        try:
            local = moment.astimezone(zone)
        except OverflowError:  # the first or last day a datetime can hold
            continue
        offset = local.utcoffset()
        # RFC 3339 offsets are whole minutes; local mean time before 1901 (+08:05:43) is not.
        if offset is not None and not (offset.seconds % 60 or offset.microseconds):
            return local.isoformat(timespec="milliseconds")
    raise ValueError(f"no RFC 3339 form for {value!r}")


def without_nulls(value: Any) -> Any:
    """HSDS types its fields (a string is a string): leave absent what is unknown."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


class HsdsService:
    @staticmethod
    def build(
        *,
        service_id: uuid.UUID,
        name: str,
        description: str | None,
        category_code: str,
        organization: dict[str, Any],
        town: str | None,
        location_id: uuid.UUID,
        location_name: str,
        latitude: float | None,
        longitude: float | None,
        address: str | None,
        phone: str | None,
        schedules: list[dict[str, Any]],
        alert: str | None,
        source: str,
        status: str = "active",
    ) -> dict[str, Any]:
        sid = str(service_id)
        lid = str(location_id)
        location: dict[str, Any] = {
            "id": lid,
            "location_type": "physical",
            "organization_id": organization["id"],
            "name": location_name,
            "latitude": latitude,
            "longitude": longitude,
            "addresses": [],
            "phones": [],
            "schedules": schedules,
            "closures": [],
            "town": town,
        }
        if address:
            location["addresses"].append(
                {
                    "id": str(stable_id("address", lid)),
                    "location_id": lid,
                    "address_1": address,
                    "city": "上海市",
                    "region": "松江区",
                    "state_province": "上海市",
                    "postal_code": "201600",
                    "country": "CN",
                    "address_type": "physical",
                }
            )
        phones = []
        if phone:
            phones.append(
                {
                    "id": str(stable_id("phone", sid)),
                    "service_id": sid,
                    "number": phone,
                    "type": "voice",
                }
            )
        term = term_dict(category_code)
        return without_nulls(
            {
                "id": sid,
                "organization_id": organization["id"],
                "name": name,
                "description": description,
                "status": status,
                "alert": alert,
                "source": source,
                "organization": organization,
                "phones": phones,
                "schedules": [],
                "service_areas": (
                    [
                        {
                            "id": str(stable_id("area", sid)),
                            "service_id": sid,
                            "name": town,
                            "extent_type": "town",
                        }
                    ]
                    if town
                    else []
                ),
                "service_at_locations": [
                    {
                        "id": str(stable_id("sal", sid, lid)),
                        "service_id": sid,
                        "location_id": lid,
                        "location": location,
                    }
                ],
                "attributes": [
                    {
                        "id": str(stable_id("attribute", sid, category_code)),
                        "link_id": sid,
                        "link_type": "category",
                        "link_entity": "service",
                        "taxonomy_term_id": term["id"],
                        "taxonomy_term": term,
                        "value": category_code,
                    }
                ],
                "languages": [],
                "funding": [],
                "cost_options": [],
                "required_documents": [],
                "contacts": [],
                "metadata": [],
            }
        )


def find_schema_dir(start: Path | None = None) -> Path | None:
    """The HSDS schema folder: ``../shared/hsds-3.0/schema`` beside a checkout."""
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "hsds-3.0" / "schema"
        if candidate.is_dir():
            return candidate
    return None


# Matched whole (``fullmatch``), ASCII digits only.
# RFC 3339 section 5.6, as JSON Schema's ``date-time`` asks: the offset is not optional.
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# RFC 3986 absolute URI: a scheme, then only characters a URI may hold.
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats constrain strings only; ``type`` judges the rest
    match = _DATE_TIME.fullmatch(value)
    if not match:
        return False
    day, hour, minute, second, _, offset = match.groups()
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    if offset not in ("Z", "z") and not (int(offset[1:3]) <= 23 and int(offset[4:]) <= 59):
        return False
    # 60 is a leap second, which RFC 3339 allows.
    return int(hour) <= 23 and int(minute) <= 59 and int(second) <= 60


def _is_full_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return bool(_FULL_DATE.fullmatch(value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _matches(pattern: re.Pattern[str]) -> Any:
    return lambda value: not isinstance(value, str) or bool(pattern.fullmatch(value))


def format_checker() -> Any:
    """A checker for the formats HSDS uses that needs no optional package.

    jsonschema's stock checker quietly passes ``date-time`` and ``uri`` unless
    ``rfc3339-validator`` and ``rfc3987`` are installed, and they are not.
    """
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    checker.checks("date-time")(is_date_time)
    checker.checks("date")(_is_full_date)
    checker.checks("uri")(_matches(_URI))
    checker.checks("uuid")(_matches(_UUID))
    checker.checks("email")(_matches(_EMAIL))
    return checker


def schema_registry(schema_dir: Path) -> Any:
    """The HSDS schemas, each under its file name (``service.json``), as they refer to
    each other."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources = []
    for path in sorted(schema_dir.glob("*.json")):
        if path.name == "openapi.json":
            continue
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((path.name, Resource.from_contents(contents, DRAFT202012)))
    return Registry().with_resources(resources)


@cache
def _validator(schema_dir: Path, name: str, strict_formats: bool) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        {"$ref": f"{name}.json"},
        registry=schema_registry(schema_dir),
        format_checker=format_checker() if strict_formats else Draft202012Validator.FORMAT_CHECKER,
    )


def schema_errors(
    document: dict[str, Any], name: str, schema_dir: Path, *, strict_formats: bool = False
) -> list[str]:
    """Every way ``document`` breaks the HSDS schema ``name`` (service, organization …).

    ``strict_formats`` checks every format HSDS names (``date-time`` with its offset, ``uri``,
    ``uuid``, ``email``); without it, jsonschema's stock checker skips ``date-time`` and ``uri``.
    """
    validator = _validator(schema_dir, name, strict_formats)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def iter_locations(service: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for sal in service.get("service_at_locations") or []:
        location = sal.get("location")
        if isinstance(location, dict):
            yield location
