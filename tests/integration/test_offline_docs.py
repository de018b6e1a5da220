"""/docs and /redoc work offline: every script, style, icon and spec they load comes from this server."""

from __future__ import annotations

import re

import pytest

# src="…", href="…", spec-url="…" and Swagger UI's `url: '…'`
REFERENCE = re.compile(r"""(?:\bsrc|\bhref|\bspec-url)\s*=\s*["']([^"']+)["']|\burl:\s*["']([^"']+)["']""")
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


def references(html: str) -> list[str]:
    return [found[0] or found[1] for found in REFERENCE.findall(html)]


@pytest.mark.parametrize("page, expected", [
    ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "openapi.json"}),
    ("/redoc", {"redoc.standalone.js", "favicon.png", "openapi.json"}),
])
def test_the_docs_pages_load_only_from_this_server(client, page, expected):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"https?://|[\"']//", html), "the page names another origin"
    found = references(html)
    assert {url.rsplit("/", 1)[-1] for url in found} >= expected
    for url in found:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
        suffix = "." + url.rsplit(".", 1)[-1]
        assert CONTENT_TYPES[suffix] in asset.headers["content-type"], (url, asset.headers["content-type"])
