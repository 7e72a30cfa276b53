"""The HSDS 3.0 API under ``/api/hsds/`` and ``GET /api/directory/nearest``.

Read-only views over the directory's exported services. Bad parameters get a 400 naming the
parameter; an id that is not a UUID is a 400, an unknown one a 404; never a 500.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from aiohttp import web

from bot import keys
from directory.hsds import taxonomy_dict, term_dict
from directory.places import CATEGORIES, find_category
from directory.search import SearchError
from directory.service import DirectoryNotReady

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20


def _error(status: int, parameter: str | None, message: str) -> web.HTTPException:
    body = {"error": "bad_request" if status == 400 else "not_found", "message": message}
    if parameter:
        body["parameter"] = parameter
    cls = web.HTTPBadRequest if status == 400 else web.HTTPNotFound
    return cls(text=web.json_response(body).text, content_type="application/json")


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _error(400, name, f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise _error(400, name, f"{name} must be between {low} and {high}")
    return value


def _float(request: web.Request, name: str, low: float, high: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        raise _error(400, name, f"{name} is required")
    try:
        value = float(raw)
    except ValueError:
        raise _error(400, name, f"{name} must be a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise _error(400, name, f"{name} must be between {low} and {high}")
    return value


def _uuid(request: web.Request, name: str = "id") -> str:
    raw = request.match_info.get(name) or request.query.get(name) or ""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise _error(400, name, f"{name} must be a UUID") from None


def _services(request: web.Request) -> list[dict[str, Any]]:
    try:
        return request.app[keys.DIRECTORY].services
    except DirectoryNotReady:
        raise web.HTTPServiceUnavailable(
            text='{"error": "starting", "message": "目录正在加载，请稍后再试。"}',
            content_type="application/json",
        ) from None


def _page(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    page = _int(request, "page", 1, 1, 1_000_000)
    per_page = _int(request, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    contents = items[(page - 1) * per_page : page * per_page]
    return web.json_response(
        {
            "total_items": total,
            "total_pages": pages,
            "page_number": page,
            "size": len(contents),
            "first_page": page == 1,
            "last_page": page >= pages,
            "empty": not contents,
            "contents": contents,
        }
    )


def _matches(service: dict[str, Any], words: str) -> bool:
    haystack = " ".join(
        str(service.get(k) or "") for k in ("name", "description", "alternate_name")
    ).lower()
    return all(word in haystack for word in words.lower().split())


def _term_ids(service: dict[str, Any]) -> set[str]:
    return {str(a.get("taxonomy_term_id")) for a in service.get("attributes") or []}


async def list_services(request: web.Request) -> web.Response:
    services = _services(request)
    search = request.query.get("search", "").strip()
    if search:
        services = [s for s in services if _matches(s, search)]
    if "taxonomy_term_id" in request.query:
        term = _uuid(request, "taxonomy_term_id")
        services = [s for s in services if term in _term_ids(s)]
    if "organization_id" in request.query:
        organization = _uuid(request, "organization_id")
        services = [s for s in services if s.get("organization_id") == organization]
    return _page(request, services)


def _one(items: Iterable[dict[str, Any]], wanted: str, what: str) -> web.Response:
    for item in items:
        if item.get("id") == wanted:
            return web.json_response(item)
    raise _error(404, None, f"no {what} with id {wanted}")


async def get_service(request: web.Request) -> web.Response:
    wanted = _uuid(request)
    return _one(_services(request), wanted, "service")


def _organizations(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for service in services:
        organization = service.get("organization")
        if organization and organization["id"] not in seen:
            seen[organization["id"]] = organization
    return list(seen.values())


async def list_organizations(request: web.Request) -> web.Response:
    return _page(request, _organizations(_services(request)))


async def get_organization(request: web.Request) -> web.Response:
    wanted = _uuid(request)
    return _one(_organizations(_services(request)), wanted, "organization")


def _service_at_locations(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [sal for s in services for sal in s.get("service_at_locations") or []]


async def list_service_at_locations(request: web.Request) -> web.Response:
    return _page(request, _service_at_locations(_services(request)))


async def get_service_at_location(request: web.Request) -> web.Response:
    wanted = _uuid(request)
    return _one(_service_at_locations(_services(request)), wanted, "service_at_location")


async def list_taxonomies(request: web.Request) -> web.Response:
    return _page(request, [taxonomy_dict()])


async def get_taxonomy(request: web.Request) -> web.Response:
    return _one([taxonomy_dict()], _uuid(request), "taxonomy")


def _terms() -> list[dict[str, Any]]:
    return [term_dict(c.code) for c in CATEGORIES]


async def list_taxonomy_terms(request: web.Request) -> web.Response:
    return _page(request, _terms())


async def get_taxonomy_term(request: web.Request) -> web.Response:
    return _one(_terms(), _uuid(request), "taxonomy_term")


async def nearest(request: web.Request) -> web.Response:
    latitude = _float(request, "lat", -90, 90)
    longitude = _float(request, "lon", -180, 180)
    limit = _int(request, "limit", 5, 1, 50)
    category = request.query.get("category") or None
    if category and find_category(category) is None:
        raise _error(400, "category", f"unknown category {category!r}")
    try:
        directory = request.app[keys.DIRECTORY]
        results = directory.index.search(
            now=datetime.now(request.app[keys.SETTINGS].tz),
            category=category,
            near=(latitude, longitude),
            limit=limit,
        )
        sample = directory.index.has_sample_data
    except DirectoryNotReady:
        raise web.HTTPServiceUnavailable(
            text='{"error": "starting", "message": "目录正在加载，请稍后再试。"}',
            content_type="application/json",
        ) from None
    except SearchError as exc:
        raise _error(400, exc.field, str(exc)) from None
    body: dict[str, Any] = {"results": [r.as_row() for r in results]}
    if sample:
        body["note"] = "示例数据，地址电话以实际公布为准"
    return web.json_response(body, dumps=_dumps)


def _dumps(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


ROUTES: list[tuple[str, Callable[[web.Request], Any]]] = [
    ("/api/hsds/services", list_services),
    ("/api/hsds/services/{id}", get_service),
    ("/api/hsds/organizations", list_organizations),
    ("/api/hsds/organizations/{id}", get_organization),
    ("/api/hsds/service_at_locations", list_service_at_locations),
    ("/api/hsds/service_at_locations/{id}", get_service_at_location),
    ("/api/hsds/taxonomies", list_taxonomies),
    ("/api/hsds/taxonomies/{id}", get_taxonomy),
    ("/api/hsds/taxonomy_terms", list_taxonomy_terms),
    ("/api/hsds/taxonomy_terms/{id}", get_taxonomy_term),
    ("/api/directory/nearest", nearest),
]


def add_routes(app: web.Application) -> None:
    for path, handler in ROUTES:
        app.router.add_get(path, handler)
