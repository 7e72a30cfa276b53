"""A running service with console accounts, and a small client that signs in like a browser
(cookies, the sign-in form's token, each form's CSRF token)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, CookieJar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import keys
from bot.console import accounts
from bot.console.models import AuditEvent, Role
from bot.database import engine_context, session_factory
from bot.migrate import upgrade
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import AppClient, Client

PASSWORD = "songjiang-console-2026"
# name -> role; every account has PASSWORD.
ACCOUNTS = {"管理员甲": Role.admin, "小王": Role.staff, "小李": Role.staff, "顾问张": Role.advisor}


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field on the page"
    return found.group(1)


@dataclass
class StaffBrowser:
    """One person's browser: its own cookie jar, on the test server."""

    base: str
    http: ClientSession
    last_page: str = ""

    async def get(self, path: str, **kwargs: Any) -> ClientResponse:
        response = await self.http.get(self.base + path, allow_redirects=False, **kwargs)
        if response.content_type == "text/html":
            self.last_page = await response.text()
        return response

    async def sign_in(self, name: str, password: str = PASSWORD) -> ClientResponse:
        await self.get("/admin/login")
        token = hidden(self.last_page, "login_csrf")
        return await self.post_raw(
            "/admin/login", {"login_csrf": token, "name": name, "password": password}
        )

    async def post_raw(self, path: str, data: dict[str, str], **kwargs: Any) -> ClientResponse:
        response = await self.http.post(
            self.base + path, data=data, allow_redirects=False, **kwargs
        )
        if response.content_type == "text/html":
            self.last_page = await response.text()
        return response

    async def post(self, path: str, data: dict[str, str] | None = None) -> ClientResponse:
        """A form submitted from a console page: with that page's CSRF token."""
        if 'name="csrf"' not in self.last_page:
            await self.get("/admin/")
        token = hidden(self.last_page, "csrf")
        return await self.post_raw(path, {"csrf": token, **(data or {})})


@dataclass
class Console:
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    browsers: list[StaffBrowser]

    async def browser(self, name: str | None = None) -> StaffBrowser:
        http = ClientSession(cookie_jar=CookieJar(unsafe=True))
        browser = StaffBrowser(f"http://127.0.0.1:{self.client.server.port}", http)
        self.browsers.append(browser)
        if name is not None:
            response = await browser.sign_in(name)
            assert response.status == 303, browser.last_page
        return browser

    async def audit_count(self, action: str | None = None) -> int:
        query = select(func.count()).select_from(AuditEvent)
        if action:
            query = query.where(AuditEvent.action == action)  # type: ignore[arg-type]
        async with self.sessions() as session:
            return int(await session.scalar(query) or 0)


@pytest.fixture
async def console(
    app_client: AppClient, make_settings: Callable[..., Settings], database_url: str
) -> AsyncIterator[Console]:
    async with engine_context(database_url) as engine:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            for name, role in ACCOUNTS.items():
                await accounts.add_user(
                    session, name=name, role=role, password=PASSWORD, actor="test"
                )
    client = await app_client(create_app(make_settings(database_url=database_url)))
    async with asyncio.timeout(60):
        while not client.app[keys.KNOWLEDGE].ready:
            await asyncio.sleep(0.05)
    found = Console(client, client.app[keys.SESSIONS], [])
    try:
        yield found
    finally:
        for browser in found.browsers:
            await browser.http.close()
