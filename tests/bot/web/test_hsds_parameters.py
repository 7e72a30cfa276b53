"""Each parameter the HSDS OpenAPI file documents does what it says, on the endpoints it lists."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from directory.hsds import find_schema_dir, schema_errors
from directory.places import TAXONOMY_ID
from tests.conftest import Client

SCHEMAS = find_schema_dir()
OTHER = "00000000-0000-4000-8000-000000000000"
ALL = {"per_page": "100"}

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(module_server: TestServer) -> AsyncIterator[Client]:
    client = TestClient(module_server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.session.close()


async def _get(client: Client, path: str, **params: str) -> Any:
    response = await client.get(path, params=params)
    assert response.status == 200, await response.text()
    return await response.json()


def _valid(document: dict[str, Any], schema: str) -> None:
    assert SCHEMAS is not None
    assert schema_errors(document, schema, Path(SCHEMAS), strict_formats=True) == []


async def _total(client: Client, path: str, **params: str) -> int:
    total = (await _get(client, path, **params))["total_items"]
    assert isinstance(total, int)
    return total


# services -------------------------------------------------------------------------------------


async def test_services_by_taxonomy(client: Client) -> None:
    everything = await _total(client, "/api/hsds/services")
    assert await _total(client, "/api/hsds/services", taxonomy_id=str(TAXONOMY_ID)) == everything
    assert await _total(client, "/api/hsds/services", taxonomy_id=OTHER) == 0


async def test_services_modified_after(client: Client) -> None:
    everything = await _total(client, "/api/hsds/services")
    for moment in ("2020-01-01", "2020-01-01T00:00:00+08:00", "2020-01-01T00:00:00Z"):
        assert await _total(client, "/api/hsds/services", modified_after=moment) == everything
    # An unencoded "+" arrives as a space; it still means the offset.
    assert (
        await _total(client, "/api/hsds/services", modified_after="2999-01-01T00:00:00 08:00") == 0
    )
    assert await _total(client, "/api/hsds/services", modified_after="2999-01-01") == 0
    newest = max(
        s["last_modified"] for s in (await _get(client, "/api/hsds/services", **ALL))["contents"]
    )
    assert await _total(client, "/api/hsds/services", modified_after=newest) >= 1


async def test_services_minimal(client: Client) -> None:
    page = await _get(client, "/api/hsds/services", minimal="true")
    # The largest page unless asked: minimal is for fetching everything in few calls.
    assert page["size"] == 100
    for item in page["contents"]:
        assert set(item) == {"id", "name", "status", "last_modified"}
        _valid(item, "service")


async def test_services_one_to_one_or_fully_nested(client: Client) -> None:
    nested = (await _get(client, "/api/hsds/services", per_page="3"))["contents"]
    assert all(s["service_at_locations"] for s in nested)
    flat = (await _get(client, "/api/hsds/services", per_page="3", full="false"))["contents"]
    assert [s["id"] for s in flat] == [s["id"] for s in nested]
    for service in flat:
        assert not [k for k, v in service.items() if isinstance(v, list)]
        assert service["organization"]["id"] == service["organization_id"]
        _valid(service, "service")
    again = (await _get(client, "/api/hsds/services", per_page="3", full="true"))["contents"]
    assert again == nested


async def test_services_as_ndjson(client: Client) -> None:
    response = await client.get("/api/hsds/services", params={"format": "ndjson"})
    assert response.status == 200
    assert response.content_type == "application/x-ndjson"
    lines = (await response.text()).splitlines()
    assert len(lines) == await _total(client, "/api/hsds/services")
    for line in lines[:10]:
        _valid(json.loads(line), "service")


# organizations --------------------------------------------------------------------------------


async def test_organizations_search_and_nesting(client: Client) -> None:
    assert await _total(client, "/api/hsds/organizations", search="示例数据") == 1
    assert await _total(client, "/api/hsds/organizations", search="没有这个机构") == 0
    basic = (await _get(client, "/api/hsds/organizations"))["contents"][0]
    assert "services" not in basic
    total = await _total(client, "/api/hsds/services", organization_id=basic["id"])
    nested = (await _get(client, "/api/hsds/organizations", full="true"))["contents"][0]
    assert len(nested["services"]) == total
    assert set(nested["services"][0]) == {"id", "name"}
    _valid(nested, "organization")
    full = (await _get(client, "/api/hsds/organizations", full_service="true"))["contents"][0]
    assert len(full["services"]) == total
    for service in full["services"][:5]:
        _valid(service, "service")


async def test_one_organization_lists_its_services(client: Client) -> None:
    first = (await _get(client, "/api/hsds/organizations"))["contents"][0]
    one = await _get(client, f"/api/hsds/organizations/{first['id']}")
    assert {"id", "name"} == set(one["services"][0])
    _valid(one, "organization")
    full = await _get(client, f"/api/hsds/organizations/{first['id']}", full_service="true")
    assert full["services"][0]["service_at_locations"]


# service_at_locations -------------------------------------------------------------------------


async def test_service_at_locations_filters(client: Client) -> None:
    path = "/api/hsds/service_at_locations"
    everything = await _total(client, path)
    assert everything == await _total(client, "/api/hsds/services")
    assert await _total(client, path, search="婚姻登记") == 1
    # The text of the place counts too: a town's name is in every address there.
    in_town = await _total(client, path, search="九亭镇")
    assert 0 < in_town < everything
    terms = (await _get(client, "/api/hsds/taxonomy_terms"))["contents"]
    meal = next(t["id"] for t in terms if t["code"] == "meal_point")
    assert await _total(client, path, taxonomy_term_id=meal) == 66
    assert await _total(client, path, taxonomy_id=str(TAXONOMY_ID)) == everything
    assert await _total(client, path, taxonomy_id=OTHER) == 0
    organization = (await _get(client, "/api/hsds/organizations"))["contents"][0]["id"]
    assert await _total(client, path, organization_id=organization) == everything
    assert await _total(client, path, organization_id=OTHER) == 0
    assert await _total(client, path, modified_after="2020-01-01") == everything
    assert await _total(client, path, modified_after="2999-01-01") == 0
    assert await _total(client, path, postcode="201600") == everything
    assert await _total(client, path, postcode="100000") == 0


async def test_service_at_locations_one_to_one_or_fully_nested(client: Client) -> None:
    path = "/api/hsds/service_at_locations"
    flat = (await _get(client, path, per_page="5"))["contents"]
    for sal in flat:
        assert "addresses" not in sal["location"]
        assert sal["service"]["id"] == sal["service_id"]
        assert "service_at_locations" not in sal["service"]
        _valid(sal, "service_at_location")
    nested = (await _get(client, path, per_page="5", full="true"))["contents"]
    assert [s["id"] for s in nested] == [s["id"] for s in flat]
    assert all(s["location"]["addresses"] and s["location"]["schedules"] for s in nested)
    one = await _get(client, f"{path}/{flat[0]['id']}")
    assert one == nested[0]
    _valid(one, "service_at_location")


# taxonomies and terms -------------------------------------------------------------------------


async def test_taxonomies_search(client: Client) -> None:
    assert await _total(client, "/api/hsds/taxonomies", search="服务点类别") == 1
    assert await _total(client, "/api/hsds/taxonomies", search="ICD-10") == 0


async def test_taxonomy_terms_filters(client: Client) -> None:
    path = "/api/hsds/taxonomy_terms"
    assert await _total(client, path, search="助餐") == 1
    assert await _total(client, path, search="meal_point") == 1
    assert await _total(client, path, taxonomy_id=str(TAXONOMY_ID)) == 13
    assert await _total(client, path, taxonomy_id=OTHER) == 0
    # The district's categories are one level: every term is at the top, none has a parent.
    assert await _total(client, path, top_only="true") == 13
    assert await _total(client, path, top_only="false") == 13
    some_term = (await _get(client, path))["contents"][0]["id"]
    assert await _total(client, path, parent_id=some_term) == 0
