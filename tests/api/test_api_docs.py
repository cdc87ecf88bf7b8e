"""The API reference page names only the app's own assets, and the app serves them (the browser test in
tests/browser proves the page then renders; this one runs everywhere, Chromium or not)."""

from __future__ import annotations

import re

from tests.api.conftest import Api


class TestTheDocsPageNeedsNoOtherHost:
    async def test_docs_loads_swagger_ui_from_the_app(self, api: Api) -> None:
        page = await api.client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sorted(sources) == ["/docs-assets/favicon.png", "/docs-assets/swagger-ui-bundle.js",
                                   "/docs-assets/swagger-ui.css"]
        assert "https://" not in page.text
        assert "http://" not in page.text
        assert '"validatorUrl": null' in page.text
        assert "url: '/openapi.json'" in page.text

    async def test_the_app_serves_the_assets_it_names(self, api: Api) -> None:
        script = await api.client.get("/docs-assets/swagger-ui-bundle.js")
        assert script.status_code == 200
        assert "SwaggerUIBundle" in script.text
        style = await api.client.get("/docs-assets/swagger-ui.css")
        assert style.status_code == 200
        assert ".swagger-ui" in style.text
        assert (await api.client.get("/docs-assets/favicon.png")).content.startswith(b"\x89PNG")

    async def test_there_is_no_cdn_backed_page_left(self, api: Api) -> None:
        assert (await api.client.get("/redoc")).status_code == 404
        assert "/docs" not in (await api.client.get("/openapi.json")).json()["paths"]
