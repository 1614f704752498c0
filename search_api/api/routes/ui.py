"""The web UI (``/``, ``/static``) and the API docs (``/docs``, ``/redoc``), served offline.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN, so ``/docs`` was a blank page
without internet. Here their assets come from the ``fastapi-offline`` package, which ships
the Swagger UI 5 and ReDoc bundles, mounted at :data:`DOCS_ASSETS`; the pages reference no
external host (Swagger UI's validator badge, which fetches from one, is switched off).

The UI (``search_api/web/``: ``index.html``, a stylesheet and ES modules, no build step) is
answered with :data:`UI_HEADERS`: a Content-Security-Policy that allows scripts, styles and
requests from this origin only (no inline script or style, no ``eval``, no plugins, no
framing), so even markup that reached the page from stored data could not run. ``/docs`` and
``/redoc`` keep FastAPI's own pages, whose inline bootstrap script such a policy would block.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

#: The UI's static files (served at ``/static``).
WEB = Path(__file__).resolve().parents[2] / "web"
DOCS_ASSETS = "/docs-assets"
_ASSETS = Path(str(files("fastapi_offline") / "static"))
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

#: Scripts, styles, images and fetches from this origin only; no inline code of any kind.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
UI_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)


class WebFiles(StaticFiles):
    """The UI's static files, each answered with :data:`UI_HEADERS`."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(UI_HEADERS)
        return response


@router.get("/")
def index() -> FileResponse:
    """The search page (its state is the query string, see docs/ui.md)."""
    return FileResponse(WEB / "index.html", headers=UI_HEADERS)


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, from local assets."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="NewsSearch API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_ui_parameters={"validatorUrl": None, "displayOperationId": True},
    )


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 helper page (part of its bundle's contract)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc() -> HTMLResponse:
    """ReDoc over ``/openapi.json``, from local assets (no web fonts)."""
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="NewsSearch API",
        redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        with_google_fonts=False,
    )


def install(app: FastAPI) -> None:
    """Add the pages and mount the static files (mounts cannot live on a router)."""
    app.include_router(router)
    app.mount("/static", WebFiles(directory=WEB), name="static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=_ASSETS), name="docs-assets")
