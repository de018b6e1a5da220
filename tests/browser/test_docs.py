"""The API's own documentation pages render in a real browser with no request leaving the server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageLog

pytestmark = pytest.mark.browser


def test_swagger_ui_lists_the_operations_offline(page: Page, page_log: PageLog, tmp_path: Path) -> None:
    page.goto("/docs")
    expect(page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/sessions$")).first).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("Coaching Transcript")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=tmp_path / "docs.png", full_page=True)
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()


def test_redoc_renders_offline(page: Page, page_log: PageLog, tmp_path: Path) -> None:
    page.goto("/redoc")
    expect(page.locator("h1", has_text="Coaching Transcript")).to_be_visible()
    expect(page.get_by_role("menuitem").filter(has_text="sessions").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=tmp_path / "redoc.png", full_page=True)
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()
