"""Browser tests: the system's Chromium (Debian's `chromium` package) driven by playwright, never a downloaded
browser, against the real app served by uvicorn on a free port.

Without Chromium these tests skip, saying how to get it; under CI (`CI` set, as `.ci/run` runs) they fail instead,
since `.ci/run` installs it and a skip there would hide a broken page.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config import Settings
from tests.serving import served

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MISSING = (f"Chromium is not installed at {CHROMIUM}; the browser tests need it: `sudo apt-get install chromium` "
           "(Debian/Ubuntu). Never `playwright install`: these tests drive the system's browser.")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(MISSING + " CI must install it (.ci/run does).")
        pytest.skip(MISSING)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def served_app(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    """The real app on 127.0.0.1:<free port>; its base URL."""
    settings = Settings(environment="test", smartplans_admin_key="test-admin-key")
    async with served(create_app(settings, temporal=env.client, sessions=sessions)) as base_url:
        yield base_url
