"""Drive Debian's Chromium through Playwright against a real API server, for browser tests.

Playwright's own browser download is not reachable here, so Chromium is launched from
CHROMIUM_PATH (default: the first of chromium, chromium-browser on PATH). One browser and one
API server serve the whole run; each test gets a fresh context, so cookies and storage do not
leak between tests. Every request a page makes is recorded, requests to another origin are
refused, and a test ends with the check that none was made: the app must work offline.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, sync_playwright

from tests.e2e.conftest import start_api, start_worker

LOCAL_SCHEMES = ("data", "blob", "about")
PASSWORD = "a coach's long password"
MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # small, so a test can offer a larger file
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "coaching_conversation.mp3"


def chromium_path() -> str | None:
    """The Chromium to launch: CHROMIUM_PATH, else the first Chromium on PATH."""
    if os.environ.get("CHROMIUM_PATH"):
        return os.environ["CHROMIUM_PATH"]
    return shutil.which("chromium") or shutil.which("chromium-browser")


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class PageLog:
    """What a page did: every request's URL and every console error or uncaught exception."""

    def __init__(self, server_url: str):
        self.server_origin = origin(server_url)
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.origin_checked = False
        self.tolerated: set[str] = set()  # known foreign requests a test names, each with its xfail

    def record_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def record_console(self, message: ConsoleMessage) -> None:
        source = message.location.get("url", "")
        if message.type == "error" and source not in self.tolerated:
            self.console_errors.append(f"{message.text} ({source})")

    def record_exception(self, error: Exception) -> None:
        self.console_errors.append(f"uncaught: {error}")

    def is_local(self, url: str) -> bool:
        return urlsplit(url).scheme in LOCAL_SCHEMES or origin(url) == self.server_origin

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not self.is_local(url) and url not in self.tolerated]

    def assert_same_origin(self) -> None:
        self.origin_checked = True
        assert self.requests, "the page made no request at all"
        assert not self.foreign_requests(), f"requests left {self.server_origin}: {self.foreign_requests()}"

    def assert_no_console_errors(self) -> None:
        assert not self.console_errors, self.console_errors


@pytest.fixture(scope="session", autouse=True)
def _backends(backends) -> None:
    """The API server these tests start shares the run's database and Redis (tests/conftest.py)."""


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real API server (uvicorn) on a free port, for the whole run."""
    api, url = start_api(tmp_path_factory.mktemp("browser-api"), MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES))
    yield url
    api.stop()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary; without one the tests skip, except under CI, where they fail."""
    executable = chromium_path()
    if executable is None or not Path(executable).exists():
        message = f"no Chromium found (CHROMIUM_PATH={os.environ.get('CHROMIUM_PATH', '')!r}, PATH)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: .ci/run installs Debian's chromium package")
        pytest.skip(f"{message}: apt-get install chromium, or set CHROMIUM_PATH")
    return executable


# Package scope, not session: Playwright's sync API runs an event loop in this thread until it
# stops, and tests collected after this package call asyncio.run().
@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page_log(server_url: str) -> PageLog:
    return PageLog(server_url)


@pytest.fixture(scope="package")
def worker(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A real Celery worker (the seed's command) on the run's broker, for the pages that upload,
    with the real engine and speaker separation: the pages show what a coach would see."""
    process = start_worker(tmp_path_factory.mktemp("browser-worker"), STT_PROVIDER="whisper",
                           DIARIZATION_ENABLED="true")
    yield
    process.stop()


@dataclass
class Account:
    email: str
    password: str
    api_key: str


def make_account() -> Account:
    """A user with a password (and an API key, for setting up data through the API)."""
    from coaching_assistant.core.database import new_session
    from coaching_assistant.services.users import create_user

    email = f"coach-{uuid.uuid4().hex[:8]}@example.com"
    with new_session() as db:
        _, key = create_user(db, email=email, password=PASSWORD)
    return Account(email, PASSWORD, key)


@pytest.fixture
def account(server_url: str) -> Account:
    return make_account()


def new_context(browser: Browser, server_url: str, page_log: PageLog, **options) -> BrowserContext:
    """A fresh context (no cookies) whose relative URLs go to the server; off-origin requests are
    recorded and refused."""
    options.setdefault("viewport", {"width": 1280, "height": 800})
    context = browser.new_context(base_url=server_url, **options)
    context.on("request", page_log.record_request)
    context.route(lambda url: not page_log.is_local(url), lambda route: route.abort())
    return context


def sign_in(page: Page, account: Account) -> None:
    """Sign in through the sign-in page, as a coach would, and wait for the sessions list."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/")


def wait_until(page: Page, expression: str, timeout: float = 30) -> None:
    """Wait until a JavaScript expression is true in the page. (Playwright's wait_for_function
    polls with eval() inside the page, which the app's Content-Security-Policy refuses; an
    evaluate() from here is not subject to it.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)


@pytest.fixture
def page(browser: Browser, server_url: str, page_log: PageLog) -> Iterator[Page]:
    """A page in a fresh context; off-origin requests fail the test at its end unless it checked
    them itself."""
    context = new_context(browser, server_url, page_log)
    opened = context.new_page()
    opened.on("console", page_log.record_console)
    opened.on("pageerror", page_log.record_exception)
    yield opened
    context.close()
    if not page_log.origin_checked:
        page_log.assert_same_origin()


@pytest.fixture
def signed_in(page: Page, account: Account) -> Page:
    """The page, signed in as `account` through the sign-in page."""
    sign_in(page, account)
    return page
