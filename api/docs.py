"""The API reference page, `/docs` (Swagger UI), working without internet.

FastAPI's own page loads Swagger UI from a CDN, so behind a firewall or offline `/docs` is blank. The script,
stylesheet and icon come instead from the `fastapi-offline` wheel (pinned in pyproject.toml), which ships them as
package data, and are served by the app under `/docs-assets`. Nothing on the page asks another host for anything:
no favicon from fastapi.tiangolo.com, no spec validator badge. There is no `/redoc`: ReDoc's bundle always fetches
its logo from cdn.redoc.ly, and one reference page is enough.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
SWAGGER_JS, SWAGGER_CSS, FAVICON = "swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"
# Swagger UI sends the spec to validator.swagger.io for its badge unless told not to.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def install(app: FastAPI) -> None:
    """Serve `/docs` from local assets; the app must be created with `docs_url=None, redoc_url=None`."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("create the app with docs_url=None, redoc_url=None: FastAPI's pages load from a CDN")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_URL}/{name}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{request.scope.get('root_path', '')}{openapi_url}", title=f"{app.title} - Swagger UI",
            swagger_js_url=asset(request, SWAGGER_JS), swagger_css_url=asset(request, SWAGGER_CSS),
            swagger_favicon_url=asset(request, FAVICON), oauth2_redirect_url=oauth2_redirect_url,
            swagger_ui_parameters={**SWAGGER_PARAMETERS, **(app.swagger_ui_parameters or {})})

    if oauth2_redirect_url:
        @app.get(oauth2_redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()
