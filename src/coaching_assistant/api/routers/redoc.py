"""GET /redoc: ReDoc without its one call home, so the page works offline and tells no one it was read.

fastapi_offline serves ReDoc's standalone bundle from the package, but that bundle always draws
its "API docs by Redocly" link with an image from cdn.redoc.ly (no option turns it off). This
router serves the page itself, with a copy of the bundle whose image is the package's favicon.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response

REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
OFFLINE_STATIC = "/static-offline-docs"  # where fastapi_offline mounts its files
BUNDLE = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
BUNDLE_URL = "/redoc/redoc.standalone.js"  # not under OFFLINE_STATIC: that mount would answer first

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _bundle() -> bytes:
    return BUNDLE.read_bytes().replace(REDOCLY_LOGO.encode(), f"{OFFLINE_STATIC}/favicon.png".encode())


@router.get("/redoc")
async def redoc_page(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} - ReDoc",
                          redoc_js_url=f"{root}{BUNDLE_URL}", with_google_fonts=False,
                          redoc_favicon_url=f"{root}{OFFLINE_STATIC}/favicon.png")


@router.get(BUNDLE_URL)
async def redoc_bundle() -> Response:
    return Response(_bundle(), media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
