"""Transcripts over HTTP: exports read back by real parsers, roles, edits, statistics, imports,
Chinese sessions, and the pipeline's diarization stage."""

from __future__ import annotations

import io
import re
import uuid
from urllib.parse import unquote

import numpy as np
import pytest
import srt
import webvtt
from docx import Document
from openpyxl import load_workbook

from coaching_assistant.core.config import Settings
from coaching_assistant.services import transcription
from coaching_assistant.stt.base import Segment, Word
from tests.helpers import CONVERSATION, turns_of, wav_bytes
from tests.integration.test_pipeline import run, uploaded_session

VTT = """WEBVTT

00:00:00.500 --> 00:00:03.000
<v Coach>Hi, what would you like to focus on today?

00:00:03.500 --> 00:00:09.000
<v Client>I want to talk about my new role.

00:00:09.200 --> 00:00:12.000
<v Client>It has been hard.

00:00:13.000 --> 00:00:15.000
<v Coach>What makes it hard? And what helps?

00:00:16.000 --> 00:00:24.000
<v Client>Too many meetings. I need time to think.
"""


def new_session(client, headers, title="Session", language="en-US", **extra):
    response = client.post("/api/v1/sessions", json={"title": title, "language": language, **extra},
                           headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def imported(client, headers, text=VTT, name="talk.vtt", **session):
    sid = new_session(client, headers, **session)
    response = client.post(f"/api/v1/sessions/{sid}/transcript", files={"file": (name, text.encode())},
                           headers=headers)
    assert response.status_code == 201, response.text
    return sid, response.json()


def export(client, headers, sid, fmt):
    response = client.get(f"/api/v1/sessions/{sid}/transcript", params={"format": fmt}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_import_gives_a_completed_session_with_roles_and_statistics(client, user_headers):
    sid, body = imported(client, user_headers)
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["status"] == "completed"
    assert [s["role"] for s in body["segments"]] == ["coach", "client", "client", "coach", "client"]
    assert body["speaker_roles"]["1"] == {"role": "coach", "confidence": 1.0, "source": "import", "label": "Coach",
                                           "user_label": None}
    assert body["speaker_roles"]["2"]["role"] == "client"
    stats = client.get(f"/api/v1/sessions/{sid}/stats", headers=user_headers).json()
    assert stats == body["statistics"]
    assert stats["roles"]["coach"] == {"talk_seconds": 4.5, "talk_share": pytest.approx(4.5 / 20.8, abs=1e-4),
                                       "turns": 2, "questions": 3, "open_questions": 3, "closed_questions": 0,
                                       "words": 16}
    assert stats["roles"]["client"]["talk_seconds"] == 16.3 and stats["roles"]["client"]["turns"] == 2
    assert stats["roles"]["client"]["questions"] == 0
    assert stats["turns"] == 4
    assert stats["longest_monologue"] == {"role": "client", "speaker_id": 2, "start_seconds": 3.5, "seconds": 8.5}
    assert stats["average_client_turn_seconds"] == 8.25
    assert stats["silence_seconds"] == 3.2 and stats["duration_seconds"] == 24.0


def test_exports_read_back_with_real_parsers(client, user_headers):
    sid, body = imported(client, user_headers, title="Weekly check-in")

    vtt = export(client, user_headers, sid, "vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    captions = webvtt.from_buffer(io.StringIO(vtt.text), format="vtt").captions
    assert [c.voice for c in captions] == ["Coach", "Client", "Client", "Coach", "Client"]
    assert captions[1].text == "I want to talk about my new role."
    assert captions[1].start == "00:00:03.500" and captions[1].end == "00:00:09.000"

    subtitles = list(srt.parse(export(client, user_headers, sid, "srt").text))
    assert [s.index for s in subtitles] == [1, 2, 3, 4, 5]
    assert subtitles[0].content == "Coach: Hi, what would you like to focus on today?"
    assert subtitles[4].start.total_seconds() == 16.0 and subtitles[4].content.startswith("Client: Too many")

    txt = export(client, user_headers, sid, "txt").text
    assert txt.split("\n\n") == [
        "Coach [00:00:00]\nHi, what would you like to focus on today?",
        "Client [00:00:03]\nI want to talk about my new role.\nIt has been hard.",
        "Coach [00:00:13]\nWhat makes it hard? And what helps?",
        "Client [00:00:16]\nToo many meetings. I need time to think.\n"]

    xlsx = export(client, user_headers, sid, "xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Start", "End", "Role", "Speaker", "Text")
    assert rows[1] == ("00:00:00.500"[:-4], "00:00:03", "Coach", 1, "Hi, what would you like to focus on today?")
    assert [r[2] for r in rows[1:]] == ["Coach", "Client", "Client", "Coach", "Client"]

    docx = export(client, user_headers, sid, "docx")
    assert docx.headers["content-disposition"].startswith('attachment; filename="Weekly check-in.docx"')
    paragraphs = [p.text for p in Document(io.BytesIO(docx.content)).paragraphs]
    assert paragraphs[0] == "Weekly check-in"
    assert re.fullmatch(r"Date: \d{4}-\d\d-\d\d · Length: 00:00:24 · Language: en-US", paragraphs[1])
    assert paragraphs[2:] == ["[00:00:00] Coach: Hi, what would you like to focus on today?",
                              "[00:00:03] Client: I want to talk about my new role. It has been hard.",
                              "[00:00:13] Coach: What makes it hard? And what helps?",
                              "[00:00:16] Client: Too many meetings. I need time to think."]

    data = export(client, user_headers, sid, "json").json()
    assert data["segments"][0]["words"] == [] and data["segments"][0]["speaker_id"] == 1
    assert "statistics" in data and data["speaker_roles"]["2"]["label"] == "Client"
    assert 'filename="Weekly check-in.json"' in export(client, user_headers, sid, "json").headers["content-disposition"]


def test_download_name_keeps_a_chinese_title(client, user_headers):
    sid, _ = imported(client, user_headers, title="教練會談：第一次 🙂")
    disposition = export(client, user_headers, sid, "vtt").headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "教練會談：第一次 🙂.vtt"
    disposition.encode("latin-1")  # a header must stay Latin-1: the raw title is only in filename*


def test_chinese_sessions_use_chinese_labels(client, user_headers):
    text = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v 教練>你今天想談什麼？\n\n"
            "00:00:02.500 --> 00:00:04.000\n<v 客戶>我想談工作。\n\n"
            "00:00:04.500 --> 00:00:05.000\n<v 旁聽者>嗯。\n")
    sid, body = imported(client, user_headers, text=text, language="zh-TW")
    assert [s["role"] for s in body["segments"]] == ["coach", "client", "unknown"]
    captions = webvtt.from_buffer(io.StringIO(export(client, user_headers, sid, "vtt").text), format="vtt").captions
    assert [c.voice for c in captions] == ["教練", "客戶", "旁聽者"]  # an imported name without a role stays
    assert body["statistics"]["roles"]["coach"]["questions"] == 1  # a full-width question mark counts
    assert list(srt.parse(export(client, user_headers, sid, "srt").text))[1].content == "客戶: 我想談工作。"


def test_speaker_and_segment_roles_can_be_changed(client, user_headers):
    sid, body = imported(client, user_headers)
    first = body["segments"][0]["id"]
    url = f"/api/v1/sessions/{sid}"
    swapped = client.patch(f"{url}/speaker-roles", json={"speaker_roles": {"1": "CLIENT", "2": "Coach"}},
                           headers=user_headers)
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["speaker_roles"]["1"] == {"role": "client", "confidence": 1.0, "source": "user",
                                                    "label": "Client", "user_label": None}
    assert [s["role"] for s in swapped.json()["segments"]][:2] == ["client", "coach"]

    override = client.patch(f"{url}/segment-roles", json={"segment_roles": {first: "coach"}}, headers=user_headers)
    assert override.status_code == 200
    segments = override.json()["segments"]
    assert segments[0]["role"] == "coach" and segments[0]["role_override"] == "coach"
    assert segments[3]["role"] == "client"  # the speaker's other segments keep the speaker's role
    vtt = webvtt.from_buffer(io.StringIO(export(client, user_headers, sid, "vtt").text), format="vtt")
    assert vtt.captions[0].voice == "Coach" and vtt.captions[3].voice == "Client"

    cleared = client.patch(f"{url}/segment-roles", json={"segment_roles": {first: None}}, headers=user_headers)
    assert cleared.json()["segments"][0]["role"] == "client"


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("speaker-roles", {"speaker_roles": {"3": "coach"}}, 422, "unknown_speaker"),
    ("speaker-roles", {"speaker_roles": {"1": "boss"}}, 422, "invalid_role"),
    ("speaker-roles", {"speaker_roles": {}}, 422, "invalid_role"),
    ("speaker-roles", {"roles": {"1": "coach"}}, 422, "validation_error"),
    ("speaker-labels", {"speaker_labels": {"3": "Anna"}}, 422, "unknown_speaker"),
    ("speaker-labels", {"speaker_labels": {"1": "Anna", "2": "B" * 41}}, 422, "invalid_label"),
    ("speaker-labels", {"speaker_labels": {"1": "Anna\x00"}}, 422, "invalid_label"),
    ("speaker-labels", {"speaker_labels": {"1": "Anna\u202e"}}, 422, "invalid_label"),
    ("speaker-labels", {"speaker_labels": {"1": "<v Anna>"}}, 422, "invalid_label"),
    ("speaker-labels", {"speaker_labels": {}}, 422, "invalid_label"),
    ("speaker-labels", {"speaker_labels": {"1": 7}}, 422, "validation_error"),
    ("segment-roles", {"segment_roles": {str(uuid.uuid4()): "coach"}}, 422, "unknown_segment"),
    ("segment-roles", {"segment_roles": {"not-a-uuid": "coach"}}, 422, "invalid_segment"),
    ("segment-roles", {"segment_roles": {"FIRST": "manager"}}, 422, "invalid_role"),
    ("segment-content", {"segment_content": {"FIRST": "   "}}, 422, "invalid_content"),
    ("segment-content", {"segment_content": {"FIRST": "x" * 10_001}}, 422, "invalid_content"),
])
def test_bad_edits_are_refused_and_change_nothing(client, user_headers, path, body, status, code):
    sid, before = imported(client, user_headers)
    first = before["segments"][0]["id"]
    key = next(iter(body))
    body = {key: {(first if k == "FIRST" else k): v for k, v in body[key].items()}}
    response = client.patch(f"/api/v1/sessions/{sid}/{path}", json=body, headers=user_headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json()["message"]
    after = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()
    assert after == before


def test_speaker_labels_replace_role_labels_everywhere(client, user_headers):
    sid, body = imported(client, user_headers)
    url = f"/api/v1/sessions/{sid}"
    renamed = client.patch(f"{url}/speaker-labels", json={"speaker_labels": {"2": "  Anna\n  Lee "}},
                           headers=user_headers)
    assert renamed.status_code == 200, renamed.text
    speakers = renamed.json()["speaker_roles"]
    assert speakers["2"] == {"role": "client", "confidence": 1.0, "source": "import", "label": "Anna Lee",
                             "user_label": "Anna Lee"}
    assert speakers["1"]["label"] == "Coach" and speakers["1"]["user_label"] is None
    assert [s["label"] for s in renamed.json()["segments"]] == ["Coach", "Anna Lee", "Anna Lee", "Coach", "Anna Lee"]
    assert client.get(f"{url}/transcript", headers=user_headers).json()["speaker_roles"]["2"]["label"] == "Anna Lee"

    captions = webvtt.from_buffer(io.StringIO(export(client, user_headers, sid, "vtt").text), format="vtt").captions
    assert [c.voice for c in captions] == ["Coach", "Anna Lee", "Anna Lee", "Coach", "Anna Lee"]
    assert list(srt.parse(export(client, user_headers, sid, "srt").text))[1].content.startswith("Anna Lee: I want")
    assert export(client, user_headers, sid, "txt").text.split("\n\n")[1].startswith("Anna Lee [00:00:03]")
    sheet = load_workbook(io.BytesIO(export(client, user_headers, sid, "xlsx").content)).active
    assert [r[2] for r in list(sheet.iter_rows(values_only=True))[1:]] == ["Coach", "Anna Lee", "Anna Lee", "Coach",
                                                                           "Anna Lee"]

    # the name follows the speaker through a swap of roles; a segment given another role than its
    # speaker's is labelled by that role
    swapped = client.patch(f"{url}/speaker-roles", json={"speaker_roles": {"1": "client", "2": "coach"}},
                           headers=user_headers).json()
    assert swapped["speaker_roles"]["2"]["label"] == "Anna Lee" and swapped["speaker_roles"]["2"]["role"] == "coach"
    second = swapped["segments"][1]["id"]
    override = client.patch(f"{url}/segment-roles", json={"segment_roles": {second: "client"}},
                            headers=user_headers).json()
    assert [s["label"] for s in override["segments"]] == ["Client", "Client", "Anna Lee", "Client", "Anna Lee"]
    assert list(srt.parse(export(client, user_headers, sid, "srt").text))[1].content.startswith("Client: I want")

    # null and "" give the role's label back
    for reset in (None, "", "   "):
        client.patch(f"{url}/speaker-labels", json={"speaker_labels": {"2": "Anna"}}, headers=user_headers)
        cleared = client.patch(f"{url}/speaker-labels", json={"speaker_labels": {"2": reset}}, headers=user_headers)
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["speaker_roles"]["2"]["label"] == "Coach"
        assert cleared.json()["speaker_roles"]["2"]["user_label"] is None


def test_speaker_labels_in_chinese_sessions_and_with_imported_names(client, user_headers):
    text = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v 教練>你今天想談什麼？\n\n"
            "00:00:02.500 --> 00:00:04.000\n<v 客戶>我想談工作。\n\n"
            "00:00:04.500 --> 00:00:05.000\n<v 旁聽者>嗯。\n")
    sid, _ = imported(client, user_headers, text=text, language="zh-TW")
    url = f"/api/v1/sessions/{sid}"
    body = client.patch(f"{url}/speaker-labels", json={"speaker_labels": {"1": "王老師", "3": "小明"}},
                        headers=user_headers).json()
    assert [s["label"] for s in body["segments"]] == ["王老師", "客戶", "小明"]
    body = client.patch(f"{url}/speaker-labels", json={"speaker_labels": {"1": None, "3": None}},
                        headers=user_headers).json()
    assert [s["label"] for s in body["segments"]] == ["教練", "客戶", "旁聽者"]  # the imported name is back


def test_text_edits_keep_their_history(client, user_headers):
    sid, body = imported(client, user_headers)
    second = body["segments"][1]["id"]
    url = f"/api/v1/sessions/{sid}/segment-content"
    client.patch(url, json={"segment_content": {second: "I want to talk about my new job."}}, headers=user_headers)
    edited = client.patch(url, json={"segment_content": {second: "I want to discuss my new job."}},
                          headers=user_headers).json()["segments"][1]
    assert edited["content"] == "I want to discuss my new job."
    assert [h["content"] for h in edited["history"]] == ["I want to talk about my new role.",
                                                          "I want to talk about my new job."]
    assert all(h["replaced_at"] for h in edited["history"])
    assert "I want to discuss my new job." in export(client, user_headers, sid, "srt").text


def test_transcript_endpoints_wait_for_a_completed_session(client, user_headers, settings, empty_queue):
    sid = new_session(client, user_headers)
    for method, path, kwargs in [("get", "transcript?format=vtt", {}), ("get", "stats", {}),
                                 ("patch", "speaker-roles", {"json": {"speaker_roles": {"1": "coach"}}}),
                                 ("patch", "segment-content", {"json": {"segment_content": {}}})]:
        response = getattr(client, method)(f"/api/v1/sessions/{sid}/{path}", headers=user_headers, **kwargs)
        assert response.status_code == 409, (path, response.text)
        assert response.json()["code"] == "transcript_not_ready"

    silent, uri, task = uploaded_session(client, user_headers, name="quiet.wav", content=wav_bytes(3, silent=True))
    assert run(settings, silent, uri, task).status == "completed"
    for fmt in ("json", "vtt", "xlsx"):
        response = client.get(f"/api/v1/sessions/{silent}/transcript", params={"format": fmt}, headers=user_headers)
        assert response.status_code == 404 and response.json()["code"] == "no_segments"
    assert client.get(f"/api/v1/sessions/{silent}/transcript", params={"format": "doc"},
                      headers=user_headers).status_code == 422


SRT = """1
00:00:00,000 --> 00:00:02,000
Coach: How are you today?

2
00:00:02,500 --> 00:00:05,000
Client: Tired, but ready.
"""


@pytest.mark.parametrize(("text", "problem"), [
    ("WEBVTT\n\n00:00:01.000 --> banana\n<v Coach>Hi\n", "Line 3: cannot read the cue timing"),
    ("1\n00:00:0x,000 --> 00:00:02,000\nHi\n", "Line 2: cannot read the cue timing"),
    ("just some words\nwith no timings\n", "Not a valid SRT or WebVTT file"),
    ("WEBVTT\n\n00:00:05.000 --> 00:00:01.000\n<v Coach>Backwards\n", "ends before it starts"),
    ("", "empty"),
])
def test_malformed_imports_are_refused_with_the_problem_named(client, user_headers, text, problem):
    sid = new_session(client, user_headers)
    response = client.post(f"/api/v1/sessions/{sid}/transcript", files={"file": ("t.vtt", text.encode())},
                           headers=user_headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_transcript" and problem in response.json()["message"]
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["status"] == "uploading"


def test_srt_imports_and_import_rules(client, user_headers):
    sid, body = imported(client, user_headers, text=SRT, name="talk.srt")
    assert [(s["role"], s["content"]) for s in body["segments"]] == [("coach", "How are you today?"),
                                                                     ("client", "Tired, but ready.")]
    again = client.post(f"/api/v1/sessions/{sid}/transcript", files={"file": ("t.srt", SRT.encode())},
                        headers=user_headers)
    assert again.status_code == 409 and again.json()["code"] == "invalid_session_status"
    bad = client.post(f"/api/v1/sessions/{new_session(client, user_headers)}/transcript",
                      files={"file": ("t.srt", b"\xff\xfe\x00garbage")}, headers=user_headers)
    assert bad.status_code == 422 and "UTF-8" in bad.json()["message"]
    big = client.post(f"/api/v1/sessions/{new_session(client, user_headers)}/transcript",
                      files={"file": ("t.srt", b"1" * (5 * 1024 * 1024 + 1))}, headers=user_headers)
    assert big.status_code == 413


def test_names_colons_and_hostile_text_in_imports(client, user_headers):
    text = ("1\n00:00:00,000 --> 00:00:01,000\nAt noon: we met.\n\n"
            "2\n00:00:01,000 --> 00:00:02,000\nMy point is: yes.\n\n"
            "3\n00:00:02,000 --> 00:00:03,000\nMaria: Hello.\n\n"
            "4\n00:00:03,000 --> 00:00:04,000\nMaria: =HYPERLINK(\"http://evil.example\",\"x\")\x01\n\n"
            "5\n00:00:04,000 --> 00:00:05,000\nCoach: Who is Maria?\n")
    sid, body = imported(client, user_headers, text=text, name="t.srt")
    segments = body["segments"]
    assert [s["content"] for s in segments[:2]] == ["At noon: we met.", "My point is: yes."]
    assert segments[0]["speaker_id"] == segments[1]["speaker_id"]  # one unnamed speaker, not two
    assert segments[2]["speaker_id"] == segments[3]["speaker_id"] != segments[0]["speaker_id"]
    assert segments[3]["content"] == '=HYPERLINK("http://evil.example","x")'  # control character dropped
    assert segments[4]["role"] == "coach"
    labels = [c.voice for c in webvtt.from_buffer(io.StringIO(export(client, user_headers, sid, "vtt").text),
                                                  format="vtt").captions]
    assert labels == ["Speaker 1", "Speaker 1", "Maria", "Maria", "Coach"]
    sheet = load_workbook(io.BytesIO(export(client, user_headers, sid, "xlsx").content)).active
    cell = sheet.cell(row=5, column=5)
    assert cell.value == '=HYPERLINK("http://evil.example","x")' and cell.data_type == "s"  # text, not a formula
    edit = client.patch(f"/api/v1/sessions/{sid}/segment-content",
                        json={"segment_content": {segments[0]["id"]: "bad\u0000text"}}, headers=user_headers)
    assert edit.status_code == 422 and edit.json()["code"] == "invalid_content"


def test_other_users_get_404_on_every_transcript_endpoint(client, user_headers, other_headers):
    sid, body = imported(client, user_headers)
    segment = body["segments"][0]["id"]
    calls = [("get", "transcript?format=vtt", {}), ("get", "transcript?format=xlsx", {}), ("get", "stats", {}),
             ("patch", "speaker-roles", {"json": {"speaker_roles": {"1": "client"}}}),
             ("patch", "speaker-labels", {"json": {"speaker_labels": {"1": "Anna"}}}),
             ("patch", "segment-roles", {"json": {"segment_roles": {segment: "client"}}}),
             ("patch", "segment-content", {"json": {"segment_content": {segment: "mine now"}}}),
             ("post", "transcript", {"files": {"file": ("t.srt", SRT.encode())}})]
    for method, path, kwargs in calls:
        response = getattr(client, method)(f"/api/v1/sessions/{sid}/{path}", headers=other_headers, **kwargs)
        assert response.status_code == 404, (path, response.text)
    assert client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json() == body


def test_number_of_speakers_is_validated(client, user_headers):
    assert client.get(f"/api/v1/sessions/{new_session(client, user_headers)}",
                      headers=user_headers).json()["num_speakers"] == 2
    auto = new_session(client, user_headers, num_speakers="auto")
    assert client.get(f"/api/v1/sessions/{auto}", headers=user_headers).json()["num_speakers"] == "auto"
    assert client.get(f"/api/v1/sessions/{new_session(client, user_headers, num_speakers=3)}",
                      headers=user_headers).json()["num_speakers"] == 3
    for bad in (0, 9, "many", 2.5):
        response = client.post("/api/v1/sessions", json={"title": "x", "num_speakers": bad}, headers=user_headers)
        assert response.status_code == 422 and response.json()["code"] == "validation_error", bad


class SimplifiedChinese:
    """A provider that answers in Simplified Chinese with spaces between characters."""

    name = "simplified"

    def transcribe(self, audio: np.ndarray, *, language: str, on_progress, hints=None) -> list[Segment]:
        on_progress(len(audio) / 16000)
        words = [Word("我们", 0.0, 0.5, 0.9), Word("讨论", 0.5, 1.0, 0.9), Word("软件", 1.0, 1.5, 0.9),
                 Word("Python", 1.5, 2.0, 0.9)]
        return [Segment(0.0, 2.0, "我们 讨论 软件 和 Python 的 网络", 0.9, words)]


@pytest.mark.parametrize(("language", "expected", "first_word"), [
    ("zh-TW", "我們討論軟體和 Python 的網路", "我們"),
    ("cmn-Hant-TW", "我們討論軟體和 Python 的網路", "我們"),
    ("zh-CN", "我们讨论软件和 Python 的网络", "我们"),  # Simplified stays, the spaces go all the same
])
def test_taiwan_sessions_get_traditional_chinese_from_any_provider(client, user_headers, settings, language,
                                                                   expected, first_word, empty_queue):
    sid = new_session(client, user_headers, language=language)
    client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("a.wav", wav_bytes(2))}, headers=user_headers)
    from coaching_assistant.core.database import new_session as db_session
    from coaching_assistant.models import CoachingSession

    with db_session() as db:
        row = db.get(CoachingSession, uuid.UUID(sid))
        uri, task = row.audio_uri, row.transcription_job_id
    outcome = transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language=language,
                                               task_id=task, publish=lambda meta: None, provider=SimplifiedChinese())
    assert outcome.status == "completed"
    segment = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()["segments"][0]
    assert segment["content"] == expected and segment["words"][0]["word"] == first_word


@pytest.mark.slow
def test_the_pipeline_separates_speakers_and_guesses_roles(client, user_headers, settings, empty_queue):
    """The default pipeline (real engine, diarization on) as a stage with its own progress range."""
    real = Settings(**{**settings.model_dump(), "stt_provider": "whisper", "diarization_enabled": True})
    sid, uri, task = uploaded_session(client, user_headers)
    published: list[dict] = []
    outcome = transcription.transcribe_session(settings=real, session_id=sid, audio_uri=uri, language="en-US",
                                               task_id=task, publish=published.append)
    assert outcome.status == "completed"
    stage = [m["progress"] for m in published if m["message"] == "Separating speakers"]
    assert stage and all(transcription.STT_END <= p <= transcription.DIARIZE_END for p in stage)
    assert len(set(stage)) >= 2
    progress = [m["progress"] for m in published]
    assert progress == sorted(progress)
    body = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()
    assert {s["speaker_id"] for s in body["segments"]} == {1, 2}
    assert body["speaker_roles"]["1"]["role"] == "coach" and body["speaker_roles"]["2"]["role"] == "client"
    assert body["speaker_roles"]["1"]["source"] == "auto" and body["speaker_roles"]["1"]["confidence"] == 0.75
    assert body["segments"][0]["role"] == "coach"
    assert body["statistics"]["roles"]["coach"]["questions"] >= 4


class ChineseTurns:
    """Simplified Chinese words at the fixture's real turn times, all in one segment: the
    diarization has to split it, and the Taiwan conversion has to clean up after the split."""

    name = "chinese-turns"

    def transcribe(self, audio, *, language, on_progress, hints=None):
        words = []
        for turn in turns_of(CONVERSATION):
            step = (turn["end"] - turn["start"]) / 4
            text = "说话" if turn["speaker"] == "coach" else "网络"
            words += [Word(text, turn["start"] + i * step, turn["start"] + (i + 1) * step, 0.9) for i in range(4)]
        on_progress(len(audio) / 16000)
        return [Segment(words[0].start, words[-1].end, " ".join(w.word for w in words), 0.9, words)]


@pytest.mark.slow
def test_diarized_taiwan_sessions_have_no_spaces_between_characters(client, user_headers, settings, empty_queue):
    sid = new_session(client, user_headers, language="zh-TW")
    client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", CONVERSATION.read_bytes())},
                headers=user_headers)
    from coaching_assistant.core.database import new_session as db_session
    from coaching_assistant.models import CoachingSession

    with db_session() as db:
        row = db.get(CoachingSession, uuid.UUID(sid))
        uri, task = row.audio_uri, row.transcription_job_id
    diarizing = Settings(**{**settings.model_dump(), "diarization_enabled": True})
    outcome = transcription.transcribe_session(settings=diarizing, session_id=sid, audio_uri=uri, language="zh-TW",
                                               task_id=task, publish=lambda meta: None, provider=ChineseTurns())
    assert outcome.status == "completed"
    body = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()
    assert len(body["segments"]) >= len(turns_of(CONVERSATION))  # split at every change of speaker
    for segment in body["segments"]:
        assert " " not in segment["content"] and set(segment["content"]) <= set("說話網路")
    coach = {s["speaker_id"] for s in body["segments"] if "說話" in s["content"]}
    assert coach == {1} and body["speaker_roles"]["1"]["role"] == "coach"
    captions = webvtt.from_buffer(io.StringIO(export(client, user_headers, sid, "vtt").text), format="vtt").captions
    assert {c.voice for c in captions} == {"教練", "客戶"}


def test_icf_check_through_the_api(client, user_headers, other_headers):
    sid, _ = imported(client, user_headers)
    answer = client.get(f"/api/v1/sessions/{sid}/icf-check", headers=user_headers)
    assert answer.status_code == 200, answer.text
    rules = {rule["rule"]: rule for rule in answer.json()["rules"]}
    assert answer.json()["passed"] is False  # 24 seconds of audio
    assert rules["length"]["passed"] is False and "0:24" in rules["length"]["reason"]
    assert all(rules[name]["passed"] for name in ("two_speakers", "roles_labelled", "timestamps", "first_names_only"))
    # a segment set to unknown is named
    first = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()["segments"][0]["id"]
    assert client.patch(f"/api/v1/sessions/{sid}/segment-roles", headers=user_headers,
                        json={"segment_roles": {str(first): "unknown"}}).status_code == 200
    rules = {r["rule"]: r for r in client.get(f"/api/v1/sessions/{sid}/icf-check", headers=user_headers)
             .json()["rules"]}
    assert (rules["roles_labelled"]["passed"], rules["roles_labelled"]["segment_ids"]) == (False, [first])
    assert client.get(f"/api/v1/sessions/{sid}/icf-check", headers=other_headers).status_code == 404
    waiting = new_session(client, user_headers)
    refused = client.get(f"/api/v1/sessions/{waiting}/icf-check", headers=user_headers)
    assert refused.status_code == 409 and refused.json()["code"] == "transcript_not_ready"
