"""dom.js, which every page builds its DOM with, run in the browser: text stays text, and no
attribute can carry script or send the browser to another site."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import PageLog

pytestmark = pytest.mark.browser

BUILD = """async ([tag, props, text]) => {
  const { h } = await import("/static/dom.js");
  try { return { html: h(tag, props, text).outerHTML }; } catch (error) { return { refused: error.message }; }
}"""


@pytest.fixture
def page_with_dom(page: Page, page_log: PageLog) -> Page:
    page.goto("/sign-in")
    page.get_by_role("button", name="Sign in").wait_for()
    return page


def build(page: Page, tag: str, props: dict, text: str = "") -> dict:
    return page.evaluate(BUILD, [tag, props, text])


def test_text_is_text(page_with_dom: Page) -> None:
    built = build(page_with_dom, "p", {"title": '"><img src=x onerror=alert(1)>'}, "<script>alert(2)</script>")
    assert built["html"] == ('<p title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">'
                             "&lt;script&gt;alert(2)&lt;/script&gt;</p>")


@pytest.mark.parametrize("url", ["/sessions/1", "/api/v1/sessions/1/transcript?format=srt", "?page=2", "#main", ""])
def test_links_into_this_server_are_kept(page_with_dom: Page, url: str) -> None:
    assert build(page_with_dom, "a", {"href": url})["html"] == f'<a href="{url}"></a>'


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://evil.example/", "//evil.example", "/\\evil.example",
                                 "/\t/evil.example", " javascript:alert(1)", "data:text/html,<b>"])
def test_links_elsewhere_are_refused(page_with_dom: Page, url: str) -> None:
    assert "must be a path on this server" in build(page_with_dom, "a", {"href": url}).get("refused", "")
    assert "must be a path on this server" in build(page_with_dom, "img", {"src": url}).get("refused", "")


def test_a_handler_must_be_a_function_not_a_string(page_with_dom: Page) -> None:
    assert build(page_with_dom, "button", {"onclick": "alert(1)"}) == {"refused": "onclick must be a function"}
