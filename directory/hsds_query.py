"""The HSDS 3.0 API's views of the directory: its filters, and the shapes a list can take.

Pure functions over the exported services (``directory.store.export_services``); the HTTP layer
parses parameters and calls these. The shapes follow the API's OpenAPI file:

- a service is fully nested; ``one_to_one`` keeps only the fields that are not lists (and, of
  nested objects such as ``organization``, theirs), as ``compiled/service_list.json`` has it;
- a service_at_location in a list has its one-to-one fields and those of its ``location`` and
  ``service``; fully nested, its location keeps addresses, schedules and closures;
- an organization in a list has its one-to-one fields; nested, a ``services`` array with each
  service's id and name, or the full services.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from directory.hsds import rfc3339, taxonomy_dict, term_dict
from directory.places import CATEGORIES

Document = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Filters:
    """What a list of services or service_at_locations is narrowed to (None: not narrowed)."""

    search: str = ""
    taxonomy_term_id: str | None = None
    taxonomy_id: str | None = None
    organization_id: str | None = None
    modified_after: datetime | None = None  # tz-aware
    postcode: str | None = None  # service_at_locations only: a location's postal code


def matches(words: str, texts: Iterable[object]) -> bool:
    """Every word of ``words`` (split on spaces, case-folded) is in one of ``texts``."""
    haystack = " ".join(str(t) for t in texts if t).casefold()
    return all(word in haystack for word in words.casefold().split())


def one_to_one(document: Document) -> Document:
    """``document`` without its arrays; nested objects likewise."""
    return {
        key: one_to_one(value) if isinstance(value, dict) else value
        for key, value in document.items()
        if not isinstance(value, list)
    }


def _modified(service: Document) -> datetime | None:
    raw = service.get("last_modified")
    if not isinstance(raw, str):
        return None
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamped(service: Document, tz: tzinfo) -> Document:
    raw = service.get("last_modified")
    if raw is None:
        return service
    return {**service, "last_modified": rfc3339(raw, tz)}


def _term_ids(service: Document) -> set[str]:
    return {str(a.get("taxonomy_term_id")) for a in service.get("attributes") or []}


def _taxonomy_ids(service: Document) -> set[str]:
    return {
        str((a.get("taxonomy_term") or {}).get("taxonomy_id"))
        for a in service.get("attributes") or []
    }


class Catalogue:
    """The HSDS views of one export of the directory, ``last_modified`` in RFC 3339 in ``tz``."""

    def __init__(self, services: Sequence[Document], tz: tzinfo) -> None:
        self.services = [_stamped(s, tz) for s in services]

    # Services ---------------------------------------------------------------------------------

    def _related(self, filters: Filters) -> list[Document]:
        """Services that pass every filter but ``search`` and ``postcode``."""
        found = self.services
        if filters.taxonomy_term_id is not None:
            found = [s for s in found if filters.taxonomy_term_id in _term_ids(s)]
        if filters.taxonomy_id is not None:
            found = [s for s in found if filters.taxonomy_id in _taxonomy_ids(s)]
        if filters.organization_id is not None:
            found = [s for s in found if s.get("organization_id") == filters.organization_id]
        if filters.modified_after is not None:
            after = filters.modified_after
            found = [s for s in found if (m := _modified(s)) is not None and m >= after]
        return found

    def find_services(self, filters: Filters) -> list[Document]:
        found = self._related(filters)
        if filters.search:
            found = [
                s for s in found if matches(filters.search, (s.get(k) for k in SERVICE_TEXT_FIELDS))
            ]
        return found

    def service(self, service_id: str) -> Document | None:
        return next((s for s in self.services if s.get("id") == service_id), None)

    @staticmethod
    def minimal(service: Document) -> Document:
        # The API's description asks for just the id and last_modified; name and status stay
        # because the page's schema (compiled/service_list.json) requires them.
        keep = ("id", "name", "status", "last_modified")
        return {key: service[key] for key in keep if key in service}

    # Service at locations ---------------------------------------------------------------------

    def find_service_at_locations(self, filters: Filters, *, full: bool) -> list[Document]:
        found = []
        for service in self._related(filters):
            for sal in service.get("service_at_locations") or []:
                location = sal.get("location") or {}
                addresses = location.get("addresses") or []
                if filters.postcode is not None and not any(
                    a.get("postal_code") == filters.postcode for a in addresses
                ):
                    continue
                if filters.search and not matches(
                    filters.search,
                    [
                        *(service.get(k) for k in SERVICE_TEXT_FIELDS),
                        sal.get("description"),
                        location.get("name"),
                        location.get("description"),
                        *(a.get("address_1") for a in addresses),
                    ],
                ):
                    continue
                found.append(self._service_at_location(service, sal, full=full))
        return found

    def service_at_location(self, sal_id: str) -> Document | None:
        for service in self.services:
            for sal in service.get("service_at_locations") or []:
                if sal.get("id") == sal_id:
                    return self._service_at_location(service, sal, full=True)
        return None

    @staticmethod
    def _service_at_location(service: Document, sal: Document, *, full: bool) -> Document:
        shaped = {**sal} if full else one_to_one(sal)
        shaped["service"] = one_to_one(service)
        return shaped

    # Organizations ----------------------------------------------------------------------------

    def _organizations(self) -> dict[str, tuple[Document, list[Document]]]:
        found: dict[str, tuple[Document, list[Document]]] = {}
        for service in self.services:
            organization = service.get("organization")
            if organization:
                found.setdefault(organization["id"], (organization, []))[1].append(service)
        return found

    def find_organizations(
        self, *, search: str = "", full: bool = False, full_service: bool = False
    ) -> list[Document]:
        return [
            self._organization(organization, services, full=full, full_service=full_service)
            for organization, services in self._organizations().values()
            if matches(search, (organization.get(k) for k in ORGANIZATION_TEXT_FIELDS))
        ]

    def organization(self, organization_id: str, *, full_service: bool = False) -> Document | None:
        entry = self._organizations().get(organization_id)
        if entry is None:
            return None
        return self._organization(*entry, full=True, full_service=full_service)

    @staticmethod
    def _organization(
        organization: Document, services: list[Document], *, full: bool, full_service: bool
    ) -> Document:
        if not (full or full_service):
            return one_to_one(organization)
        if full_service:
            # Each service without its organization: that is the document around it.
            nested = [{k: v for k, v in s.items() if k != "organization"} for s in services]
        else:
            nested = [{"id": s["id"], "name": s["name"]} for s in services]
        return {**organization, "services": nested}

    # Taxonomies -------------------------------------------------------------------------------

    @staticmethod
    def find_taxonomies(*, search: str = "") -> list[Document]:
        taxonomies = [taxonomy_dict()]
        return [t for t in taxonomies if matches(search, (t.get("name"), t.get("description")))]

    @staticmethod
    def find_taxonomy_terms(
        *,
        search: str = "",
        taxonomy_id: str | None = None,
        parent_id: str | None = None,
        top_only: bool = False,
    ) -> list[Document]:
        """``top_only``: terms without a parent, as the name says (the OpenAPI file's
        description, "that have not child terms", reads the other way; the district's
        categories are one level, so both readings give every term)."""
        terms = [term_dict(c.code) for c in CATEGORIES]
        if taxonomy_id is not None:
            terms = [t for t in terms if t.get("taxonomy_id") == taxonomy_id]
        if parent_id is not None:
            terms = [t for t in terms if t.get("parent_id") == parent_id]
        if top_only:
            terms = [t for t in terms if not t.get("parent_id")]
        return [
            t
            for t in terms
            if matches(search, (t.get("code"), t.get("name"), t.get("description")))
        ]


SERVICE_TEXT_FIELDS = ("name", "alternate_name", "description")
ORGANIZATION_TEXT_FIELDS = ("name", "alternate_name", "description")
