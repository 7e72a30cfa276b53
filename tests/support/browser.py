"""Debian's Chromium for the browser tests (marker ``browser``), driven by Playwright.

Playwright's own browser download is never used (this machine reaches no download site): the
tests launch the Chromium that ``apt-get install chromium`` puts at /usr/bin/chromium, which
``.ci/run`` installs when it is missing. Without it the tests skip, except under ``CI=true``,
where a skipped browser test is a failure, as a skipped PostgreSQL leg is in ``dev.py test``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Error,
    Page,
    Request,
    async_playwright,
)

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")

# Headless and quiet: the machine's network is closed, and without the background-networking
# switches Chromium keeps trying (and failing) to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def find_chromium() -> str | None:
    """The Chromium executable: ``chromium`` on PATH, or Debian's /usr/bin/chromium."""
    found = shutil.which("chromium")
    if found:
        return found
    return str(DEBIAN_CHROMIUM) if os.access(DEBIAN_CHROMIUM, os.X_OK) else None


def require_chromium() -> str:
    """The Chromium executable; skips the test when there is none (fails it under CI)."""
    path = find_chromium()
    if path is not None:
        return path
    reason = (
        "browser tests need Chromium and none was found (no `chromium` on PATH, no "
        f"{DEBIAN_CHROMIUM}); on Debian: apt-get install chromium"
    )
    if under_ci():
        pytest.fail(f"{reason}. Under CI=true a skipped browser test is a failure.", pytrace=False)
    pytest.skip(reason)


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, for one test module (skips or fails as above)."""
    executable = require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class WatchedPage:
    """A page and what it did behind the scenes: every request, dialog and script error, so a
    test can check that it fetched nothing from outside, opened no dialog and broke no script
    or Content-Security-Policy."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def watch(self, *, console_errors: bool = False) -> None:
        """Start recording; ``console_errors``: every console error counts, not only CSP's."""

        def on_request(request: Request) -> None:
            self.requests.append(request.url)

        async def on_dialog(dialog: Dialog) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or (
                console_errors and message.type == "error"
            ):
                self.script_errors.append(message.text)

        def on_page_error(error: Error) -> None:
            self.script_errors.append(str(error))

        self.page.on("request", on_request)
        self.page.on("dialog", on_dialog)
        self.page.on("console", on_console)
        self.page.on("pageerror", on_page_error)

    def outside_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.origin + "/")]
