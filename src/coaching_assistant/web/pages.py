"""The web app's pages and assets.

Every page path answers the same HTML shell (shell.html); the page itself is built in the browser
by static/app.js from the /api/v1 answers, with the session cookie (api/auth.py). The shell's
language is the `ca_lang` cookie the page's language switch sets, else the browser's
Accept-Language: Traditional Chinese for any Chinese, else English.

Pages carry a strict Content-Security-Policy: scripts, styles, media and requests only from this
server, no inline script or style, no plugins, no framing. The assets are answered with
`Cache-Control: no-cache`: a browser keeps them, and asks (ETag) whether they changed.
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

STATIC_DIR = Path(__file__).parent / "static"
SHELL = Template((Path(__file__).parent / "shell.html").read_text())
LANGUAGES = ("en", "zh-TW")
LANGUAGE_COOKIE = "ca_lang"
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "media-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
])
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
# The paths app.js knows; anything else under / stays a 404 (JSON, like the API's).
PAGE_PATHS = ("/", "/sign-in", "/sessions/new", "/sessions/{session_id}", "/settings")

router = APIRouter(include_in_schema=False)


def language_of(request: Request) -> str:
    """en or zh-TW: the language switch's cookie, else the first of the browser's languages
    (by q) that we have."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return preferred_language(request.headers.get("accept-language", ""))


def preferred_language(accept_language: str) -> str:
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, position, tag.strip().lower()))
    for quality, _, tag in sorted(ranked):
        if quality == 0:
            break
        if tag == "zh" or tag.startswith(("zh-", "cmn", "yue")):
            return "zh-TW"
        if tag == "en" or tag.startswith("en-") or tag == "*":
            return "en"
    return "en"


def _page(request: Request) -> Response:
    return HTMLResponse(SHELL.substitute(lang=language_of(request)),
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache", "Vary": "Cookie, Accept-Language"})


for _path in PAGE_PATHS:
    router.add_api_route(_path, _page, methods=["GET"], response_class=HTMLResponse)


class WebAssets(StaticFiles):
    """The web app's own files: revalidated on every use, never sniffed as another type."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update({**SECURITY_HEADERS, "Cache-Control": "no-cache"})
        return response


def assets() -> WebAssets:
    return WebAssets(directory=STATIC_DIR)
