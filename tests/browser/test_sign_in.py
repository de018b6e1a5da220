"""Signing in and out, the settings page's API key, and the interface language, in a real browser."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Account, PageLog, new_context, sign_in

pytestmark = pytest.mark.browser


def test_a_page_needs_sign_in_and_returns_to_it(page: Page, account: Account, page_log: PageLog) -> None:
    page.goto("/settings")
    page.wait_for_url("**/sign-in?next=%2Fsettings")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/settings")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    expect(page.get_by_text(account.email).first).to_be_visible()


def test_a_wrong_password_is_said_in_words(page: Page, account: Account, page_log: PageLog) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or the password is wrong.")
    assert page.url.endswith("/sign-in")
    page_log.tolerated.add(f"{page_log.server_origin}/api/v1/auth/sign-in")  # the 401 Chromium logs


def test_sign_out_ends_the_session(signed_in: Page) -> None:
    signed_in.get_by_role("button", name="Sign out").click()
    signed_in.wait_for_url("**/sign-in")
    signed_in.goto("/")
    signed_in.wait_for_url("**/sign-in")


def test_an_api_key_is_created_shown_once_and_revoked(signed_in: Page, account: Account, server_url: str,
                                                      page_log: PageLog) -> None:
    signed_in.goto("/settings")
    signed_in.get_by_role("button", name="Replace API key").click()
    signed_in.get_by_role("dialog").get_by_role("button", name="Replace API key").click()
    key = signed_in.locator("code.secret").inner_text()
    assert httpx.get(f"{server_url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.get(f"{server_url}/api/v1/me",
                     headers={"Authorization": f"Bearer {account.api_key}"}).status_code == 401  # replaced

    signed_in.reload()  # shown once: only its prefix now
    expect(signed_in.locator("code.secret")).to_have_count(0)
    expect(signed_in.get_by_text(f"Your key starts with {key[:8]}")).to_be_visible()

    signed_in.get_by_role("button", name="Revoke API key").click()
    signed_in.get_by_role("dialog").get_by_role("button", name="Revoke API key").click()
    expect(signed_in.get_by_text("You have no API key.")).to_be_visible()
    assert httpx.get(f"{server_url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    page_log.assert_no_console_errors()


def test_a_double_click_issues_one_key_and_copy_works_without_the_clipboard_api(
        signed_in: Page, account: Account, server_url: str, page_log: PageLog) -> None:
    page = signed_in
    issued: list[str] = []
    page.on("request", lambda request: issued.append(request.url)
            if request.method == "POST" and request.url.endswith("/api/v1/me/api-key") else None)
    page.goto("/settings")
    page.get_by_role("button", name="Revoke API key").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke API key").click()
    page.get_by_role("button", name="Create API key").dblclick()
    key_text = page.locator("code.secret")
    expect(key_text).to_be_visible()
    page.wait_for_timeout(500)
    assert len(issued) == 1  # the button waits for its answer: one key, and it is the one shown
    key = key_text.inner_text()
    assert httpx.get(f"{server_url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    expect(page.get_by_role("button", name="Copy")).to_be_focused()

    # Over plain http off localhost there is no navigator.clipboard: the key is selected instead.
    page.evaluate("() => Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined})")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("The key is selected: press Ctrl+C (⌘C on a Mac) to copy it.")).to_be_visible()
    assert page.evaluate("getSelection().toString()") == key
    page_log.assert_no_console_errors()


def test_copy_puts_the_new_key_on_the_clipboard(signed_in: Page, page_log: PageLog) -> None:
    page = signed_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/settings")
    page.get_by_role("button", name="Replace API key").click()
    page.get_by_role("dialog").get_by_role("button", name="Replace API key").click()
    key = page.locator("code.secret").inner_text()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    page_log.assert_no_console_errors()


def test_the_language_follows_the_browser_and_the_switch(browser: Browser, server_url: str, account: Account,
                                                         page_log: PageLog) -> None:
    context = new_context(browser, server_url, page_log, locale="zh-TW")
    page = context.new_page()
    sign_in(page, account)  # the hooks keep their English names beside the Chinese
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="設定")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "zh-TW"

    page.get_by_label("語言").select_option("en")
    expect(nav.get_by_role("link", name="Settings")).to_be_visible()
    page.goto("/settings")  # the choice is kept
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    context.close()
    page_log.assert_same_origin()


def test_pages_run_no_inline_script(page: Page, page_log: PageLog) -> None:
    """The CSP refuses inline script: a page that depended on one would log a violation."""
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto("/sign-in")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
                  " document.body.append(s); }")
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in text for text in violations)
    page_log.console_errors.clear()  # the refused script above is the error this test wanted


@pytest.mark.parametrize(("next_page", "lands_on"), [
    ("/settings?x=1#key", "/settings?x=1#key"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),  # a browser reads a backslash as a slash: //evil.example
    ("https://evil.example/", "/"),
    ("/%09/evil.example", "/%09/evil.example"),  # a path on this server (its page says Not found)
])
def test_sign_in_never_sends_the_browser_to_another_site(page: Page, account: Account, page_log: PageLog,
                                                         next_page: str, lands_on: str) -> None:
    page.goto(f"/sign-in?next={quote(next_page, safe='')}")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{page_log.server_origin}{lands_on}")
    page_log.assert_same_origin()
