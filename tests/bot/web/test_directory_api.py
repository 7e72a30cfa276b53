from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from directory.hsds import find_schema_dir, format_checker, schema_errors
from tests.conftest import Client

SCHEMAS = find_schema_dir()


# One server for the module: every test here only reads.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(module_server: TestServer) -> AsyncIterator[Client]:
    client = TestClient(module_server)
    await client.start_server()
    try:
        yield client
    finally:
        # The server is the module's: close only this client's session.
        await client.session.close()


def _valid(document: dict[str, Any], schema: str) -> None:
    """Valid with every format checked: date-time (with its offset), uri, uuid, email."""
    assert SCHEMAS is not None
    assert schema_errors(document, schema, Path(SCHEMAS), strict_formats=True) == []


async def test_services_are_paged_and_valid(client: Client) -> None:
    response = await client.get("/api/hsds/services", params={"per_page": "7", "page": "2"})
    assert response.status == 200
    page = await response.json()
    assert page["page_number"] == 2 and page["size"] == 7 and not page["first_page"]
    assert page["total_items"] >= 200 and page["total_pages"] == -(-page["total_items"] // 7)
    for service in page["contents"]:
        _valid(service, "service")
    one = await client.get(f"/api/hsds/services/{page['contents'][0]['id']}")
    assert one.status == 200
    _valid(await one.json(), "service")


async def test_last_modified_is_rfc3339_with_its_offset(client: Client) -> None:
    page = await (await client.get("/api/hsds/services", params={"per_page": "100"})).json()
    stamps = [s["last_modified"] for s in page["contents"]]
    assert len(stamps) == 100
    for stamp in stamps:
        moment = datetime.fromisoformat(stamp)
        # The district's time, to the millisecond, as HSDS's example has it.
        assert moment.utcoffset() == timedelta(hours=8), stamp
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00", stamp), stamp


async def test_the_api_describes_itself(client: Client) -> None:
    for path in ("/api/hsds/", "/api/hsds"):
        response = await client.get(path)
        assert response.status == 200
        meta = await response.json()
        assert meta == {
            "version": "3.0",
            "openapi_url": "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json",
        }
        assert format_checker().conforms(meta["openapi_url"], "uri")


async def test_search_and_taxonomy_filters(client: Client) -> None:
    terms = await (await client.get("/api/hsds/taxonomy_terms")).json()
    assert terms["total_items"] == 13
    for term in terms["contents"]:
        _valid(term, "taxonomy_term")
    meal = next(t for t in terms["contents"] if t["code"] == "meal_point")
    page = await (
        await client.get(
            "/api/hsds/services", params={"taxonomy_term_id": meal["id"], "per_page": "100"}
        )
    ).json()
    assert page["total_items"] == 66
    found = await (await client.get("/api/hsds/services", params={"search": "婚姻登记"})).json()
    assert found["total_items"] == 1


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/api/hsds/services", "service"),
        ("/api/hsds/organizations", "organization"),
        ("/api/hsds/service_at_locations", "service_at_location"),
        ("/api/hsds/taxonomies", "taxonomy"),
        ("/api/hsds/taxonomy_terms", "taxonomy_term"),
    ],
)
async def test_every_list_and_item_validates(client: Client, path: str, schema: str) -> None:
    page = await (await client.get(path, params={"per_page": "100"})).json()
    assert page["contents"], path
    for item in page["contents"]:
        _valid(item, schema)
    for item in page["contents"][:5]:
        one = await client.get(f"{path}/{item['id']}")
        assert one.status == 200
        _valid(await one.json(), schema)


async def test_nearest(client: Client) -> None:
    response = await client.get(
        "/api/directory/nearest",
        params={"lat": "31.03", "lon": "121.23", "category": "老年食堂", "limit": "3"},
    )
    assert response.status == 200
    body = await response.json()
    assert len(body["results"]) == 3
    assert [r["distance_m"] for r in body["results"]] == sorted(
        r["distance_m"] for r in body["results"]
    )
    assert body["note"] == "示例数据，地址电话以实际公布为准"


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter"),
    [
        ("/api/directory/nearest", {"lat": "91", "lon": "121"}, 400, "lat"),
        ("/api/directory/nearest", {"lat": "abc", "lon": "121"}, 400, "lat"),
        ("/api/directory/nearest", {"lat": "31", "lon": "nan"}, 400, "lon"),
        ("/api/directory/nearest", {"lon": "121"}, 400, "lat"),
        (
            "/api/directory/nearest",
            {"lat": "31", "lon": "121", "category": "天气"},
            400,
            "category",
        ),
        ("/api/directory/nearest", {"lat": "31", "lon": "121", "limit": "0"}, 400, "limit"),
        ("/api/hsds/services", {"per_page": "1000000000"}, 400, "per_page"),
        ("/api/hsds/services", {"per_page": "1000"}, 400, "per_page"),
        ("/api/hsds/services", {"page": "0"}, 400, "page"),
        ("/api/hsds/services", {"page": "x"}, 400, "page"),
        ("/api/hsds/services", {"page": "1.5"}, 400, "page"),
        ("/api/hsds/services", {"page": "١"}, 400, "page"),  # an Arabic-Indic digit
        ("/api/hsds/services", {"page": "9" * 5000}, 400, "page"),
        ("/api/hsds/services", {"taxonomy_term_id": "meal"}, 400, "taxonomy_term_id"),
        ("/api/hsds/services", {"taxonomy_id": "x"}, 400, "taxonomy_id"),
        ("/api/hsds/services", {"organization_id": "x"}, 400, "organization_id"),
        ("/api/hsds/services", {"modified_after": "yesterday"}, 400, "modified_after"),
        ("/api/hsds/services", {"modified_after": "2026-13-01"}, 400, "modified_after"),
        ("/api/hsds/services", {"minimal": "yes"}, 400, "minimal"),
        ("/api/hsds/services", {"full": "2"}, 400, "full"),
        ("/api/hsds/services", {"format": "xml"}, 400, "format"),
        ("/api/hsds/organizations", {"full": "maybe"}, 400, "full"),
        ("/api/hsds/organizations", {"full_service": "x"}, 400, "full_service"),
        ("/api/hsds/organizations", {"per_page": "0"}, 400, "per_page"),
        ("/api/hsds/service_at_locations", {"taxonomy_id": "x"}, 400, "taxonomy_id"),
        ("/api/hsds/service_at_locations", {"modified_after": "x"}, 400, "modified_after"),
        ("/api/hsds/service_at_locations", {"full": "x"}, 400, "full"),
        ("/api/hsds/service_at_locations", {"proximity": "500"}, 400, "proximity"),
        ("/api/hsds/taxonomies", {"page": "-1"}, 400, "page"),
        ("/api/hsds/taxonomy_terms", {"parent_id": "x"}, 400, "parent_id"),
        ("/api/hsds/taxonomy_terms", {"taxonomy_id": "x"}, 400, "taxonomy_id"),
        ("/api/hsds/taxonomy_terms", {"top_only": "x"}, 400, "top_only"),
        ("/api/hsds/services/not-a-uuid", {}, 400, "id"),
        ("/api/hsds/organizations/123", {}, 400, "id"),
        ("/api/hsds/organizations/123", {"full_service": "x"}, 400, "id"),
        (f"/api/hsds/services/{uuid.uuid4()}", {}, 404, None),
        (f"/api/hsds/organizations/{uuid.uuid4()}", {}, 404, None),
        (f"/api/hsds/service_at_locations/{uuid.uuid4()}", {}, 404, None),
        (f"/api/hsds/taxonomies/{uuid.uuid4()}", {}, 404, None),
        (f"/api/hsds/taxonomy_terms/{uuid.uuid4()}", {}, 404, None),
    ],
)
async def test_bad_requests_are_named_never_500(
    client: Client, path: str, params: dict[str, str], status: int, parameter: str | None
) -> None:
    response = await client.get(path, params=params)
    assert response.status == status
    body = await response.json()
    # Said in Chinese, for the staff and residents who read it.
    assert re.search(r"[\u4e00-\u9fff]", body["message"]), body["message"]
    assert body.get("parameter") == parameter
