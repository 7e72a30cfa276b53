"""Directory storage: read HSDS JSON or the bureau's CSV, import all or nothing, export nested
HSDS services, and load the rows search works on.

Keyword-only functions that take an ``AsyncSession``; the caller owns the transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from directory.hsds import (
    DAYS,
    HsdsService,
    check_byday,
    closure_dict,
    hhmm,
    iter_locations,
    schedule_dict,
    taxonomy_dict,
    term_dict,
)
from directory.models import (
    DirAddress,
    DirAttribute,
    DirClosure,
    DirLocation,
    DirOrganization,
    DirPhone,
    DirSchedule,
    DirService,
    DirServiceArea,
    DirServiceAtLocation,
    DirTaxonomy,
    DirTaxonomyTerm,
)
from directory.places import CATEGORIES, find_category, find_town, stable_id

CSV_COLUMNS = ("name", "category", "town", "address", "latitude", "longitude", "phone", "hours")
IMPORTED_ORGANIZATION = {
    "id": str(stable_id("organization", "import")),
    "name": "松江区民政服务点名录",
    "description": "由民政部门导入的服务点名录",
}


class DirectoryFileError(Exception):
    """One problem in an import file, located by row (CSV) or item (JSON) and field."""

    def __init__(self, path: str, where: str, message: str) -> None:
        super().__init__(f"{path}: {where}: {message}")
        self.path, self.where, self.message = path, where, message


# Reading -------------------------------------------------------------------------------------


def _uuid(value: Any, where: str, path: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        raise DirectoryFileError(path, where, f"not a UUID: {value!r}") from None


def _coordinate(value: Any, low: float, high: float, where: str, path: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DirectoryFileError(path, where, f"not a number: {value!r}") from None
    if not low <= number <= high:
        raise DirectoryFileError(path, where, f"{number} is outside {low}..{high}")
    return number


def _category_of(service: dict[str, Any]) -> str | None:
    for attribute in service.get("attributes") or []:
        term = attribute.get("taxonomy_term") or {}
        for candidate in (term.get("code"), attribute.get("value"), term.get("name")):
            if isinstance(candidate, str) and (found := find_category(candidate)):
                return found.code
    return None


def check_service(service: Any, index: int, path: str) -> dict[str, Any]:
    """Validate one nested HSDS service enough to store it; raise with item and field."""
    where = f"service {index + 1}"
    if not isinstance(service, dict):
        raise DirectoryFileError(path, where, "each item must be an object (an HSDS service)")
    _uuid(service.get("id"), f"{where}.id", path)
    if not isinstance(service.get("name"), str) or not service["name"].strip():
        raise DirectoryFileError(path, f"{where}.name", "a name is required")
    if service.get("status", "active") not in {
        "active",
        "inactive",
        "defunct",
        "temporarily closed",
    }:
        raise DirectoryFileError(
            path, f"{where}.status", "active, inactive, defunct or temporarily closed"
        )
    if _category_of(service) is None:
        raise DirectoryFileError(
            path,
            f"{where}.attributes",
            "no known category (taxonomy term code such as "
            + ", ".join(c.code for c in CATEGORIES[:3])
            + " …)",
        )
    sals = service.get("service_at_locations") or []
    if not isinstance(sals, list) or not sals:
        raise DirectoryFileError(path, f"{where}.service_at_locations", "at least one location")
    for n, location in enumerate(iter_locations(service)):
        lw = f"{where}.service_at_locations[{n}].location"
        _uuid(location.get("id"), f"{lw}.id", path)
        _coordinate(location.get("latitude"), -90, 90, f"{lw}.latitude", path)
        _coordinate(location.get("longitude"), -180, 180, f"{lw}.longitude", path)
        for m, schedule in enumerate(location.get("schedules") or []):
            sw = f"{lw}.schedules[{m}]"
            try:
                check_byday(str(schedule.get("byday", "")))
                hhmm(str(schedule.get("opens_at", "")))
                hhmm(str(schedule.get("closes_at", "")))
                for key in ("valid_from", "valid_to"):
                    if schedule.get(key):
                        date.fromisoformat(str(schedule[key]))
            except ValueError as exc:
                raise DirectoryFileError(path, sw, str(exc)) from None
        for m, closure in enumerate(location.get("closures") or []):
            try:
                date.fromisoformat(str(closure.get("starts_on")))
                date.fromisoformat(str(closure.get("ends_on")))
            except ValueError as exc:
                raise DirectoryFileError(path, f"{lw}.closures[{m}]", str(exc)) from None
    return service


def parse_json(text: str, path: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DirectoryFileError(path, f"line {exc.lineno}", f"not JSON: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("contents"), list):
        data = data["contents"]  # a page of the HSDS API
    if not isinstance(data, list):
        raise DirectoryFileError(path, "top", "expected a JSON array of HSDS services")
    return [check_service(item, i, path) for i, item in enumerate(data)]


_HOURS_PART = re.compile(
    r"^\s*(?P<days>[A-Za-z,\-]+)\s+(?P<opens>\d{1,2}:\d{2})\s*-\s*(?P<closes>\d{1,2}:\d{2})\s*$"
)


def _expand_days(days: str) -> str:
    out: list[str] = []
    for part in days.upper().split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"unknown day range {part!r}")
            out.extend(DAYS[DAYS.index(first) : DAYS.index(last) + 1])
        else:
            out.append(part)
    return check_byday(",".join(out))


def parse_hours(text: str) -> list[tuple[str, str, str]]:
    """``MO-FR 09:00-17:00; SA 09:00-12:00`` → [(byday, opens, closes), …]."""
    hours = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _HOURS_PART.match(part)
        if not match:
            raise ValueError(f"hours {part!r}: use e.g. 'MO-FR 09:00-17:00; SA 09:00-12:00'")
        opens, closes = match.group("opens").zfill(5), match.group("closes").zfill(5)
        hours.append((_expand_days(match.group("days")), hhmm(opens), hhmm(closes)))
    return hours


def parse_csv(text: str, path: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DirectoryFileError(path, "row 1", f"missing columns: {', '.join(missing)}")
    services = []
    for row_number, row in enumerate(reader, start=2):
        where = f"row {row_number}"
        name = (row.get("name") or "").strip()
        if not name:
            raise DirectoryFileError(path, f"{where}, name", "a name is required")
        category = find_category(row.get("category") or "")
        if category is None:
            raise DirectoryFileError(
                path, f"{where}, category", f"unknown category {row.get('category')!r}"
            )
        town = find_town(row.get("town") or "")
        if town is None:
            raise DirectoryFileError(path, f"{where}, town", f"unknown town {row.get('town')!r}")
        latitude = _coordinate(row.get("latitude"), -90, 90, f"{where}, latitude", path)
        longitude = _coordinate(row.get("longitude"), -180, 180, f"{where}, longitude", path)
        try:
            hours = parse_hours(row.get("hours") or "")
        except ValueError as exc:
            raise DirectoryFileError(path, f"{where}, hours", str(exc)) from None
        address = (row.get("address") or "").strip() or None
        # Stable ids from what identifies a place, so importing the file again changes nothing.
        key = (category.code, name, address or "", town.name)
        location_id = stable_id("csv-location", *key)
        services.append(
            HsdsService.build(
                service_id=stable_id("csv-service", *key),
                name=name,
                description=category.description,
                category_code=category.code,
                organization=IMPORTED_ORGANIZATION,
                town=town.name,
                location_id=location_id,
                location_name=name,
                latitude=latitude,
                longitude=longitude,
                address=address,
                phone=(row.get("phone") or "").strip() or None,
                schedules=[
                    schedule_dict(stable_id("csv-schedule", *key, str(i)), location_id, *h)
                    for i, h in enumerate(hours)
                ],
                alert=None,
                source=f"import:{Path(path).name}",
            )
        )
    return services


def read_file(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DirectoryFileError(str(path), "file", "not UTF-8 text") from None
    except OSError as exc:
        raise DirectoryFileError(str(path), "file", exc.strerror or str(exc)) from None
    if path.suffix.lower() == ".csv":
        return parse_csv(text, str(path))
    return parse_json(text, str(path))


# Writing ------------------------------------------------------------------------------------


@dataclass
class DirectoryImport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _canonical(service: dict[str, Any]) -> dict[str, Any]:
    """What a service says, whatever the document's form (export adds ids and timestamps)."""
    locations = []
    for location in iter_locations(service):
        locations.append(
            {
                "id": str(location.get("id")),
                "name": location.get("name"),
                "latitude": location.get("latitude"),
                "longitude": location.get("longitude"),
                "town": location.get("town"),
                "addresses": sorted(
                    a.get("address_1", "") for a in location.get("addresses") or []
                ),
                "schedules": sorted(
                    (
                        check_byday(str(x["byday"])),
                        hhmm(str(x["opens_at"])),
                        hhmm(str(x["closes_at"])),
                        str(x.get("valid_from") or ""),
                        str(x.get("valid_to") or ""),
                        bool(x.get("follows_state_calendar", True)),
                    )
                    for x in location.get("schedules") or []
                ),
                "closures": sorted(
                    (str(c["starts_on"]), str(c["ends_on"]), str(c.get("reason") or ""))
                    for c in location.get("closures") or []
                ),
            }
        )
    organization = service.get("organization") or {}
    return {
        "name": service.get("name"),
        "description": service.get("description"),
        "status": service.get("status") or "active",
        "alert": service.get("alert"),
        "source": service.get("source"),
        "category": _category_of(service),
        "organization": [organization.get("id"), organization.get("name")],
        "phones": sorted(str(p.get("number")) for p in service.get("phones") or []),
        "areas": sorted(str(a.get("name")) for a in service.get("service_areas") or []),
        "locations": locations,
    }


def _hash(service: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(_canonical(service), ensure_ascii=False, sort_keys=True, default=str).encode()
    ).hexdigest()


async def _ensure_taxonomy(session: AsyncSession) -> None:
    taxonomy = taxonomy_dict()
    if await session.get(DirTaxonomy, uuid.UUID(taxonomy["id"])) is None:
        session.add(
            DirTaxonomy(
                id=uuid.UUID(taxonomy["id"]),
                name=taxonomy["name"],
                description=taxonomy["description"],
                version=taxonomy["version"],
            )
        )
    for category in CATEGORIES:
        term = term_dict(category.code)
        if await session.get(DirTaxonomyTerm, uuid.UUID(term["id"])) is None:
            session.add(
                DirTaxonomyTerm(
                    id=uuid.UUID(term["id"]),
                    taxonomy_id=uuid.UUID(taxonomy["id"]),
                    code=category.code,
                    name=category.name,
                    description=category.description,
                )
            )
    await session.flush()


async def _delete_service(session: AsyncSession, service_id: uuid.UUID) -> None:
    location_ids = (
        (
            await session.execute(
                select(col(DirServiceAtLocation.location_id)).where(
                    col(DirServiceAtLocation.service_id) == service_id
                )
            )
        )
        .scalars()
        .all()
    )
    await session.execute(delete(DirAttribute).where(col(DirAttribute.link_id) == service_id))
    await session.execute(
        delete(DirServiceArea).where(col(DirServiceArea.service_id) == service_id)
    )
    await session.execute(delete(DirPhone).where(col(DirPhone.service_id) == service_id))
    await session.execute(
        delete(DirServiceAtLocation).where(col(DirServiceAtLocation.service_id) == service_id)
    )
    for location_id in location_ids:
        await session.execute(
            delete(DirSchedule).where(col(DirSchedule.location_id) == location_id)
        )
        await session.execute(delete(DirClosure).where(col(DirClosure.location_id) == location_id))
        await session.execute(delete(DirAddress).where(col(DirAddress.location_id) == location_id))
        await session.execute(delete(DirPhone).where(col(DirPhone.location_id) == location_id))
        await session.execute(delete(DirLocation).where(col(DirLocation.id) == location_id))
    await session.execute(delete(DirService).where(col(DirService.id) == service_id))
    await session.flush()


def _service_rows(service: dict[str, Any], digest: str, organizations: set[uuid.UUID]) -> list[Any]:
    """The rows of one service, to be inserted parents first."""
    rows: list[Any] = []
    organization = service.get("organization") or IMPORTED_ORGANIZATION
    org_id = uuid.UUID(str(service.get("organization_id") or organization["id"]))
    if org_id not in organizations:
        organizations.add(org_id)
        rows.append(
            DirOrganization(
                id=org_id,
                name=organization.get("name") or "未命名机构",
                description=organization.get("description") or "",
                email=organization.get("email"),
                website=organization.get("website"),
                source=str(service.get("source") or "import"),
            )
        )
    sid = uuid.UUID(str(service["id"]))
    rows.append(
        DirService(
            id=sid,
            organization_id=org_id,
            name=service["name"].strip(),
            description=service.get("description"),
            status=service.get("status") or "active",
            application_process=service.get("application_process"),
            fees_description=service.get("fees_description"),
            eligibility_description=service.get("eligibility_description"),
            alert=service.get("alert"),
            source=str(service.get("source") or "import"),
            content_hash=digest,
        )
    )
    category = _category_of(service)
    assert category is not None
    rows.append(
        DirAttribute(
            id=stable_id("attribute", str(sid), category),
            link_id=sid,
            taxonomy_term_id=stable_id("term", category),
            value=category,
            link_type="category",
        )
    )
    towns: set[str] = set()
    for location in iter_locations(service):
        lid = uuid.UUID(str(location["id"]))
        address_text = " ".join(a.get("address_1", "") for a in location.get("addresses") or [])
        town = find_town(str(location.get("town") or "")) or _town_in(address_text)
        areas = [a.get("name") for a in service.get("service_areas") or []]
        town = town or next((t for a in areas if a and (t := find_town(a))), None)
        if town:
            towns.add(town.name)
        rows.append(
            DirLocation(
                id=lid,
                organization_id=org_id,
                location_type=location.get("location_type") or "physical",
                name=location.get("name") or service["name"],
                description=location.get("description"),
                latitude=location.get("latitude"),
                longitude=location.get("longitude"),
                town=town.name if town else None,
            )
        )
        rows.append(
            DirServiceAtLocation(
                id=stable_id("sal", str(sid), str(lid)), service_id=sid, location_id=lid
            )
        )
        for address in location.get("addresses") or []:
            rows.append(
                DirAddress(
                    id=uuid.UUID(str(address.get("id") or stable_id("address", str(lid)))),
                    location_id=lid,
                    address_1=address.get("address_1") or "",
                    address_2=address.get("address_2"),
                    city=address.get("city") or "上海市",
                    region=address.get("region"),
                    state_province=address.get("state_province") or "上海市",
                    postal_code=address.get("postal_code") or "201600",
                    country=address.get("country") or "CN",
                    address_type=address.get("address_type") or "physical",
                )
            )
        for n, schedule in enumerate(location.get("schedules") or []):
            rows.append(
                DirSchedule(
                    id=uuid.UUID(
                        str(schedule.get("id") or stable_id("schedule", str(lid), str(n)))
                    ),
                    location_id=lid,
                    byday=check_byday(str(schedule["byday"])),
                    opens_at=hhmm(str(schedule["opens_at"])),
                    closes_at=hhmm(str(schedule["closes_at"])),
                    valid_from=date.fromisoformat(schedule["valid_from"])
                    if schedule.get("valid_from")
                    else None,
                    valid_to=date.fromisoformat(schedule["valid_to"])
                    if schedule.get("valid_to")
                    else None,
                    description=schedule.get("description"),
                    follows_state_calendar=bool(schedule.get("follows_state_calendar", True)),
                )
            )
        for n, closure in enumerate(location.get("closures") or []):
            rows.append(
                DirClosure(
                    id=uuid.UUID(str(closure.get("id") or stable_id("closure", str(lid), str(n)))),
                    location_id=lid,
                    starts_on=date.fromisoformat(str(closure["starts_on"])),
                    ends_on=date.fromisoformat(str(closure["ends_on"])),
                    reason=closure.get("reason"),
                )
            )
    for phone in service.get("phones") or []:
        if phone.get("number"):
            rows.append(
                DirPhone(
                    id=uuid.UUID(str(phone.get("id") or stable_id("phone", str(sid)))),
                    service_id=sid,
                    number=str(phone["number"]),
                    type=phone.get("type"),
                    description=phone.get("description"),
                )
            )
    for town_name in sorted(towns):
        rows.append(
            DirServiceArea(
                id=stable_id("area", str(sid))
                if len(towns) == 1
                else stable_id("area", str(sid), town_name),
                service_id=sid,
                name=town_name,
            )
        )
    return rows


def _town_in(text: str) -> Any:
    for match in re.finditer(r"[\u4e00-\u9fff]{2,4}(?:街道|镇)", text):
        town = find_town(match.group(0))
        if town:
            return town
    return None


async def import_services(session: AsyncSession, services: list[dict[str, Any]]) -> DirectoryImport:
    """Upsert services by id; a service whose document is unchanged is left alone."""
    await _ensure_taxonomy(session)
    report = DirectoryImport()
    found = await session.execute(select(col(DirService.id), col(DirService.content_hash)))
    stored: dict[uuid.UUID, str] = {service_id: digest for service_id, digest in found}
    organizations = set((await session.execute(select(col(DirOrganization.id)))).scalars())
    changed = []
    for service in services:
        sid = uuid.UUID(str(service["id"]))
        digest = _hash(service)
        if stored.get(sid) == digest:
            report.unchanged += 1
            continue
        if sid in stored:
            await _delete_service(session, sid)
            report.updated += 1
        else:
            report.created += 1
        stored[sid] = digest
        changed.append((service, digest))
    rows: list[Any] = []
    for service, digest in changed:
        rows.extend(_service_rows(service, digest, organizations))
        report.ids.append(str(service["id"]))
    # Parents before children: these tables declare foreign keys but no relationships, so
    # the unit of work is told the order.
    for table in _INSERT_ORDER:
        session.add_all(row for row in rows if isinstance(row, table))
        await session.flush()
    return report


_INSERT_ORDER = (
    DirOrganization,
    DirService,
    DirLocation,
    DirAttribute,
    DirServiceArea,
    DirPhone,
    DirServiceAtLocation,
    DirAddress,
    DirSchedule,
    DirClosure,
)


# Reading back ---------------------------------------------------------------------------------


async def export_services(session: AsyncSession) -> list[dict[str, Any]]:
    """Every service, fully nested as HSDS 3.0 has it (and as ``import`` takes it)."""
    services = (await session.execute(select(DirService).order_by(col(DirService.name)))).scalars()
    organizations = {o.id: o for o in (await session.execute(select(DirOrganization))).scalars()}
    attributes = {a.link_id: a for a in (await session.execute(select(DirAttribute))).scalars()}
    terms = {t.id: t for t in (await session.execute(select(DirTaxonomyTerm))).scalars()}
    sals: dict[uuid.UUID, list[DirServiceAtLocation]] = defaultdict(list)
    for sal in (await session.execute(select(DirServiceAtLocation))).scalars():
        sals[sal.service_id].append(sal)
    locations = {loc.id: loc for loc in (await session.execute(select(DirLocation))).scalars()}
    addresses: dict[uuid.UUID, list[DirAddress]] = defaultdict(list)
    for address in (await session.execute(select(DirAddress))).scalars():
        addresses[address.location_id].append(address)
    schedules: dict[uuid.UUID, list[DirSchedule]] = defaultdict(list)
    for schedule in (await session.execute(select(DirSchedule))).scalars():
        if schedule.location_id:
            schedules[schedule.location_id].append(schedule)
    closures: dict[uuid.UUID, list[DirClosure]] = defaultdict(list)
    for closure in (await session.execute(select(DirClosure))).scalars():
        closures[closure.location_id].append(closure)
    phones: dict[uuid.UUID, list[DirPhone]] = defaultdict(list)
    for phone in (await session.execute(select(DirPhone))).scalars():
        if phone.service_id:
            phones[phone.service_id].append(phone)
    exported = []
    for service in services:
        organization = organizations[service.organization_id]
        attribute = attributes.get(service.id)
        code = terms[attribute.taxonomy_term_id].code if attribute else None
        # A service is stored with the one location it was imported with.
        first = sals[service.id][0] if sals[service.id] else None
        location = locations[first.location_id] if first else None
        document = HsdsService.build(
            service_id=service.id,
            name=service.name,
            description=service.description,
            category_code=code or "community_service_centre",
            organization={
                "id": str(organization.id),
                "name": organization.name,
                "description": organization.description,
            },
            town=location.town if location else None,
            location_id=location.id if location else stable_id("none", str(service.id)),
            location_name=location.name if location else service.name,
            latitude=location.latitude if location else None,
            longitude=location.longitude if location else None,
            address=addresses[location.id][0].address_1
            if location and addresses[location.id]
            else None,
            phone=phones[service.id][0].number if phones[service.id] else None,
            schedules=[
                schedule_dict(
                    s.id,
                    s.location_id or stable_id("none", str(service.id)),
                    s.byday,
                    s.opens_at,
                    s.closes_at,
                    follows_state_calendar=s.follows_state_calendar,
                    valid_from=s.valid_from,
                    valid_to=s.valid_to,
                    description=s.description,
                )
                for s in (schedules[location.id] if location else [])
            ],
            alert=service.alert,
            source=service.source,
            status=service.status,
        )
        document["last_modified"] = service.last_modified.isoformat()
        if location:
            document["service_at_locations"][0]["location"]["closures"] = [
                closure_dict(c.id, c.starts_on.isoformat(), c.ends_on.isoformat(), c.reason)
                for c in closures[location.id]
            ]
        exported.append(document)
    return exported
