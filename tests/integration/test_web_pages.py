"""The web app's pages and assets as the server answers them: the shell in the reader's language,
a strict Content-Security-Policy, revalidated assets, and code that never writes HTML from data."""

from __future__ import annotations

import re

import pytest

from coaching_assistant.web import pages

PAGE_PATHS = ["/", "/sign-in", "/sessions/new", "/sessions/0b6c8a3e-1f7e-4a38-9d55-3c2f1f6f2a11", "/settings"]


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_every_page_is_the_shell_with_a_strict_policy(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/static/app.js">' in response.text
    # no inline script or style in the shell itself: every <script> has a src, no style attributes
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) == []
    assert " style=" not in response.text


@pytest.mark.parametrize(("accept_language", "cookie", "expected"), [
    ("", None, "en"),
    ("en-US,en;q=0.9", None, "en"),
    ("zh-TW,zh;q=0.9,en-US;q=0.8", None, "zh-TW"),
    ("zh-CN", None, "zh-TW"),  # Chinese readers get the Traditional interface, the one there is
    ("fr-FR,fr;q=0.9,zh;q=0.5,en;q=0.4", None, "zh-TW"),
    ("fr-FR,en;q=0.8,zh;q=0.5", None, "en"),
    ("zh;q=0,en", None, "en"),  # q=0 means "not this one"
    ("zh-TW", "en", "en"),  # the switch wins over the browser
    ("en", "zh-TW", "zh-TW"),
    ("en", "klingon", "en"),  # an unknown cookie value is ignored
])
def test_the_language_comes_from_the_switch_then_the_browser(client, accept_language: str, cookie: str | None,
                                                             expected: str) -> None:
    client.cookies.clear()
    if cookie is not None:
        client.cookies.set(pages.LANGUAGE_COOKIE, cookie)
    response = client.get("/", headers={"Accept-Language": accept_language})
    assert f'<html lang="{expected}">' in response.text
    client.cookies.clear()


def test_assets_are_revalidated_and_unknown_paths_are_404(client) -> None:
    asset = client.get("/static/app.js")
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert asset.headers["cache-control"] == "no-cache"
    assert client.get("/static/app.js", headers={"If-None-Match": asset.headers["etag"]}).status_code == 304
    assert client.get("/static/nothing.js").status_code == 404
    assert client.get("/sessions/not-a-page/at-all").status_code == 404
    assert client.get("/static/../pages.py").status_code == 404


def test_scripts_and_pages_are_compressed_for_browsers_that_accept_it(client) -> None:
    plain = client.get("/static/app.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    compressed = client.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.content == plain.content  # httpx decoded it
    assert int(compressed.headers["content-length"]) < len(plain.content) / 2


# Ways to turn a string into markup. None may appear in the web app's code: data is shown as text.
HTML_SINKS = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                        r"setAttribute\(\s*[\"']style|setAttribute\(\s*[\"']on|createContextualFragment")


def test_the_web_app_never_writes_html_from_strings() -> None:
    scripts = sorted(pages.STATIC_DIR.glob("*.js"))
    assert scripts, "no scripts found"
    found = [f"{script.name}:{number}: {line.strip()}" for script in scripts
             for number, line in enumerate(script.read_text().splitlines(), 1) if HTML_SINKS.search(line)]
    assert found == []
