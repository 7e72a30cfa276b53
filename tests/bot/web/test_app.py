from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot import keys
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import AppClient, Client


async def _migrated(client: Client) -> None:
    await client.app[keys.DATABASE_STATE].migrated.wait()


async def test_healthz_is_200_once_the_database_is_migrated(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> None:
    client = await app_client(create_app(make_settings(database_url=database_url)))
    await _migrated(client)
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_is_503_with_a_reason_when_the_database_is_unreachable(
    app_client: AppClient, make_settings: Callable[..., Settings]
) -> None:
    # Port 1 on loopback refuses connections at once.
    settings = make_settings(database_url="postgresql+asyncpg://u:p@127.0.0.1:1/minzheng")
    client = await app_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "unreachable"
    assert body["reason"]
    assert "p@" not in body["reason"]
    # The start-up migration keeps retrying instead of crashing the server.
    state = client.app[keys.DATABASE_STATE]
    assert not state.migrated.is_set()


async def test_metrics_count_requests_by_route(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> None:
    client = await app_client(create_app(make_settings(database_url=database_url)))
    await _migrated(client)
    for _ in range(3):
        await client.get("/healthz")
    await client.get("/no/such/page")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    assert 'minzheng_http_requests_total{method="GET",route="/healthz",status="200"} 3.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "minzheng_http_request_duration_seconds_bucket" in text


async def test_an_unexpected_error_gets_a_calm_json_answer(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> None:
    app = create_app(make_settings(database_url=database_url))

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    app.router.add_get("/broken", broken)
    client = await app_client(app)
    response = await client.get("/broken")
    assert response.status == 500
    body = await response.json()
    assert body["error"] == "internal_error"
    assert "37009999" in body["message"]
    assert "boom" not in body["message"]
