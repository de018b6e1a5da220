"""Hostile transcripts over HTTP: imports that must not freeze the process, times and cues past the
limits, speaker names that try to forge cues, the edit-history cap, stale edits, and exports of
the largest transcript we accept. Every refusal is checked for its code and for nothing stored."""

from __future__ import annotations

import io
import uuid

import pytest
import srt
import webvtt
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from coaching_assistant.models import CoachingSession, TranscriptSegment
from coaching_assistant.services.transcript_parsing import MAX_SEGMENT_CHARS, MAX_TRANSCRIPT_SEGMENTS
from tests.integration.test_transcripts_api import VTT, export, imported, new_session

CUE = "00:00:00.000 --> 00:00:01.000"


def post_import(client, headers, text: str, name: str = "t.vtt") -> tuple[str, object]:
    sid = new_session(client, headers)
    response = client.post(f"/api/v1/sessions/{sid}/transcript", files={"file": (name, text.encode())},
                           headers=headers)
    return sid, response


def assert_nothing_stored(client, headers, db, sid: str) -> None:
    assert client.get(f"/api/v1/sessions/{sid}", headers=headers).json()["status"] == "uploading"
    count = db.scalar(select(func.count()).select_from(TranscriptSegment)
                      .where(TranscriptSegment.session_id == uuid.UUID(sid)))
    assert count == 0
    row = db.get(CoachingSession, uuid.UUID(sid))
    db.refresh(row)
    assert row.speaker_roles == {} and row.segments_count == 0


def assert_refused(response, status: int, code: str, *in_message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    for part in in_message:
        assert part in body["message"], body["message"]


# Each of these took from seconds to hours before (a regex quadratic in a run of spaces, of '<', of
# digits): the timeout turns a regression into a failure instead of a hung run.
@pytest.mark.timeout(30)
@pytest.mark.parametrize(("name", "text", "status", "outcome"), [
    ("t.vtt", f"WEBVTT\n\n{CUE}\n<v A>x" + " " * 150_000 + "y\n", 201, "x y"),
    ("t.vtt", f"WEBVTT\n\n{CUE}\n<v A>x" + " " * 150_000 + "\n", 201, "x"),
    ("t.vtt", f"WEBVTT\n\n{CUE}\n<v A" + " " * 150_000 + "x\n", 201, "<v A x"),
    ("t.vtt", f"WEBVTT\n\n{CUE}\n" + "<" * 1_000_000 + "\n", 422, "cue_too_long"),
    ("t.vtt", f"WEBVTT\n\n{CUE}\nx" + "-" * 1_000_000 + "\n", 422, "cue_too_long"),
    ("t.vtt", f"WEBVTT\n\n{CUE}\nhi\n" + "\n" * 1_000_000 + "00:00:01.000 --> 00:00:02.000\nyo\n", 201, "hi"),
    ("t.vtt", f"WEBVTT\n\n{CUE}\nhi\n" + " \n" * 500_000, 201, "hi"),
    ("t.srt", f"1\n{CUE}\nx" + " " * 1_000_000 + "y\n", 201, "x y"),
    ("t.srt", f"1\n{CUE}\nhi\n\n" + "1" * 100_000 + "x\n", 422, "cue_too_long"),
    ("t.srt", " " * 100_000 + f"x\n1\n{CUE}\nhi\n", 422, "invalid_transcript"),
    ("t.srt", f"1\n{CUE}\n" + "<" * 1_000_000 + "\n", 422, "cue_too_long"),
])
def test_adversarial_imports_are_answered_at_once(client, user_headers, db, name, text, status, outcome):
    sid, response = post_import(client, user_headers, text, name)
    assert response.status_code == status, response.text[:500]
    if status == 201:
        assert response.json()["segments"][0]["content"] == outcome
    else:
        assert response.json()["code"] == outcome
        assert_nothing_stored(client, user_headers, db, sid)


@pytest.mark.parametrize(("name", "text", "line"), [
    ("t.srt", "1\n99999999999999999999:00:00,000 --> 99999999999999999999:00:01,000\nHi\n", "Line 2"),
    ("t.srt", "1\n00:00:00,000 --> " + "9" * 5000 + ":00:01,000\nHi\n", "Line 2"),
    ("t.vtt", "WEBVTT\n\n00:00:00.000 --> 99999999999999999999:00:00.000\n<v Coach>Hi\n", "Line 3"),
    ("t.vtt", "WEBVTT\n\n100:00:00.001 --> 100:00:02.000\n<v Coach>Hi\n", "Line 3"),
    ("t.srt", "1\n00:00:00,000 --> 00:00:01,000\nHi\n\n2\n00:00:01,000 --> 00:61:00,000\nThere\n", "Line 6"),
])
def test_absurd_cue_times_are_refused_with_the_line(client, user_headers, db, name, text, line):
    sid, response = post_import(client, user_headers, text, name)
    assert_refused(response, 422, "invalid_transcript", line)
    assert_nothing_stored(client, user_headers, db, sid)


def test_cues_up_to_100_hours_are_taken(client, user_headers):
    _, body = imported(client, user_headers, text="WEBVTT\n\n99:59:59.000 --> 100:00:00.000\n<v Coach>Late\n")
    assert body["segments"][0]["end_seconds"] == 360_000


def test_a_cue_over_the_text_limit_is_refused_by_number(client, user_headers, db):
    text = (f"WEBVTT\n\n{CUE}\n<v Coach>fine\n\n00:00:01.000 --> 00:00:02.000\n<v Client>"
            + "a" * (MAX_SEGMENT_CHARS + 1) + "\n")
    sid, response = post_import(client, user_headers, text)
    assert_refused(response, 422, "cue_too_long", "Cue 2", "00:00:01.000 --> 00:00:02.000", f"{MAX_SEGMENT_CHARS:,}")
    assert_nothing_stored(client, user_headers, db, sid)
    at_limit = text.replace("a" * (MAX_SEGMENT_CHARS + 1), "a" * MAX_SEGMENT_CHARS)
    assert post_import(client, user_headers, at_limit)[1].status_code == 201


def many_cues(count: int) -> str:
    return "WEBVTT\n\n" + "".join(
        f"{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000 --> {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.500\n"
        f"<v {'Coach' if i % 2 else 'Client'}>=SUM(A1:A{i}) is what cue {i} says\n\n" for i in range(count))


def test_more_cues_than_the_limit_are_refused(client, user_headers, db):
    sid, response = post_import(client, user_headers, many_cues(MAX_TRANSCRIPT_SEGMENTS + 1))
    assert_refused(response, 422, "too_many_cues", f"{MAX_TRANSCRIPT_SEGMENTS:,}")
    assert_nothing_stored(client, user_headers, db, sid)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_the_largest_transcript_imports_and_exports_as_xlsx(client, user_headers):
    """20,000 cues: the XLSX export took about a minute before (a rescan of the sheet per row)."""
    sid, body = imported(client, user_headers, text=many_cues(MAX_TRANSCRIPT_SEGMENTS))
    assert len(body["segments"]) == MAX_TRANSCRIPT_SEGMENTS
    book = load_workbook(io.BytesIO(export(client, user_headers, sid, "xlsx").content))
    sheet = book.active
    assert sheet.title == "Transcript" and sheet.max_row == MAX_TRANSCRIPT_SEGMENTS + 1
    assert [c.value for c in sheet[1]] == ["Start", "End", "Role", "Speaker", "Text"]
    assert all(c.font.bold for c in sheet[1])
    last = [c.value for c in sheet[sheet.max_row]]
    assert last == ["05:33:19", "05:33:19", "Coach", 2, "=SUM(A1:A19999) is what cue 19999 says"]
    assert sheet.cell(row=2, column=3).data_type == "s" and sheet.cell(row=2, column=5).data_type == "s"
    assert sheet.cell(row=2, column=5).value.startswith("=SUM(")  # text, never a formula
    assert sheet.cell(row=2, column=4).data_type == "n"


def test_imported_names_are_one_short_line(client, user_headers):
    long_name = "Dr. " + "Very Long Name " * 10
    text = ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ev\u2028il\x0b\u0085 One\u202e>Hello\n\n"
            f"00:00:01.000 --> 00:00:02.000\n<v {long_name}>Hi\n")
    sid, body = imported(client, user_headers, text=text)
    labels = {s: e["label"] for s, e in body["speaker_roles"].items()}
    assert labels["1"] == "Ev il One"
    assert labels["2"] == long_name[:40].rstrip() and len(labels["2"]) <= 40
    captions = webvtt.from_buffer(io.StringIO(export(client, user_headers, sid, "vtt").text), format="vtt").captions
    assert [c.voice for c in captions] == [labels["1"], labels["2"]]


def test_a_name_with_line_breaks_cannot_forge_a_cue(client, user_headers, db):
    """The issue's file: a voice name with CRs and a timing line. Every cue of the export is a
    segment, and every label is one line."""
    hostile = "1\n00:00:00,000 --> 00:00:01,000\n<v Evil\r\r00:00:00.000 --> 10:00:00.000\r>Hello\n"
    sid, body = imported(client, user_headers, text=hostile, name="t.srt")
    count = len(body["segments"])
    captions = webvtt.from_buffer(io.StringIO(export(client, user_headers, sid, "vtt").text), format="vtt").captions
    assert len(captions) == count
    assert len(list(srt.parse(export(client, user_headers, sid, "srt").text))) == count

    # a name stored before names were cleaned is cleaned when it is written out
    forged = "Evil\r\r00:00:00.000 --> 10:00:00.000\r\n\nmore"
    db.execute(update(CoachingSession).where(CoachingSession.id == uuid.UUID(sid)).values(
        speaker_roles={str(s["speaker_id"]): {"role": "unknown", "source": "import", "name": forged}
                       for s in body["segments"]}))
    db.commit()
    vtt = export(client, user_headers, sid, "vtt").text
    captions = webvtt.from_buffer(io.StringIO(vtt), format="vtt").captions
    assert len(captions) == count and vtt.count("-->") == count
    assert all(c.voice == "Evil 00:00:00.000 -- 10:00:00.000 more" for c in captions)
    assert len(list(srt.parse(export(client, user_headers, sid, "srt").text))) == count
    txt = export(client, user_headers, sid, "txt").text
    assert txt.splitlines()[0].startswith("Evil 00:00:00.000 -- 10:00:00.000 more [")
    rows = list(load_workbook(io.BytesIO(export(client, user_headers, sid, "xlsx").content)).active.values)
    assert len(rows) == count + 1 and rows[1][2] == "Evil 00:00:00.000 -- 10:00:00.000 more"
    labels = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()["speaker_roles"]
    assert all("\r" not in e["label"] and "\n" not in e["label"] for e in labels.values())


def test_edit_history_is_capped(client, user_headers, settings):
    assert settings.max_edit_history == 50
    sid, body = imported(client, user_headers)
    segment = body["segments"][0]["id"]
    url = f"/api/v1/sessions/{sid}/segment-content"
    for i in range(settings.max_edit_history):
        edit = client.patch(url, json={"segment_content": {segment: f"text {i}"}}, headers=user_headers)
        assert edit.status_code == 200, edit.text
    before = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()
    assert len(before["segments"][0]["history"]) == 50
    refused = client.patch(url, json={"segment_content": {segment: "one more"}}, headers=user_headers)
    assert_refused(refused, 409, "edit_history_full", "50")
    assert client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json() == before
    # the same text again adds nothing to the history, so it is not refused
    same = client.patch(url, json={"segment_content": {segment: "text 49"}}, headers=user_headers)
    assert same.status_code == 200 and same.json() == before


def test_segments_carry_a_version_and_stale_edits_are_refused(client, user_headers):
    sid, body = imported(client, user_headers, text=VTT)
    first, second = body["segments"][0], body["segments"][1]
    assert first["version"] == second["version"] == 1
    url = f"/api/v1/sessions/{sid}/segment-content"
    edited = client.patch(url, json={"segment_content": {first["id"]: "Hello there."}, "versions": {first["id"]: 1}},
                          headers=user_headers)
    assert edited.status_code == 200, edited.text
    assert edited.json()["segments"][0]["version"] == 2

    # a client that read version 1 of the first segment: the whole edit is refused
    stale = client.patch(url, json={"segment_content": {first["id"]: "Hi!", second["id"]: "Changed."},
                                    "versions": {first["id"]: 1, second["id"]: 1}}, headers=user_headers)
    assert_refused(stale, 412, "precondition_failed", first["id"], "version 2")
    after = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()
    assert after == edited.json()

    wrong = client.patch(url, json={"segment_content": {first["id"]: "Hi!"}, "versions": {second["id"]: 1}},
                         headers=user_headers)
    assert_refused(wrong, 422, "invalid_segment")
    twice = client.patch(url, json={"segment_content": {first["id"]: "Hi!", first["id"].upper(): "Ho!"}},
                         headers=user_headers)
    assert_refused(twice, 422, "invalid_segment")
    assert client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json() == after

    # a role change is not a text edit: the version stays
    roles = client.patch(f"/api/v1/sessions/{sid}/segment-roles", json={"segment_roles": {first["id"]: "client"}},
                         headers=user_headers)
    assert roles.json()["segments"][0]["version"] == 2 and roles.json()["segments"][0]["role"] == "client"
