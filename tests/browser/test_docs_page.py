"""`/docs` renders in a real browser with nothing but the app to talk to: every script, stylesheet and icon comes
from the app itself, so the page works offline and behind a firewall."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Request

RENDER_MS = 20_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def non_local(urls: list[str]) -> list[str]:
    """Requests that left the machine (data: and blob: URLs never do)."""
    return [url for url in urls if urlsplit(url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(url).hostname not in LOCAL_HOSTS]


async def opened(browser: Browser, url: str) -> tuple[Page, list[str], list[str]]:
    """The page at `url` with every request it made and every request that failed, recorded from the start."""
    page = await browser.new_page()
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    def failure(request: Request) -> None:
        failed.append(f"{request.url}: {request.failure}")

    page.on("requestfailed", failure)
    response = await page.goto(url)
    assert response is not None
    assert response.status == 200
    return page, requests, failed


class TestTheApiReferenceWorksOffline:
    async def test_swagger_ui_renders_the_operations_from_local_assets(self, browser: Browser, served_app: str,
                                                                       tmp_path: Path) -> None:
        page, requests, failed = await opened(browser, f"{served_app}/docs")
        await page.wait_for_selector(".opblock", timeout=RENDER_MS)
        plans = page.locator(".opblock-summary-path", has_text="/plans").first
        await plans.wait_for(state="visible", timeout=RENDER_MS)
        assert await page.locator(".opblock").count() > 20
        assert "SmartPlans" in await page.locator(".information-container .title").inner_text()
        await page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)

        assert f"{served_app}/docs-assets/swagger-ui-bundle.js" in requests
        assert f"{served_app}/docs-assets/swagger-ui.css" in requests
        assert f"{served_app}/openapi.json" in requests
        assert non_local(requests) == []
        assert failed == []

    def test_the_filter_knows_local_from_remote(self) -> None:
        assert non_local(["http://127.0.0.1:8000/docs", "data:image/png;base64,xx", "http://localhost/x"]) == []
        assert non_local(["https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"]) == [
            "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"]
