"""The HSDS API against the official HSDS 3.0 OpenAPI file, with schemathesis and hypothesis.

schemathesis and ``requests`` are synchronous, so the application runs on its own event loop in
a thread, on a loopback port, for the whole module.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from bot import keys
from bot.settings import Settings
from bot.web.app import create_app
from directory.hsds import find_schema_dir
from tests.conftest import TEST_SECRET_KEY

SCHEMAS = find_schema_dir()
assert SCHEMAS is not None, "../shared/hsds-3.0/schema is missing"
REMOTE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
BASE_PATH = "/api/hsds"


def _local_refs(value: Any, rewrite: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: rewrite(v) if k == "$ref" and isinstance(v, str) else _local_refs(v, rewrite)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_local_refs(v, rewrite) for v in value]
    return value


def official_openapi(schema_dir: Path) -> dict[str, Any]:
    """The official file, its schemas read from ``schema_dir`` instead of GitHub (tests are
    offline): each HSDS schema becomes a component, and each remote ``$ref`` points at one.

    ``compiled/X_list.json`` (X's one-to-one fields) is checked against the full X schema: the
    list schema has a subset of X's properties, the same ``required`` and no
    ``additionalProperties``, so the full schema checks all it checks, and more.
    """
    document = json.loads((schema_dir / "openapi.json").read_text(encoding="utf-8"))

    def component(ref: str) -> str:
        name = ref.removeprefix(REMOTE).removeprefix("compiled/").removesuffix(".json")
        return f"#/components/schemas/{name.removesuffix('_list')}"

    def sibling(ref: str) -> str:  # "organization.json" inside service.json
        return f"#/components/schemas/{ref.removesuffix('.json')}" if ref.endswith(".json") else ref

    for path in sorted(schema_dir.glob("*.json")):
        if path.name != "openapi.json":
            contents = json.loads(path.read_text(encoding="utf-8"))
            document["components"]["schemas"][path.stem] = _local_refs(contents, sibling)
    document["paths"] = _local_refs(
        document["paths"], lambda ref: component(ref) if ref.startswith(REMOTE) else ref
    )
    # A defect of the official file: GET /service_at_locations/{id} is documented as answering
    # a service (compiled/service.json), though it retrieves "a fully nested
    # service_at_location". A service_at_location has neither the name nor the status a
    # service requires, so it is checked against service_at_location.
    response = document["paths"]["/service_at_locations/{id}"]["get"]["responses"]["200"]
    response["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/service_at_location"
    }
    return document


def test_the_official_file_is_used_as_published() -> None:
    """The rewriting above changes only where schemas are read from, plus the one defect."""
    assert SCHEMAS is not None
    original = json.loads((SCHEMAS / "openapi.json").read_text(encoding="utf-8"))
    local = official_openapi(SCHEMAS)
    assert set(local["paths"]) == set(original["paths"])
    refs: list[str] = []
    _local_refs(local["paths"], lambda ref: refs.append(ref))
    assert refs and not [r for r in refs if r.startswith("http")]
    for path, item in original["paths"].items():
        assert [p.get("name") or p["$ref"] for p in item["get"].get("parameters", [])] == [
            p.get("name") or p["$ref"] for p in local["paths"][path]["get"].get("parameters", [])
        ]


def _serve(settings_: Settings, started: threading.Event, box: dict[str, Any]) -> None:
    async def main() -> None:
        from aiohttp import web

        runner = web.AppRunner(create_app(settings_))
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            app = runner.app
            async with asyncio.timeout(60):
                while not app[keys.DIRECTORY].ready:
                    await asyncio.sleep(0.05)
            box["port"] = runner.addresses[0][1]
            box["stop"] = stop = asyncio.Event()
            box["loop"] = asyncio.get_running_loop()
            started.set()
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except BaseException as exc:  # reported by the fixture, which waits on `started`
        box["error"] = exc
        started.set()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The application on a loopback port, on a new SQLite database that it seeds itself."""
    folder = tmp_path_factory.mktemp("hsds-api")
    settings_ = Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'minzheng-test.db'}",
        var_dir=folder / "var",
        secret_key=TEST_SECRET_KEY,
        http_port=0,
    )
    started = threading.Event()
    box: dict[str, Any] = {}
    thread = threading.Thread(target=_serve, args=(settings_, started, box), daemon=True)
    thread.start()
    assert started.wait(90), "the server did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield f"http://127.0.0.1:{box['port']}"
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)
        assert not thread.is_alive()


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


SCHEMA = schemathesis.openapi.from_dict(official_openapi(SCHEMAS))
SCHEMA.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=25
)


@pytest.fixture(scope="module")
def known_ids(base_url: str, http: requests.Session) -> dict[str, list[str]]:
    """Ids that exist, by the path of their item: a made-up UUID only ever meets a 404."""
    found = {}
    for kind in (
        "services",
        "organizations",
        "service_at_locations",
        "taxonomies",
        "taxonomy_terms",
    ):
        page = http.get(f"{base_url}{BASE_PATH}/{kind}", params={"per_page": "100"}, timeout=10)
        found[f"/{kind}/{{id}}"] = [item["id"] for item in page.json()["contents"]]
        assert found[f"/{kind}/{{id}}"], kind
    return found


@schemathesis.check
def route_is_served(ctx: schemathesis.CheckContext, response: Any, case: Case) -> None:
    """Only an item can be missing (404); a list or the API's description always exists."""
    if "{id}" not in case.path and response.status_code == 404:
        raise AssertionError(f"{case.path} is not served")


@SCHEMA.parametrize()
@SCHEMA.given(pick=st.one_of(st.none(), st.integers(min_value=0)))
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_conforms_and_never_fails(
    case: Case,
    pick: int | None,
    base_url: str,
    http: requests.Session,
    known_ids: dict[str, list[str]],
) -> None:
    ids = known_ids.get(case.path)
    if ids and pick is not None and case.path_parameters is not None:
        case.path_parameters["id"] = ids[pick % len(ids)]
    case.call_and_validate(
        base_url=base_url + BASE_PATH,
        session=http,
        checks=[not_a_server_error, response_schema_conformance, route_is_served],
    )


# Arbitrary query strings on every route ------------------------------------------------------

ROUTES = [
    "/api/hsds",
    "/api/hsds/",
    "/api/hsds/services",
    "/api/hsds/services/{id}",
    "/api/hsds/organizations",
    "/api/hsds/organizations/{id}",
    "/api/hsds/service_at_locations",
    "/api/hsds/service_at_locations/{id}",
    "/api/hsds/taxonomies",
    "/api/hsds/taxonomies/{id}",
    "/api/hsds/taxonomy_terms",
    "/api/hsds/taxonomy_terms/{id}",
    "/api/directory/nearest",
]
OPENAPI_PARAMETERS = json.loads((SCHEMAS / "openapi.json").read_text(encoding="utf-8"))[
    "components"
]["parameters"]
# The names the routes read, and a few that no route knows.
NAMES = sorted(
    {p["name"] for p in OPENAPI_PARAMETERS.values()}
    | {"top_only", "parent_id", "lat", "lon", "limit", "category", "id", "q", "page[]"}
)
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1", "1000", "true", "nan", "2026-13-01", "ndjson", "%FF"]),
    st.uuids().map(str),
    st.integers().map(str),
)


def test_every_route_is_fuzzed() -> None:
    from aiohttp import web

    from bot.web.directory_api import add_routes

    app = web.Application()
    add_routes(app)
    served = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    assert served == set(ROUTES)


@given(
    route=st.sampled_from(ROUTES),
    ident=st.one_of(st.uuids().map(str), st.text(min_size=1, max_size=40)),
    query=st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=10)), VALUES)),
)
@settings(max_examples=150, deadline=None, database=None)
def test_arbitrary_query_strings_never_fail(
    base_url: str, http: requests.Session, route: str, ident: str, query: list[tuple[str, str]]
) -> None:
    path = route.replace("{id}", quote(ident, safe=""))
    response = http.get(base_url + path, params=query, timeout=10)
    assert response.status_code < 500, (path, query, response.text[:500])
    if response.status_code == 400 and response.headers["Content-Type"].startswith(
        "application/json"
    ):
        body = response.json()
        # The parameter named is one sent, the path's id, or a required one left out.
        assert body["parameter"] in {name for name, _ in query} | {"id", "lat", "lon"}
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body
