"""Swagger UI (/docs) and ReDoc (/redoc) from assets shipped in a Python package.

FastAPI's own pages load their scripts from a CDN, so they are blank on a machine
without internet, as many of a city's networks are. The assets come from the
``fastapi-offline`` package (only its files, not its app class) and are served here.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
PREFIX = "/static/api-docs"
# ReDoc's bundle fetches its maker's logo from cdn.redoc.ly for the footer: the policy keeps the
# browser from asking anything of another host, so nothing leaves a network without internet.
ONLY_THIS_SERVER = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
    "font-src 'self' data:; connect-src 'self'"
}


def install(app: FastAPI) -> None:
    """Serve /docs and /redoc (the app must be made with docs_url=None, redoc_url=None)."""
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="api-docs-assets")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/favicon.png",
        )
        page.headers.update(ONLY_THIS_SERVER)
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{PREFIX}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(ONLY_THIS_SERVER)
        return page
