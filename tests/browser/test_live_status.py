"""The pages follow a session through its event stream (GET …/events), and through the status
long-poll when the stream is refused."""

from __future__ import annotations

import re
import uuid
from contextlib import ExitStack

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Account, PageLog
from tests.helpers import wav_bytes

pytestmark = pytest.mark.browser
EVENT_STREAMS_PER_USER = 4  # USER_MAX_EVENT_STREAMS's default


def queued_session(server_url: str, account: Account, title: str) -> str:
    """A session waiting for a worker that never comes: queued without a message in the broker, so
    it stays `pending` until the test changes it."""
    from coaching_assistant.core.config import get_settings
    from coaching_assistant.core.database import session_scope
    from coaching_assistant.services import session_state, storage

    with httpx.Client(base_url=server_url, headers={"Authorization": f"Bearer {account.api_key}"}) as client:
        sid = client.post("/api/v1/sessions", json={"title": title, "language": "en-US"}).json()["id"]
    settings = get_settings()
    audio = wav_bytes(5)
    received = storage.incoming_dir(settings) / f"{uuid.uuid4().hex}.part"
    received.write_bytes(audio)
    uri = storage.store(settings, temp_path=received, session_id=uuid.UUID(sid), extension="wav")
    with session_scope() as db:
        assert session_state.queue_upload(db, uuid.UUID(sid), audio_uri=uri, audio_filename="talk.wav",
                                          audio_size_bytes=len(audio), duration_seconds=5.0)
    return sid


def cancel(server_url: str, account: Account, sid: str) -> None:
    answer = httpx.post(f"{server_url}/api/v1/sessions/{sid}/cancel",
                        headers={"Authorization": f"Bearer {account.api_key}"})
    assert answer.status_code == 200, answer.text


def test_the_transcript_page_follows_the_event_stream(signed_in: Page, page_log: PageLog, server_url: str,
                                                      account: Account) -> None:
    page = signed_in
    sid = queued_session(server_url, account, "Streamed")
    page.goto(f"/sessions/{sid}")
    expect(page.locator(".transcript-status .stage-line .percent")).to_have_text("0 %")
    expect(page.locator(".transcript-status .stage-line .stage")).to_have_text("Queued for transcription")
    cancel(server_url, account, sid)  # elsewhere (another tab, a script): the page hears of it
    expect(page.locator(".transcript-status .notice.info")).to_contain_text("The transcription was cancelled.",
                                                                          timeout=15_000)
    expect(page.locator(".status.cancelled")).to_have_text("Cancelled")
    assert f"{server_url}/api/v1/sessions/{sid}/events" in page_log.requests, page_log.requests
    assert not [url for url in page_log.requests if "/status?wait=" in url]
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()


def test_the_list_long_polls_when_the_event_streams_are_refused(signed_in: Page, page_log: PageLog,
                                                              server_url: str, account: Account) -> None:
    page = signed_in
    sid = queued_session(server_url, account, "Polled")
    elsewhere = queued_session(server_url, account, "Held elsewhere")
    with ExitStack() as held, httpx.Client(base_url=server_url, timeout=30,
                                           headers={"Authorization": f"Bearer {account.api_key}"}) as client:
        # every event stream the user may have, open in "another tab": the page's is refused (429)
        for _ in range(EVENT_STREAMS_PER_USER):
            assert held.enter_context(client.stream("GET", f"/api/v1/sessions/{elsewhere}/events")).status_code == 200
        with page.expect_request(re.compile(rf"/api/v1/sessions/{sid}/status\?wait=")):
            page.reload()
        badge = page.locator(f"tr[data-id='{sid}'] .status")
        expect(badge).to_have_text("Queued")
        cancel(server_url, account, sid)
        expect(badge).to_have_text("Cancelled", timeout=30_000)  # the long-poll's wait ends within 20 s
    assert f"{server_url}/api/v1/sessions/{sid}/events" in page_log.requests  # tried first
    page_log.assert_same_origin()
