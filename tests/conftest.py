"""Shared fixtures. Tests are offline, use a fresh database each, and never read the developer's
own MINZHENG_* settings.

The database backend is SQLite unless MINZHENG_TEST_BACKEND=postgresql; then the server is
MINZHENG_TEST_POSTGRES_URL, or a throwaway cluster started here. Every test that uses the
``database_url`` fixture is marked ``db`` and runs again in the PostgreSQL leg.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot import keys
from bot.settings import Settings
from bot.web.app import create_app
from tests.support.fake_bot_api import FakeBotApi
from tests.support.postgres import ThrowawayCluster, find_bindir

Client = TestClient[web.Request, web.Application]
AppClient = Callable[[web.Application], Awaitable[Client]]

BACKEND = os.environ.get("MINZHENG_TEST_BACKEND", "sqlite")
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


def pytest_report_header() -> str:
    return f"minzheng database backend: {BACKEND}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "database_url" in names or "module_database_url" in names:
            item.add_marker(pytest.mark.db)


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests are offline: resolving any host but loopback fails at once, loudly."""
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOCAL_HOSTS and not str(name).startswith("127."):
            raise OSError(f"test tried to reach {name!r}: tests stay on this machine")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.upper().startswith("MINZHENG_") and not key.upper().startswith("MINZHENG_TEST_"):
            monkeypatch.delenv(key)
    # Relative defaults (var/) land in the test's own folder.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    if BACKEND != "postgresql":
        yield None
        return
    given = os.environ.get("MINZHENG_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bindir = find_bindir()
    if bindir is None:
        raise pytest.UsageError(
            "MINZHENG_TEST_BACKEND=postgresql needs MINZHENG_TEST_POSTGRES_URL or PostgreSQL's "
            "server binaries (initdb, pg_ctl)"
        )
    cluster = ThrowawayCluster(bindir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def _asyncpg_params(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username,
        "password": parsed.password,
        "database": parsed.database or "postgres",
    }


@asynccontextmanager
async def fresh_database(folder: Path, postgres_server: str | None) -> AsyncIterator[str]:
    """A new, empty database: a SQLite file in ``folder``, or a new PostgreSQL database."""
    if postgres_server is None:
        yield f"sqlite+aiosqlite:///{folder / 'minzheng-test.db'}"
        return
    name = f"minzheng_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(**_asyncpg_params(postgres_server))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    server = make_url(postgres_server).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield server.render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(**_asyncpg_params(postgres_server))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def database_url(tmp_path: Path, postgres_server: str | None) -> AsyncIterator[str]:
    """A fresh, empty database for one test."""
    async with fresh_database(tmp_path, postgres_server) as url:
        yield url


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings as the service would build them, with test-friendly defaults."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "var_dir": tmp_path / "var",
            "secret_key": TEST_SECRET_KEY,
            "http_port": 0,
            "log_format": "text",
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
async def fake_bot_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def app_client() -> AsyncIterator[AppClient]:
    """Serve an application on a real loopback port (cleanup contexts and all) and talk to it."""
    clients: list[Client] = []

    async def start(app: web.Application) -> Client:
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_database_url(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: str | None
) -> AsyncIterator[str]:
    """A fresh database shared by one test module (for modules whose tests only read)."""
    async with fresh_database(tmp_path_factory.mktemp("module-db"), postgres_server) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_server(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TestServer]:
    """One server for a module, started on a new installation (it seeds itself) and ready:
    knowledge index and directory built. Modules using it set ``loop_scope="module"``."""
    settings = Settings(
        database_url=module_database_url,
        var_dir=tmp_path_factory.mktemp("var"),
        secret_key=TEST_SECRET_KEY,
        http_port=0,
    )
    server = TestServer(create_app(settings))
    await server.start_server()
    try:
        async with asyncio.timeout(60):
            while not (server.app[keys.KNOWLEDGE].ready and server.app[keys.DIRECTORY].ready):
                await asyncio.sleep(0.05)
        yield server
    finally:
        await server.close()
