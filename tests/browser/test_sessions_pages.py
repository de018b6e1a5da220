"""The sessions list (/) and the new-session page (/sessions/new) in a real browser: the empty
state, an upload followed live to the transcript, titles shown as text, refusals in words with
nothing left behind, search, the status filter and pages kept in the URL."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FIXTURE, MAX_UPLOAD_BYTES, Account, PageLog, new_context, sign_in

pytestmark = pytest.mark.browser

XSS_TITLE = "<img src=x onerror=alert(1)><script>alert(2)</script>"
# Chromium logs every 4xx answer to fetch/XHR as a console error; the refusals are such answers.
REFUSED_REQUEST = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d ")


def api(server_url: str, account: Account) -> httpx.Client:
    return httpx.Client(base_url=server_url, headers={"Authorization": f"Bearer {account.api_key}"}, timeout=30)


def create_sessions(server_url: str, account: Account, titles: list[str]) -> list[str]:
    with api(server_url, account) as client:
        ids = []
        for title in titles:
            response = client.post("/api/v1/sessions", json={"title": title, "language": "en-US"})
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids


def session_titles(server_url: str, account: Account) -> list[str]:
    with api(server_url, account) as client:
        body = client.get("/api/v1/sessions", params={"page_size": 100}).json()
    return [item["title"] for item in body["items"]]


def set_status(session_id: str, status: str, code: str | None = None, message: str | None = None) -> None:
    """Put a session in a state no request reaches quickly (setup only)."""
    import uuid

    from sqlalchemy import update

    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:
        db.execute(update(CoachingSession).where(CoachingSession.id == uuid.UUID(session_id))
                   .values(status=status, error_code=code, error_message=message))
        db.commit()


def list_rows(page: Page):
    return page.locator("table.sessions tbody tr")


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_a_new_account_sees_how_to_start(signed_in: Page, page_log: PageLog) -> None:
    page = signed_in
    main = page.locator("main")
    expect(main.get_by_role("heading", name="No sessions yet")).to_be_visible()
    expect(main.get_by_role("link", name="New session")).to_have_count(2)  # the page's button and the empty state's
    expect(main.get_by_text("coaching-assistant transcribe FILE")).to_be_visible()
    expect(main.get_by_role("link", name="Settings")).to_have_attribute("href", "/settings")
    main.get_by_role("link", name="New session").last.click()
    page.wait_for_url("**/sessions/new")
    expect(page.get_by_label("Audio file")).to_be_attached()
    page_log.assert_no_console_errors()


def test_upload_the_fixture_and_follow_it_to_the_transcript(worker, signed_in: Page, page_log: PageLog,
                                                           server_url: str, account: Account) -> None:
    page = signed_in
    page.get_by_role("link", name="New session").first.click()
    page.wait_for_url("**/sessions/new")
    seen: list[tuple[str, str]] = []
    page.expose_function("recordProgress", lambda kind, text: seen.append((kind, text)))
    # A slow uplink, so the byte progress has steps to show (the fixture is 272 KB: about 2 s).
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": 150_000})
    page.evaluate("""() => new MutationObserver(() => {
        for (const [kind, selector] of [["bytes", ".progress-area .bytes"], ["percent", ".stage-line .percent"],
                                        ["stage", ".stage-line .stage"]]) {
          const element = document.querySelector(selector);
          if (element) window.recordProgress(kind, element.textContent);
        }
      }).observe(document.getElementById("app"), {subtree: true, childList: true, characterData: true})""")
    page.get_by_label("Title").fill("Weekly coaching with Ana")
    page.get_by_label("Audio file").set_input_files(FIXTURE)
    expect(page.get_by_text("coaching_conversation.mp3 (272.1 KB)")).to_be_visible()
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="Uploading coaching_conversation.mp3")).to_be_visible()
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"), timeout=120_000)

    byte_steps = [text for kind, text in seen if kind == "bytes" and " of " in text]
    assert byte_steps and byte_steps[-1] == "272.1 KB of 272.1 KB", seen
    assert any(re.fullmatch(r"\d+(\.\d)? KB of 272.1 KB", text) and not text.startswith("272.1") for text in byte_steps)
    percents = [int(text.rstrip(" %")) for kind, text in seen if kind == "percent"]
    assert percents[-1] == 100 and percents == sorted(percents), seen
    assert {"Transcription complete"} <= {text for kind, text in seen if kind == "stage"}, seen
    session_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    with api(server_url, account) as client:
        assert client.get(f"/api/v1/sessions/{session_id}").json()["status"] == "completed"

    page.goto("/")
    row = list_rows(page).filter(has_text="Weekly coaching with Ana")
    expect(row.locator(".status")).to_have_text("Completed")
    expect(row.locator("td.length")).to_have_text(re.compile(r"^0:4\d$"))
    page_log.assert_no_console_errors()


def test_the_list_follows_a_transcription_live(worker, signed_in: Page, page_log: PageLog, server_url: str,
                                               account: Account) -> None:
    page = signed_in
    [session_id] = create_sessions(server_url, account, ["Live one"])
    badges: list[str] = []
    page.expose_function("recordBadge", lambda text: badges.append(text))
    with api(server_url, account) as client:
        # Eight times the fixture (MP3 frames run on): long enough to be caught transcribing.
        uploaded = client.post(f"/api/v1/sessions/{session_id}/audio",
                               files={"file": ("talk.mp3", FIXTURE.read_bytes() * 8, "audio/mpeg")})
        assert uploaded.status_code == 202, uploaded.text
    page.reload()
    badge = list_rows(page).filter(has_text="Live one").locator(".status")
    expect(badge).to_have_text(re.compile(r"^(Queued|Transcribing \d+ %)$"))
    badges.append(badge.text_content() or "")
    badge.evaluate("""(element) => new MutationObserver(() => {
        const now = document.querySelector("tr[data-id] .status");
        if (now) window.recordBadge(now.textContent);
      }).observe(document.querySelector("table.sessions tbody"),
                 {subtree: true, childList: true, characterData: true})""")
    expect(badge).to_have_text("Completed", timeout=180_000)  # no reload: the row followed it
    percents = [int(text.split()[1]) for text in badges if text.startswith("Transcribing")]
    assert percents and percents == sorted(percents) and badges[-1] == "Completed", badges
    expect(list_rows(page).filter(has_text="Live one").locator("td.length")).to_have_text(re.compile(r"^6:1\d$"))
    page_log.assert_no_console_errors()


def test_a_title_with_markup_shows_as_typed(signed_in: Page, page_log: PageLog, server_url: str,
                                            account: Account) -> None:
    page = signed_in
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    create_sessions(server_url, account, [XSS_TITLE])
    page.reload()
    link = page.get_by_role("link", name=XSS_TITLE, exact=True)
    expect(link).to_be_visible()
    expect(link).to_have_text(XSS_TITLE)
    assert page.locator("main img, main script").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []
    page_log.assert_no_console_errors()


def test_missing_fields_and_an_unsupported_file_are_refused_before_anything_is_created(
        signed_in: Page, page_log: PageLog, server_url: str, account: Account) -> None:
    page = signed_in
    page.goto("/sessions/new")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_have_text("Give the session a title.")
    expect(page.get_by_label("Title")).to_be_focused()
    page.get_by_label("Title").fill("Notes, not audio")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_have_text("Choose the audio file to transcribe.")
    page.get_by_label("Audio file").set_input_files({"name": "notes.txt", "mimeType": "text/plain",
                                                     "buffer": b"coach: hello\nclient: hi\n"})
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_have_text(
        "“notes.txt” is not a supported audio file. Choose a flac, m4a, mp3, ogg, wav, or webm file.")
    # over the server's MAX_UPLOAD_BYTES (8 MiB here, tests/browser/conftest.py), which it would
    # refuse by closing the connection mid-upload: said in words before a byte is sent
    page.get_by_label("Audio file").set_input_files({"name": "long.wav", "mimeType": "audio/wav",
                                                     "buffer": bytes(9 * 1024 * 1024)})
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_have_text("“long.wav” is 9 MB; this server accepts files up to 8 MB.")
    page.wait_for_timeout(300)
    assert not [url for url in page_log.requests if url.endswith("/api/v1/sessions")]  # never asked
    assert session_titles(server_url, account) == []
    page_log.assert_no_console_errors()


@pytest.mark.parametrize("locale, expected", [
    ("en-US", "The upload did not go through: The file is not valid MP3 audio or could not be decoded."),
    ("zh-TW", "上傳未完成：無法讀取這個檔案的音訊，檔案可能已損毀。"),
])
def test_a_broken_file_is_refused_by_the_server_and_its_session_deleted(
        browser, server_url: str, page_log: PageLog, account: Account, locale: str, expected: str) -> None:
    context = new_context(browser, server_url, page_log, locale=locale)
    page = context.new_page()
    page.on("console", page_log.record_console)
    page.on("pageerror", page_log.record_exception)
    try:
        sign_in(page, account)
        page.goto("/sessions/new")
        page.locator("#session-title").fill("Broken recording")  # in zh-TW its label is 標題 alone (not a hook)
        page.get_by_label("Audio file").set_input_files({"name": "broken.mp3", "mimeType": "audio/mpeg",
                                                         "buffer": os.urandom(64 * 1024)})
        page.get_by_role("button", name="Upload").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(expected)
        # Back at the form, ready for another file; the session the page created is gone.
        expect(page.get_by_role("button", name="Upload")).to_be_enabled()
        assert any(re.search(r"/api/v1/sessions/[0-9a-f-]{36}/audio$", url) for url in page_log.requests)
        assert session_titles(server_url, account) == []
    finally:
        context.close()
    page_log.assert_same_origin()
    assert all(REFUSED_REQUEST.match(error) for error in page_log.console_errors), page_log.console_errors


def test_search_and_status_filter_narrow_the_list_and_stay_in_the_url(
        signed_in: Page, page_log: PageLog, server_url: str, account: Account) -> None:
    page = signed_in
    ids = create_sessions(server_url, account, ["Weekly Ana", "weekly Ben", "Intake Carl", "100% honest"])
    set_status(ids[1], "failed", "undecodable_audio", "The file is not valid MP3 audio or could not be decoded.")
    page.reload()
    expect(list_rows(page)).to_have_count(4)
    expect(list_rows(page).filter(has_text="weekly Ben").locator(".status")).to_have_text("Failed")

    page.get_by_label("Search by title").fill("WEEKLY")
    expect(list_rows(page)).to_have_count(2)
    assert query_of(page) == {"q": ["WEEKLY"]}
    page.get_by_label("Status").select_option("failed")
    expect(list_rows(page)).to_have_count(1)
    expect(list_rows(page).first).to_contain_text("weekly Ben")
    expect(list_rows(page).first).to_contain_text("not valid MP3 audio")
    assert query_of(page) == {"q": ["WEEKLY"], "status": ["failed"]}

    page.reload()  # the URL holds the state
    expect(page.get_by_label("Search by title")).to_have_value("WEEKLY")
    expect(page.get_by_label("Status")).to_have_value("failed")
    expect(list_rows(page)).to_have_count(1)
    page.go_back()  # before the status was chosen
    expect(list_rows(page)).to_have_count(2)
    expect(page.get_by_label("Status")).to_have_value("")

    page.get_by_label("Search by title").fill("%")  # literal, not a wildcard
    expect(list_rows(page)).to_have_count(1)
    expect(list_rows(page).first).to_contain_text("100% honest")
    page.get_by_label("Search by title").fill("nothing like it")
    expect(page.get_by_role("heading", name="No sessions match")).to_be_visible()
    expect(page.get_by_text("No session title contains “nothing like it”.")).to_be_visible()
    page.get_by_role("button", name="Show all sessions").click()
    expect(list_rows(page)).to_have_count(4)
    expect(page.get_by_label("Search by title")).to_have_value("")
    page_log.assert_no_console_errors()


def test_more_than_a_page_of_sessions_is_paged(signed_in: Page, page_log: PageLog, server_url: str,
                                                account: Account) -> None:
    page = signed_in
    create_sessions(server_url, account, [f"Session {n:02d}" for n in range(1, 24)])
    page.reload()
    expect(list_rows(page)).to_have_count(20)
    expect(page.get_by_text("23 sessions")).to_be_visible()
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    expect(list_rows(page).first).to_contain_text("Session 23")  # newest first
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(list_rows(page)).to_have_count(3)
    expect(page.locator("table.sessions")).to_be_focused()  # the new page's table, not the one it replaced
    expect(list_rows(page).last).to_contain_text("Session 01")
    assert query_of(page) == {"page": ["2"]}
    page.reload()
    expect(list_rows(page)).to_have_count(3)
    page.go_back()
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    expect(list_rows(page)).to_have_count(20)
    page.goto("/?page=9")  # past the end: the last page
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    assert query_of(page) == {"page": ["2"]}
    page_log.assert_no_console_errors()


def slow_uplink(page: Page, bytes_per_second: int) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": bytes_per_second})


def test_leaving_the_page_mid_upload_leaves_no_session_behind(signed_in: Page, page_log: PageLog,
                                                              server_url: str, account: Account) -> None:
    page = signed_in
    page.goto("/sessions/new")
    page.on("dialog", lambda dialog: dialog.accept())  # "the upload will stop if you leave": leave
    slow_uplink(page, 200_000)  # 7 MB at 200 KB/s: half a minute, long enough to leave during it
    page.get_by_label("Title").fill("Left mid-upload")
    page.get_by_label("Audio file").set_input_files({"name": "long.wav", "mimeType": "audio/wav",
                                                     "buffer": bytes(MAX_UPLOAD_BYTES - 1024 * 1024)})
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".progress-area .bytes")).to_have_text(re.compile(r"^[1-9][\d.]* [KM]B of 7 MB$"))
    assert session_titles(server_url, account) == ["Left mid-upload"]  # created, waiting for its audio
    page.goto("/")
    expect(list_rows(page).or_(page.get_by_role("heading", name="No sessions yet"))).to_be_visible()
    for _ in range(100):
        if not session_titles(server_url, account):
            break
        page.wait_for_timeout(100)
    assert session_titles(server_url, account) == []
    page_log.assert_no_console_errors()


def test_a_session_that_could_not_be_deleted_is_said_not_hidden(signed_in: Page, page_log: PageLog,
                                                                server_url: str, account: Account) -> None:
    page = signed_in
    page.goto("/sessions/new")
    page.route(re.compile(r"/api/v1/sessions/[0-9a-f-]{36}$"), lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"code": "database_unavailable", "message": "The database is unavailable; try again shortly."}'))
    page.get_by_label("Title").fill("Broken and kept")
    page.get_by_label("Audio file").set_input_files({"name": "broken.mp3", "mimeType": "audio/mpeg",
                                                     "buffer": os.urandom(64 * 1024)})
    page.get_by_role("button", name="Upload").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The session “Broken and kept” it created could not be deleted: "
                                  "The database is unavailable; try again shortly. Delete it from the sessions list.")
    expect(alert).not_to_contain_text("Nothing was kept")
    assert session_titles(server_url, account) == ["Broken and kept"]  # as the page says
    assert all(REFUSED_REQUEST.match(error) or "status of 503" in error for error in page_log.console_errors)


DROP = """([selector, name]) => {
    const data = new DataTransfer();
    data.items.add(new File(["RIFF"], name, {type: "audio/wav"}));
    const target = document.querySelector(selector);
    const options = {bubbles: true, cancelable: true, dataTransfer: data};
    target.dispatchEvent(new DragEvent("dragenter", options));
    const over = new DragEvent("dragover", options);
    target.dispatchEvent(over);
    const drop = new DragEvent("drop", options);
    target.dispatchEvent(drop);
    return [over.defaultPrevented, drop.defaultPrevented];
}"""


def test_a_file_dropped_beside_the_drop_zone_is_not_opened_by_the_browser(signed_in: Page, page_log: PageLog) -> None:
    page = signed_in
    page.goto("/sessions/new")
    page.get_by_label("Title").fill("Kept while dropping")
    # Beside the zone: the browser's default (open the file, losing the form) is prevented.
    assert page.evaluate(DROP, ["h1", "beside.wav"]) == [True, True]
    expect(page.locator(".chosen")).to_have_text("")
    # On the zone: the file is taken.
    assert page.evaluate(DROP, [".drop-zone", "dropped.wav"]) == [True, True]
    expect(page.locator(".chosen")).to_have_text("dropped.wav (4 B)")
    expect(page.get_by_label("Title")).to_have_value("Kept while dropping")
    page_log.assert_no_console_errors()


def test_cancelling_a_transcription_and_deleting_it_ask_first(worker, signed_in: Page, page_log: PageLog,
                                                             server_url: str, account: Account) -> None:
    page = signed_in
    page.goto("/sessions/new")
    page.get_by_label("Title").fill("Changed my mind")
    # Eight times the fixture (MP3 frames run on): long enough to be cancelled while transcribing.
    page.get_by_label("Audio file").set_input_files({"name": "talk.mp3", "mimeType": "audio/mpeg",
                                                     "buffer": FIXTURE.read_bytes() * 8})
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="Transcribing “Changed my mind”")).to_be_visible(timeout=30_000)
    cancel = page.get_by_role("button", name="Cancel transcription")
    cancel.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Stop transcribing “Changed my mind”?")
    page.keyboard.press("Escape")  # not confirmed: nothing happens
    expect(dialog).to_have_count(0)
    expect(cancel).to_be_enabled()
    assert not [url for url in page_log.requests if url.endswith("/cancel")]
    cancel.click()
    dialog.get_by_role("button", name="Cancel transcription").click()
    expect(page.get_by_text("The transcription was cancelled.")).to_be_visible()

    page.get_by_role("button", name="Delete it").click()
    expect(dialog).to_contain_text("Delete “Changed my mind”? This cannot be undone.")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert session_titles(server_url, account) == ["Changed my mind"]
    page.get_by_role("button", name="Delete it").click()
    dialog.get_by_role("button", name="Delete it").click()
    expect(page.get_by_text("The session was deleted.")).to_be_visible()
    assert session_titles(server_url, account) == []
    page_log.assert_no_console_errors()
