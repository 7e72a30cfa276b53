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
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

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
