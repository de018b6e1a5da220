"""The transcript page in a real browser: the player and seeking, the keyboard, roles, speaker
names, inline edits with their history and the SRT they end up in, statistics, safe rendering,
live status, downloads for every format the API has, and delete."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from coaching_assistant.services.transcript_export import TRANSCRIPT_FORMATS
from tests.browser.conftest import FIXTURE, Account, PageLog, wait_until

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
VTT = """WEBVTT

00:00:00.500 --> 00:00:03.000
<v Coach>Hi, what would you like to focus on today?

00:00:03.500 --> 00:00:09.000
<v Client>I want to talk about my new role.
"""


@pytest.fixture
def api(server_url: str, account: Account) -> Iterator[httpx.Client]:
    """The API as a script sees it: the account's Bearer key."""
    headers = {"Authorization": f"Bearer {account.api_key}"}
    with httpx.Client(base_url=server_url, headers=headers, timeout=60) as client:
        yield client


def transcribed(api: httpx.Client, *, wait: bool = True, title: str = "Weekly check-in") -> str:
    """A session with the fixture's audio uploaded; with `wait`, transcribed to completion."""
    created = api.post("/api/v1/sessions", json={"title": title, "language": "en-US", "num_speakers": 2})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    uploaded = api.post(f"/api/v1/sessions/{sid}/audio",
                        files={"file": (FIXTURE.name, FIXTURE.read_bytes(), "audio/mpeg")})
    assert uploaded.status_code == 202, uploaded.text
    if wait:
        deadline = time.monotonic() + 240
        status: dict = {}
        while time.monotonic() < deadline:
            status = api.get(f"/api/v1/sessions/{sid}/status",
                             params={"wait": 20, "after": status.get("progress", 0)}).json()
            if status["status"] not in ("pending", "processing"):
                break
        assert status["status"] == "completed", status
    return sid


def transcript(api: httpx.Client, sid: str) -> dict:
    response = api.get(f"/api/v1/sessions/{sid}/transcript")
    assert response.status_code == 200, response.text
    return response.json()


def open_transcript(page: Page, sid: str) -> None:
    page.goto(f"/sessions/{sid}")
    expect(page.locator(".segment").first).to_be_visible(timeout=240_000)
    wait_until(page, "document.querySelector('audio') && document.querySelector('audio').readyState >= 1")


def current_time(page: Page) -> float:
    return page.evaluate("document.querySelector('audio').currentTime")


def test_player_segments_keyboard_downloads_and_stats(signed_in: Page, page_log: PageLog, api, worker) -> None:
    sid = transcribed(api, wait=False)  # the page follows the transcription live, then shows the transcript
    signed_in.goto(f"/sessions/{sid}")
    expect(signed_in.locator(".segment").first).to_be_visible(timeout=240_000)
    wait_until(signed_in, "document.querySelector('audio').readyState >= 1")
    data = transcript(api, sid)

    assert signed_in.locator("audio").count() == 1
    assert signed_in.locator("audio").get_attribute("src") == f"/api/v1/sessions/{sid}/audio"
    segments = signed_in.locator(".segment")
    assert segments.count() == len(data["segments"]) >= 3
    for i, segment in enumerate(data["segments"]):
        item = segments.nth(i)
        assert float(item.get_attribute("data-start")) == pytest.approx(segment["start_seconds"], abs=0.01)
        assert item.get_attribute("data-role") == segment["role"] in ("coach", "client", "unknown")
        expect(item.locator(".speaker")).to_have_text(segment["label"])

    # click a later segment: the audio goes there and plays, and that segment is the current one
    later = len(data["segments"]) * 2 // 3
    start = data["segments"][later]["start_seconds"]
    segments.nth(later).locator(".text").click()
    wait_until(signed_in, "!document.querySelector('audio').paused")
    assert current_time(signed_in) == pytest.approx(start, abs=0.5)
    expect(segments.nth(later)).to_have_attribute("aria-current", "true")
    assert signed_in.locator(".segment[aria-current]").count() == 1

    # keyboard: space pauses and plays from anywhere but a field; arrows move 5 s
    signed_in.evaluate("document.activeElement.blur()")
    signed_in.keyboard.press("Space")
    wait_until(signed_in, "document.querySelector('audio').paused")
    before = current_time(signed_in)
    signed_in.keyboard.press("ArrowRight")
    assert current_time(signed_in) == pytest.approx(before + 5, abs=0.3)
    signed_in.keyboard.press("ArrowLeft")
    signed_in.keyboard.press("ArrowLeft")
    assert current_time(signed_in) == pytest.approx(before - 5, abs=0.3)
    signed_in.keyboard.press("Space")
    wait_until(signed_in, "!document.querySelector('audio').paused")
    signed_in.keyboard.press("Space")
    wait_until(signed_in, "document.querySelector('audio').paused")
    # typing in a field does not play
    signed_in.locator(".speaker-name input").first.focus()
    signed_in.keyboard.press("Space")
    assert signed_in.evaluate("document.querySelector('audio').paused")

    # a download link for every format the API has, and only those
    links = signed_in.locator(".downloads a")
    formats = [links.nth(i).get_attribute("data-format") for i in range(links.count())]
    assert sorted(formats) == sorted(TRANSCRIPT_FORMATS)
    for i, fmt in enumerate(formats):
        assert links.nth(i).get_attribute("href") == f"/api/v1/sessions/{sid}/transcript?format={fmt}"
        assert links.nth(i).get_attribute("download") is not None

    # the talk share chart: one rect per role, as wide as its share, and the shares as text
    shares = data["statistics"]["roles"]
    rects = signed_in.locator(".stats svg rect")
    assert rects.count() == len(shares)
    for i in range(rects.count()):
        role = rects.nth(i).get_attribute("data-role")
        assert float(rects.nth(i).get_attribute("width")) == pytest.approx(shares[role]["talk_share"] * 100, abs=0.01)
    legend = signed_in.locator(".stats .legend").inner_text()
    for role in shares:
        assert f"{round(shares[role]['talk_share'] * 100, 1):g} %" in legend
    expect(signed_in.locator(".stats dl")).to_contain_text("Questions")
    coach = shares["coach"]
    expect(signed_in.locator(".stats dl")).to_contain_text(
        f"Coach: {coach['open_questions']} open, {coach['closed_questions']} closed")

    page_log.assert_same_origin()
    page_log.assert_no_console_errors()


def test_roles_swap_override_and_speaker_names(signed_in: Page, page_log: PageLog, api, worker) -> None:
    sid = transcribed(api)
    open_transcript(signed_in, sid)
    segments = signed_in.locator(".segment")
    roles_before = [segments.nth(i).get_attribute("data-role") for i in range(segments.count())]
    assert {"coach", "client"} <= set(roles_before)
    labels_before = segments.locator(".speaker").all_inner_texts()

    signed_in.get_by_role("button", name="Swap coach and client").click()
    flipped = {"coach": "client", "client": "coach", "unknown": "unknown"}
    expect(segments.first).to_have_attribute("data-role", flipped[roles_before[0]])
    assert [segments.nth(i).get_attribute("data-role") for i in range(segments.count())] == [
        flipped[r] for r in roles_before]
    swapped_labels = {"Coach": "Client", "Client": "Coach"}
    assert segments.locator(".speaker").all_inner_texts() == [swapped_labels.get(x, x) for x in labels_before]
    assert all(r["source"] == "user" for r in transcript(api, sid)["speaker_roles"].values()
               if r["role"] != "unknown")

    # one segment's own role
    second = segments.nth(1)
    own = flipped[flipped[roles_before[1]]]  # what it was before the swap
    second.get_by_label("Role of this segment").select_option(own)
    expect(second).to_have_attribute("data-role", own)
    assert transcript(api, sid)["segments"][1]["role_override"] == own
    second.get_by_label("Role of this segment").select_option("")
    expect(second).to_have_attribute("data-role", flipped[roles_before[1]])

    # a speaker's name replaces the role's label on each of the speaker's segments
    speaker = str(transcript(api, sid)["segments"][0]["speaker_id"])
    signed_in.get_by_label(f"Name for speaker {speaker}").fill("Anna")
    signed_in.locator(f".speaker-{speaker}").get_by_role("button", name="Save").click()
    expect(segments.first.locator(".speaker")).to_have_text("Anna")
    expect(signed_in.locator(f".speaker-{speaker} .speaker-label")).to_have_text("Anna")
    data = transcript(api, sid)
    assert data["speaker_roles"][speaker]["label"] == "Anna"
    assert [s for s in segments.locator(".speaker").all_inner_texts() if s == "Anna"] == [
        "Anna" for s in data["segments"] if str(s["speaker_id"]) == speaker]
    # a label the API refuses is an error in words, and nothing changes
    signed_in.get_by_label(f"Name for speaker {speaker}").fill("<b>")
    signed_in.locator(f".speaker-{speaker}").get_by_role("button", name="Save").click()
    expect(signed_in.locator(f".speaker-{speaker} .notice.error")).to_contain_text("'<'")
    assert transcript(api, sid)["speaker_roles"][speaker]["label"] == "Anna"

    page_log.assert_same_origin()
    assert [e for e in page_log.console_errors if "status of 422" not in e] == []  # the refusal above


def test_confirmed_roles_teach_the_voice_profile_the_settings_page_shows(signed_in: Page, page_log: PageLog,
                                                                       api, worker) -> None:
    sid = transcribed(api)
    open_transcript(signed_in, sid)
    speakers = signed_in.locator(".speakers")
    expect(speakers).to_contain_text("Confirming teaches your voice profile")
    speakers.get_by_role("button", name="Confirm roles").click()
    expect(speakers.get_by_role("button", name="Confirm roles")).to_have_count(0)
    expect(speakers.locator(".speaker-role").first).to_contain_text("set by you")
    assert {r["source"] for r in transcript(api, sid)["speaker_roles"].values() if r["role"] != "unknown"} == {"user"}

    signed_in.get_by_role("link", name="Settings").click()
    voice = signed_in.locator(".settings-voice")
    expect(voice).to_contain_text("Your voice from 1 sessions")
    learning = voice.get_by_label("Learn my voice when I confirm roles")
    learning.uncheck()
    expect(learning).to_be_enabled()  # disabled while the change is saved, then drawn again
    expect(learning).not_to_be_checked()
    assert api.get("/api/v1/me/voice-profile").json()["learning"] is False
    voice.get_by_role("button", name="Delete voice profile").click()
    signed_in.locator("dialog.confirm").get_by_role("button", name="Delete voice profile").click()
    expect(voice).to_contain_text("Your voice profile is deleted.")
    expect(voice).to_contain_text("No voice profile yet")
    assert api.get("/api/v1/me/voice-profile").json()["sessions"] == 0
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()


def test_edit_a_segment_then_its_history_and_the_srt(signed_in: Page, page_log: PageLog, api, worker) -> None:
    sid = transcribed(api)
    open_transcript(signed_in, sid)
    segment = signed_in.locator(".segment").nth(1)
    old = segment.locator(".text").inner_text()

    # Escape cancels without saving
    segment.get_by_role("button", name="Edit").click()
    area = segment.get_by_role("textbox")
    expect(area).to_be_focused()
    area.fill("not kept")
    area.press("Escape")
    expect(segment.locator(".text")).to_have_text(old)
    assert transcript(api, sid)["segments"][1]["version"] == 1

    segment.get_by_role("button", name="Edit").click()
    segment.get_by_role("textbox").fill("A coach's edited line.")
    segment.get_by_role("button", name="Save").click()
    expect(segment.locator(".text")).to_have_text("A coach's edited line.")
    segment.locator(".history summary").click()
    expect(segment.locator(".history summary")).to_have_text("History (1)")
    expect(segment.locator(".history .old-text")).to_have_text(old)

    with signed_in.expect_download() as download:
        signed_in.locator('.downloads a[data-format="srt"]').click()
    srt = open(download.value.path(), encoding="utf-8").read()
    assert "A coach's edited line." in srt and old not in srt
    assert download.value.suggested_filename == "Weekly check-in.srt"

    # an edit made elsewhere since the page read the segment: 412, said in words with their text,
    # the coach's text kept in the editor; Save then puts it in place of theirs
    current = transcript(api, sid)["segments"][1]
    assert api.patch(f"/api/v1/sessions/{sid}/segment-content",
                     json={"segment_content": {current["id"]: "Changed by a script."}}).status_code == 200
    segment.get_by_role("button", name="Edit").click()
    segment.get_by_role("textbox").fill("My late edit.")
    segment.get_by_role("button", name="Save").click()
    expect(segment.locator(".notice.error")).to_contain_text("changed this text since you opened it")
    expect(segment.locator(".notice.error .their-text")).to_have_text("Changed by a script.")
    expect(segment.get_by_role("textbox")).to_have_value("My late edit.")
    expect(segment.get_by_role("textbox")).to_be_focused()
    assert transcript(api, sid)["segments"][1]["content"] == "Changed by a script."
    segment.get_by_role("button", name="Save").click()
    expect(segment.locator(".text")).to_have_text("My late edit.")
    expect(segment.locator(".history summary")).to_have_text("History (3)")
    assert transcript(api, sid)["segments"][1]["content"] == "My late edit."

    page_log.assert_same_origin()


def test_unsaved_edits_outlive_other_changes(signed_in: Page, page_log: PageLog, api, worker) -> None:
    """An open editor, an open history and a half-typed speaker name stay as they were when
    another segment's role changes (the page redraws from the API's answer), and leaving the page
    then asks first."""
    sid = transcribed(api)
    first_id = transcript(api, sid)["segments"][0]["id"]
    assert api.patch(f"/api/v1/sessions/{sid}/segment-content",
                     json={"segment_content": {first_id: "An earlier edit."}}).status_code == 200
    open_transcript(signed_in, sid)
    segments = signed_in.locator(".segment")
    assert not signed_in.evaluate("!window.dispatchEvent(new Event('beforeunload', {cancelable: true}))")

    segments.nth(0).locator(".history summary").click()
    speaker = str(transcript(api, sid)["segments"][0]["speaker_id"])
    signed_in.get_by_label(f"Name for speaker {speaker}").fill("Half a na")
    second = segments.nth(1)
    second.get_by_role("button", name="Edit").click()
    second.get_by_role("textbox").fill("A draft in progress")

    third = segments.nth(2)
    role = "unknown" if third.get_attribute("data-role") != "unknown" else "coach"
    third.get_by_label("Role of this segment").focus()  # as a coach's click would; select_option does not
    third.get_by_label("Role of this segment").select_option(role)
    expect(third).to_have_attribute("data-role", role)
    expect(third.get_by_label("Role of this segment")).to_be_focused()
    expect(second.get_by_role("textbox")).to_have_value("A draft in progress")
    expect(segments.nth(0).locator(".history")).to_have_attribute("open", "")
    expect(signed_in.get_by_label(f"Name for speaker {speaker}")).to_have_value("Half a na")
    assert signed_in.evaluate("!window.dispatchEvent(new Event('beforeunload', {cancelable: true}))")
    signed_in.screenshot(path="/tmp/i11/fixt-draft-kept.png")

    second.get_by_role("button", name="Save").click()
    expect(second.locator(".text")).to_have_text("A draft in progress")
    assert transcript(api, sid)["segments"][1]["content"] == "A draft in progress"
    expect(signed_in.get_by_label(f"Name for speaker {speaker}")).to_have_value("Half a na")
    signed_in.get_by_label(f"Name for speaker {speaker}").fill("")
    assert not signed_in.evaluate("!window.dispatchEvent(new Event('beforeunload', {cancelable: true}))")
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()


def test_segment_text_with_markup_shows_as_typed(signed_in: Page, page_log: PageLog, api, worker) -> None:
    sid = transcribed(api, title=f"<script>alert(2)</script>{XSS}")
    first = transcript(api, sid)["segments"][0]["id"]
    edited = api.patch(f"/api/v1/sessions/{sid}/segment-content", json={"segment_content": {first: XSS}})
    assert edited.status_code == 200, edited.text
    dialogs: list[str] = []
    signed_in.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_transcript(signed_in, sid)
    expect(signed_in.locator(".segment .text").first).to_have_text(XSS)
    expect(signed_in.locator("h1")).to_have_text(f"<script>alert(2)</script>{XSS}")
    assert signed_in.locator("main img").count() == 0 and signed_in.locator("main script").count() == 0
    signed_in.wait_for_timeout(300)
    assert dialogs == []
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()


def test_delete_asks_then_returns_to_the_list(signed_in: Page, page_log: PageLog, api, worker) -> None:
    sid = transcribed(api)
    open_transcript(signed_in, sid)
    signed_in.get_by_role("button", name="Delete").click()
    signed_in.locator("dialog.confirm").get_by_role("button", name="Cancel").click()
    assert api.get(f"/api/v1/sessions/{sid}").status_code == 200
    signed_in.get_by_role("button", name="Delete").click()
    signed_in.locator("dialog.confirm").get_by_role("button", name="Delete").click()
    signed_in.wait_for_url(lambda url: url.endswith("/"))
    gone = api.get(f"/api/v1/sessions/{sid}")
    assert gone.status_code == 404 and gone.json()["code"] == "session_not_found"
    page_log.assert_same_origin()


def test_an_imported_transcript_has_a_note_instead_of_a_player(signed_in: Page, page_log: PageLog, api) -> None:
    sid = api.post("/api/v1/sessions", json={"title": "Imported", "language": "zh-TW"}).json()["id"]
    assert api.post(f"/api/v1/sessions/{sid}/transcript", files={"file": ("t.vtt", VTT.encode())}).status_code == 201
    page_log.tolerated.add(f"{page_log.server_origin}/api/v1/sessions/{sid}/audio")  # the 404 the note is about
    signed_in.goto(f"/sessions/{sid}")
    expect(signed_in.locator(".player .notice")).to_contain_text("no audio to play")
    assert signed_in.locator("audio").count() == 0
    expect(signed_in.locator(".segment .speaker")).to_have_text(["教練", "客戶"])  # a Chinese session's labels
    expect(signed_in.locator(".segment")).to_have_count(2)
    page_log.assert_same_origin()


def test_audio_that_fails_to_load_says_why(signed_in: Page, page_log: PageLog, api) -> None:
    """The player asks the API why the audio did not load and says that, not "imported"."""
    sid = api.post("/api/v1/sessions", json={"title": "Imported", "language": "en-US"}).json()["id"]
    assert api.post(f"/api/v1/sessions/{sid}/transcript", files={"file": ("t.vtt", VTT.encode())}).status_code == 201
    audio_url = f"{page_log.server_origin}/api/v1/sessions/{sid}/audio"
    page_log.tolerated.add(audio_url)
    signed_in.route(audio_url, lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"code": "service_unavailable", "message": "Storage is not answering."}'))
    signed_in.goto(f"/sessions/{sid}")
    note = signed_in.locator(".player .notice.error")
    expect(note).to_contain_text("The audio could not be loaded: Storage is not answering.")
    expect(note).not_to_contain_text("imported")
    signed_in.unroute(audio_url)
    note.get_by_role("button", name="Try again").click()  # now the real answer: an imported transcript has none
    expect(signed_in.locator(".player .notice.info")).to_contain_text("no audio to play")
    page_log.assert_same_origin()


def test_a_failed_session_says_why_and_retry_follows_it_live(signed_in: Page, page_log: PageLog, api, worker) -> None:
    """A session that failed (set in the database: the fake engine does not fail on its own) says
    why; Retry queues it again and the page follows it to the transcript."""
    from sqlalchemy import update

    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession, SessionStatus

    sid = transcribed(api)
    with new_session() as db:
        db.execute(update(CoachingSession).where(CoachingSession.id == uuid.UUID(sid)).values(
            status=SessionStatus.FAILED, error_code="stt_unavailable", error_message="The speech engine was down."))
        db.commit()
    signed_in.goto(f"/sessions/{sid}")
    expect(signed_in.locator(".transcript-status .notice.error")).to_have_text(
        "The transcription failed: The speech engine was down. Retry")
    expect(signed_in.locator(".status.failed")).to_have_text("Failed")
    assert signed_in.locator(".segment").count() == 0 and signed_in.locator(".downloads").count() == 0
    signed_in.locator(".head-actions").get_by_role("button", name="Retry").click()
    expect(signed_in.locator(".transcript-status .notice.error")).to_have_count(0, timeout=2000)
    expect(signed_in.locator(".segment").first).to_be_visible(timeout=120_000)
    expect(signed_in.locator(".status.completed")).to_have_text("Completed")
    expect(signed_in.locator(".transcript-status")).to_be_empty()
    assert signed_in.locator("audio").count() == 1
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()


def test_a_failed_session_says_why_in_chinese(signed_in: Page, page_log: PageLog, api, server_url: str) -> None:
    """Under zh-TW a failed session's reason is in Chinese (the API's English message is for scripts)."""
    from sqlalchemy import update

    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession, SessionStatus

    sid = api.post("/api/v1/sessions", json={"title": "Broken", "language": "en-US"}).json()["id"]
    with new_session() as db:
        db.execute(update(CoachingSession).where(CoachingSession.id == uuid.UUID(sid)).values(
            status=SessionStatus.FAILED, error_code="undecodable_audio",
            error_message="The audio could not be decoded."))
        db.commit()
    page_log.tolerated.add(f"{page_log.server_origin}/api/v1/sessions/{sid}/audio")  # never uploaded: a 404
    signed_in.context.add_cookies([{"name": "ca_lang", "value": "zh-TW", "url": server_url}])
    signed_in.goto(f"/sessions/{sid}")
    expect(signed_in.locator(".transcript-status .notice.error")).to_have_text(
        "轉錄失敗：無法讀取這個檔案的音訊，檔案可能已損毀。 重試")
    expect(signed_in.locator(".status.failed")).to_have_text("失敗")
    expect(signed_in.locator(".player .notice")).to_contain_text("沒有可播放的音訊")
    signed_in.screenshot(path="/tmp/i11/fixt-failed-zh.png")
    page_log.assert_same_origin()


NAMED = """WEBVTT

00:00:00.500 --> 00:00:03.000
<v Coach>Hi Sarah, what would you like to focus on today?

00:00:03.500 --> 00:00:09.000
<v Client>My talk with Mr. Lopez went badly.

00:00:09.500 --> 00:00:12.000
<v Coach>What made it hard?
"""


def test_the_icf_check_says_what_is_not_met_and_links_the_segments(signed_in: Page, page_log: PageLog,
                                                                   api) -> None:
    sid = api.post("/api/v1/sessions", json={"title": "Credential", "language": "en-US"}).json()["id"]
    assert api.post(f"/api/v1/sessions/{sid}/transcript", files={"file": ("t.vtt", NAMED.encode())}).status_code == 201
    page_log.tolerated.add(f"{page_log.server_origin}/api/v1/sessions/{sid}/audio")  # imported: no audio
    signed_in.goto(f"/sessions/{sid}")
    panel = signed_in.locator(".icf")
    expect(panel.locator(".icf-rule")).to_have_count(5)
    expect(panel.locator(".icf-summary")).to_have_text("Not ready for an ICF submission yet:")
    states = {rule.get_attribute("data-rule"): rule.get_attribute("data-state")
              for rule in panel.locator(".icf-rule").all()}
    assert states == {"length": "not_met", "two_speakers": "met", "roles_labelled": "met", "timestamps": "met",
                      "first_names_only": "review"}
    expect(panel.locator("[data-rule=length] .reason")).to_contain_text("0:12 long")
    expect(panel.locator("[data-rule=first_names_only] .names")).to_have_text("Check: Mr. Lopez")
    panel.locator("[data-rule=first_names_only] a.segment-link").click()
    client_line = signed_in.locator(".segment").nth(1)
    expect(client_line.locator("button.seek")).to_be_focused()
    signed_in.screenshot(path="/tmp/icf-check.png", full_page=True)
    # a segment set to unknown fails the roles rule, which now names it
    client_line.locator("select").select_option("unknown")
    expect(panel.locator("[data-rule=roles_labelled]")).to_have_attribute("data-state", "not_met")
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()


def test_the_icf_check_in_chinese(signed_in: Page, page_log: PageLog, api, server_url: str) -> None:
    vtt = ("WEBVTT\n\n00:00:00.500 --> 00:00:03.000\n<v 教練>你今天想談什麼？\n\n"
           "00:00:03.500 --> 00:00:09.000\n<v 客戶>我和陳小姐談過了，不太順利。\n")
    sid = api.post("/api/v1/sessions", json={"title": "認證", "language": "zh-TW"}).json()["id"]
    assert api.post(f"/api/v1/sessions/{sid}/transcript", files={"file": ("t.vtt", vtt.encode())}).status_code == 201
    page_log.tolerated.add(f"{page_log.server_origin}/api/v1/sessions/{sid}/audio")  # imported: no audio
    signed_in.context.add_cookies([{"name": "ca_lang", "value": "zh-TW", "url": server_url}])
    signed_in.goto(f"/sessions/{sid}")
    panel = signed_in.locator(".icf")
    expect(panel.locator("h2")).to_have_text("ICF 認證檢查")
    expect(panel.locator("[data-rule=length] .reason")).to_have_text("錄音長 0:09；ICF 不接受短於 20 分鐘的錄音。")
    expect(panel.locator("[data-rule=first_names_only] .names")).to_have_text("請檢查：陳小姐")
    expect(signed_in.locator(".stats dl")).to_contain_text("教練：開放式 1、封閉式 0")
    signed_in.screenshot(path="/tmp/icf-check-zh.png", full_page=True)
    page_log.assert_same_origin()
    page_log.assert_no_console_errors()
