"""The HSDS 3.0 API under ``/api/hsds/`` and ``GET /api/directory/nearest``.

Read-only views over the directory's exported services, shaped by ``directory.hsds_query``.
Every parameter the HSDS OpenAPI file documents is honoured or refused, never ignored: a bad
value gets a 400 naming the parameter with a message in Chinese; an id that is not a UUID is a
400, an unknown one a 404; never a 500.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, NoReturn

from aiohttp import web

from bot import keys
from directory.hsds import HSDS_VERSION, OPENAPI_URL
from directory.hsds_query import Catalogue, Document, Filters, one_to_one
from directory.places import find_category
from directory.search import SearchError
from directory.service import DirectoryNotReady

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_PAGE = 1_000_000
NDJSON = "application/x-ndjson"
STARTING = "目录正在加载，请稍后再试。"
WHAT = {
    "service": "服务",
    "organization": "机构",
    "service_at_location": "服务地点",
    "taxonomy": "分类体系",
    "taxonomy_term": "分类",
}
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
# A "+" in a query string arrives as a space: "…T09:00:00 08:00" meant "+08:00".
_SPACED_OFFSET = re.compile(r"(T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$", re.ASCII)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _json(data: Any) -> web.Response:
    return web.json_response(data, dumps=_dumps)


def _bad_request(parameter: str, message: str) -> NoReturn:
    body = {"error": "bad_request", "parameter": parameter, "message": message}
    raise web.HTTPBadRequest(text=_dumps(body), content_type="application/json")


def _not_found(what: str, wanted: str) -> NoReturn:
    body = {"error": "not_found", "message": f"找不到 id 为 {wanted} 的{WHAT[what]}"}
    raise web.HTTPNotFound(text=_dumps(body), content_type="application/json")


def _starting() -> NoReturn:
    body = {"error": "starting", "message": STARTING}
    raise web.HTTPServiceUnavailable(text=_dumps(body), content_type="application/json")


# Parameters -----------------------------------------------------------------------------------


def _raw(request: web.Request, name: str) -> str | None:
    """The parameter's value; None when absent or empty (an empty form field filters nothing)."""
    raw = request.query.get(name)
    return raw if raw else None


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = _raw(request, name)
    if raw is None:
        return default
    text = raw.strip()
    if not _INTEGER.fullmatch(text):
        _bad_request(name, f"{name} 必须是整数")
    # Twelve digits at most, so a huge number is refused as out of range before int() sees it.
    value = int(text) if len(text.lstrip("+-")) <= 12 else high + 1
    if not low <= value <= high:
        _bad_request(name, f"{name} 必须在 {low} 到 {high} 之间")
    return value


def _float(request: web.Request, name: str, low: float, high: float) -> float:
    raw = _raw(request, name)
    if raw is None:
        _bad_request(name, f"缺少参数 {name}")
    try:
        value = float(raw)
    except ValueError:
        _bad_request(name, f"{name} 必须是数字")
    if not math.isfinite(value) or not low <= value <= high:
        _bad_request(name, f"{name} 必须在 {low:g} 到 {high:g} 之间")
    return value


def _bool(request: web.Request, name: str, default: bool) -> bool:
    raw = _raw(request, name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    _bad_request(name, f"{name} 只能是 true 或 false")


def _parse_uuid(name: str, raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        _bad_request(name, f"{name} 必须是 UUID（例如 123e4567-e89b-12d3-a456-426614174000）")


def _uuid(request: web.Request, name: str) -> str | None:
    raw = _raw(request, name)
    return None if raw is None else _parse_uuid(name, raw)


def _path_id(request: web.Request) -> str:
    return _parse_uuid("id", request.match_info["id"])


def _moment(request: web.Request, name: str) -> datetime | None:
    raw = _raw(request, name)
    if raw is None:
        return None
    text = _SPACED_OFFSET.sub(r"\1+\2", raw.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _bad_request(
            name, f"{name} 必须是日期或日期时间（RFC 3339），例如 2026-01-01T00:00:00+08:00"
        )
    # Without an offset, the district's time: what staff and residents mean.
    return moment if moment.tzinfo else moment.replace(tzinfo=request.app[keys.SETTINGS].tz)


def _search(request: web.Request) -> str:
    return request.query.get("search", "").strip()


def _filters(request: web.Request) -> Filters:
    return Filters(
        search=_search(request),
        taxonomy_term_id=_uuid(request, "taxonomy_term_id"),
        taxonomy_id=_uuid(request, "taxonomy_id"),
        organization_id=_uuid(request, "organization_id"),
        modified_after=_moment(request, "modified_after"),
    )


def _catalogue(request: web.Request) -> Catalogue:
    try:
        services = request.app[keys.DIRECTORY].services
    except DirectoryNotReady:
        _starting()
    return Catalogue(services, request.app[keys.SETTINGS].tz)


# Responses ------------------------------------------------------------------------------------


def _page(
    request: web.Request, items: list[Document], *, per_page: int = DEFAULT_PER_PAGE
) -> web.Response:
    """One page as HSDS has it, or with ``format=ndjson`` every item, one a line."""
    page = _int(request, "page", 1, 1, MAX_PAGE)
    per_page = _int(request, "per_page", per_page, 1, MAX_PER_PAGE)
    output = (_raw(request, "format") or "json").strip().lower()
    if output not in ("json", "ndjson"):
        _bad_request("format", "format 只能是 json 或 ndjson")
    if output == "ndjson":
        lines = "".join(_dumps(item) + "\n" for item in items)
        return web.Response(text=lines, content_type=NDJSON, charset="utf-8")
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    contents = items[(page - 1) * per_page : page * per_page]
    return _json(
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


def _one(item: Document | None, what: str, wanted: str) -> web.Response:
    if item is None:
        _not_found(what, wanted)
    return _json(item)


# Handlers -------------------------------------------------------------------------------------


async def api_meta(request: web.Request) -> web.Response:
    # No "profile": the directory uses plain HSDS 3.0, with additions the schemas allow
    # (a location's closures and town, a schedule's follows_state_calendar).
    return _json({"version": HSDS_VERSION, "openapi_url": OPENAPI_URL})


async def list_services(request: web.Request) -> web.Response:
    filters = _filters(request)
    minimal = _bool(request, "minimal", False)
    # Fully nested unless asked otherwise: what this API has always answered.
    full = _bool(request, "full", True)
    services = _catalogue(request).find_services(filters)
    if minimal:  # whatever ``full`` says
        # "Aim to return all services within one page": the largest page by default.
        return _page(request, [Catalogue.minimal(s) for s in services], per_page=MAX_PER_PAGE)
    if not full:
        return _page(request, [one_to_one(s) for s in services])
    return _page(request, services)


async def get_service(request: web.Request) -> web.Response:
    wanted = _path_id(request)
    return _one(_catalogue(request).service(wanted), "service", wanted)


async def list_organizations(request: web.Request) -> web.Response:
    search = _search(request)
    full = _bool(request, "full", False)
    full_service = _bool(request, "full_service", False)
    organizations = _catalogue(request).find_organizations(
        search=search, full=full, full_service=full_service
    )
    return _page(request, organizations)


async def get_organization(request: web.Request) -> web.Response:
    wanted = _path_id(request)
    full_service = _bool(request, "full_service", False)
    found = _catalogue(request).organization(wanted, full_service=full_service)
    return _one(found, "organization", wanted)


async def list_service_at_locations(request: web.Request) -> web.Response:
    if _raw(request, "proximity") is not None:
        _bad_request(
            "proximity",
            "暂不支持 proximity 参数：请用 /api/directory/nearest?lat=…&lon=… 按位置查找",
        )
    postcode = _raw(request, "postcode")
    filters = replace(_filters(request), postcode=postcode.strip() if postcode else None)
    full = _bool(request, "full", False)
    return _page(request, _catalogue(request).find_service_at_locations(filters, full=full))


async def get_service_at_location(request: web.Request) -> web.Response:
    wanted = _path_id(request)
    return _one(_catalogue(request).service_at_location(wanted), "service_at_location", wanted)


async def list_taxonomies(request: web.Request) -> web.Response:
    return _page(request, Catalogue.find_taxonomies(search=_search(request)))


async def get_taxonomy(request: web.Request) -> web.Response:
    wanted = _path_id(request)
    found = next((t for t in Catalogue.find_taxonomies() if t["id"] == wanted), None)
    return _one(found, "taxonomy", wanted)


async def list_taxonomy_terms(request: web.Request) -> web.Response:
    terms = Catalogue.find_taxonomy_terms(
        search=_search(request),
        taxonomy_id=_uuid(request, "taxonomy_id"),
        parent_id=_uuid(request, "parent_id"),
        top_only=_bool(request, "top_only", False),
    )
    return _page(request, terms)


async def get_taxonomy_term(request: web.Request) -> web.Response:
    wanted = _path_id(request)
    found = next((t for t in Catalogue.find_taxonomy_terms() if t["id"] == wanted), None)
    return _one(found, "taxonomy_term", wanted)


async def nearest(request: web.Request) -> web.Response:
    latitude = _float(request, "lat", -90, 90)
    longitude = _float(request, "lon", -180, 180)
    limit = _int(request, "limit", 5, 1, 50)
    category = _raw(request, "category")
    if category and find_category(category) is None:
        _bad_request("category", f"未知的类别：{category}")
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
        _starting()
    except SearchError as exc:
        _bad_request(exc.field, f"参数 {exc.field} 无效")
    body: dict[str, Any] = {"results": [r.as_row() for r in results]}
    if sample:
        body["note"] = "示例数据，地址电话以实际公布为准"
    return _json(body)


ROUTES: list[tuple[str, Callable[[web.Request], Any]]] = [
    ("/api/hsds", api_meta),
    ("/api/hsds/", api_meta),
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
