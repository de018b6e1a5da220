"""Downloads written from a transcript without a database, each format through the registry and
read back by a real reader: labels (roles, overrides, speakers without a role, Chinese sessions),
times past an hour, text that needs escaping, empty transcripts, the XLSX of the largest
transcript we accept, and labels that must stay one line in every format."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import srt
import webvtt
from docx import Document
from openpyxl import load_workbook

from coaching_assistant.core.errors import CoachingError
from coaching_assistant.services import transcripts
from coaching_assistant.services.transcript_export import (
    EXPORTS,
    TRANSCRIPT_FORMATS,
    Header,
    Row,
    content_disposition,
)
from coaching_assistant.services.transcript_parsing import MAX_TRANSCRIPT_SEGMENTS, parse_transcript


def session(count: int, speaker_roles: dict | None = None) -> SimpleNamespace:
    segments = [SimpleNamespace(speaker_id=1 + i % 2, start_seconds=i * 2.0, end_seconds=i * 2.0 + 1.5, role=None,
                                translation=None,
                                content=f"=HYPERLINK(\"http://x\") cue {i}" if i == 3 else f"what was said in cue {i}")
                for i in range(count)]
    return SimpleNamespace(status="completed", segments=segments, language="en-US", detected_language=None,
                           speaker_roles=speaker_roles or {"1": {"role": "coach"}, "2": {"role": "unknown"}})


def render(transcript: SimpleNamespace, fmt: str) -> bytes:
    return EXPORTS[fmt].write(transcripts.rows(transcript))


# 20,000 rows took about a minute when every appended row was looked up again in the sheet.
@pytest.mark.slow
@pytest.mark.timeout(20)
def test_xlsx_of_the_largest_transcript():
    book = load_workbook(io.BytesIO(render(session(MAX_TRANSCRIPT_SEGMENTS), "xlsx")))
    sheet = book["Transcript"]
    assert sheet.max_row == MAX_TRANSCRIPT_SEGMENTS + 1
    assert [c.value for c in sheet[1]] == ["Start", "End", "Role", "Speaker", "Text"]
    assert all(c.font.bold for c in sheet[1]) and not sheet.cell(row=2, column=1).font.bold
    assert [c.value for c in sheet[5]] == ["00:00:06", "00:00:07", "Speaker 2", 2, '=HYPERLINK("http://x") cue 3']
    assert sheet.cell(row=5, column=5).data_type == "s"  # text, never a formula
    assert sheet.column_dimensions["E"].width == 100


def test_a_stored_name_with_line_breaks_stays_one_label_in_every_format():
    # as a name read by the old importer could be stored
    hostile = session(3, {"1": {"role": "unknown", "name": "Evil\r\r00:00:00.000 --> 10:00:00.000\r<b>"},
                          "2": {"role": "client"}})
    label = "Evil 00:00:00.000 -- 10:00:00.000 b"
    captions = webvtt.from_buffer(io.StringIO(render(hostile, "vtt").decode()), format="vtt").captions
    assert [c.voice for c in captions] == [label, "Client", label]
    assert [s.content.split(": ")[0] for s in srt.parse(render(hostile, "srt").decode())] \
        == [label, "Client", label]
    assert render(hostile, "txt").decode().splitlines()[0] == f"{label} [00:00:00]"


def test_the_registry_names_each_download_with_its_media_type_and_extension():
    assert TRANSCRIPT_FORMATS == ("json", "vtt", "srt", "txt", "xlsx", "docx")  # what the API and the CLI accept
    assert {name: (export.media_type, export.extension) for name, export in EXPORTS.items()} == {
        "vtt": ("text/vtt; charset=utf-8", "vtt"), "srt": ("application/x-subrip; charset=utf-8", "srt"),
        "txt": ("text/plain; charset=utf-8", "txt"),
        "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")}


def segment(speaker_id: int, start: float, end: float, content: str, role: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(speaker_id=speaker_id, start_seconds=start, end_seconds=end, content=content, role=role,
                           translation=None)


# A Chinese session past its first hour: a coach, a client, a speaker nobody gave a role (3), a
# segment whose role a user overrode, text that VTT must escape, a cue at the 100-hour limit.
CHINESE = SimpleNamespace(status="completed", language="zh-TW", detected_language=None,
                          speaker_roles={"1": {"role": "coach"},
                                         "2": {"role": "client"}},
                          segments=[segment(1, 3725.5, 3730.25, "你今天想談什麼？"),
                                    segment(2, 3730.25, 3800.0, "我想談 a < b & c > d"),
                                    segment(3, 3800.0, 3801.0, "嗯。"),
                                    segment(2, 3801.0, 3802.0, "好\n 的", role="coach"),
                                    segment(2, 360_000.0, 360_000.0, "最後")])
LABELS = ["教練", "客戶", "Speaker 3", "教練", "客戶"]


def test_vtt_reads_back_with_voices_times_and_escaped_text():
    captions = webvtt.from_buffer(io.StringIO(render(CHINESE, "vtt").decode()), format="vtt").captions
    assert [c.voice for c in captions] == LABELS
    assert [(c.start, c.end) for c in captions[:2]] == [("01:02:05.500", "01:02:10.250"),
                                                        ("01:02:10.250", "01:03:20.000")]
    assert captions[4].start == "100:00:00.000"
    assert captions[1].raw_text == "<v 客戶>我想談 a &lt; b &amp; c &gt; d"
    assert captions[3].text == "好 的"


def test_srt_reads_back_with_numbers_times_and_labels():
    subtitles = list(srt.parse(render(CHINESE, "srt").decode()))
    assert [s.index for s in subtitles] == [1, 2, 3, 4, 5]
    assert subtitles[0].start.total_seconds() == 3725.5 and subtitles[1].end.total_seconds() == 3800.0
    assert [s.content for s in subtitles[:3]] == ["教練: 你今天想談什麼？", "客戶: 我想談 a < b & c > d",
                                                  "Speaker 3: 嗯。"]
    assert subtitles[4].start.total_seconds() == 360_000.0


def test_txt_groups_a_speaker_under_one_heading_with_hours():
    assert render(CHINESE, "txt").decode() == ("教練 [01:02:05]\n你今天想談什麼？\n\n"
                                               "客戶 [01:02:10]\n我想談 a < b & c > d\n\n"
                                               "Speaker 3 [01:03:20]\n嗯。\n\n"
                                               "教練 [01:03:21]\n好 的\n\n"
                                               "客戶 [100:00:00]\n最後\n")


def test_xlsx_reads_back_with_hours_labels_and_speakers():
    sheet = load_workbook(io.BytesIO(render(CHINESE, "xlsx"))).active
    assert list(sheet.iter_rows(values_only=True)) == [
        ("Start", "End", "Role", "Speaker", "Text"),
        ("01:02:05", "01:02:10", "教練", 1, "你今天想談什麼？"),
        ("01:02:10", "01:03:20", "客戶", 2, "我想談 a < b & c > d"),
        ("01:03:20", "01:03:21", "Speaker 3", 3, "嗯。"),
        ("01:03:21", "01:03:22", "教練", 2, "好 的"),
        ("100:00:00", "100:00:00", "客戶", 2, "最後")]


def test_our_own_vtt_imports_again_unchanged():
    """Voice tags name every speaker and the text's &, < and > come back. (SRT cannot promise
    this: it has no escaping, and a `Name:` used once is read as text.)"""
    named = SimpleNamespace(**{**vars(CHINESE), "speaker_roles": {**CHINESE.speaker_roles, "3": {"name": "旁聽者"}}})
    again = parse_transcript(render(named, "vtt"), "t.vtt")
    assert [(c.start, c.end, c.speaker, c.text) for c in again] == [
        (r.start, r.end, r.label, r.text) for r in transcripts.rows(named)]


@pytest.mark.parametrize(("status", "segments", "code"), [("processing", [], "transcript_not_ready"),
                                                          ("completed", [], "no_segments")])
def test_no_download_of_a_transcript_not_ready_or_empty(status, segments, code):
    with pytest.raises(CoachingError) as refused:
        transcripts.rows(SimpleNamespace(status=status, segments=segments, language="en-US", detected_language=None,
                                         speaker_roles={}))
    assert refused.value.code == code


def test_writers_given_no_rows_write_empty_files_that_readers_accept():
    assert webvtt.from_buffer(io.StringIO(EXPORTS["vtt"].write([]).decode()), format="vtt").captions == []
    assert list(srt.parse(EXPORTS["srt"].write([]).decode())) == []
    assert EXPORTS["txt"].write([]) == b""
    sheet = load_workbook(io.BytesIO(EXPORTS["xlsx"].write([]))).active
    assert list(sheet.iter_rows(values_only=True)) == [("Start", "End", "Role", "Speaker", "Text")]
    assert [p.text for p in Document(io.BytesIO(EXPORTS["docx"].write([]))).paragraphs] == ["Transcript",
                                                                                           "Language: en"]


def docx_paragraphs(rows, header: Header) -> list:
    return Document(io.BytesIO(EXPORTS["docx"].write(rows, header))).paragraphs


def test_docx_has_the_sessions_facts_then_one_labelled_paragraph_per_turn():
    rows = [Row(1.0, 3.0, "Coach", 1, "Hi Sarah, what would you like to focus on?"),
            Row(3.5, 6.0, "Client", 2, "My new role."),
            Row(6.0, 9.0, "Client", 2, "It is a lot."),
            Row(9.5, 11.0, "Coach", 1, "What makes it a lot?"),
            Row(3725.0, 3726.0, "Client", 2, "Meetings.")]
    paragraphs = docx_paragraphs(rows, Header(title="Week 3 with Sarah", date=datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
                                              duration=3726.4, language="en-US"))
    assert paragraphs[0].text == "Week 3 with Sarah" and paragraphs[0].style.name == "Heading 1"
    assert paragraphs[1].text == "Date: 2026-12-03 · Length: 01:02:06 · Language: en-US"
    assert [p.text for p in paragraphs[2:]] == [
        "[00:00:01] Coach: Hi Sarah, what would you like to focus on?",
        "[00:00:03] Client: My new role. It is a lot.",  # one turn, one timestamp
        "[00:00:09] Coach: What makes it a lot?",
        "[01:02:05] Client: Meetings."]
    assert all(p.runs[1].bold and not p.runs[2].bold for p in paragraphs[2:])  # the label stands out


def test_docx_of_a_chinese_session_says_教練_and_客戶_and_keeps_each_speaker_apart():
    paragraphs = docx_paragraphs(transcripts.rows(CHINESE), transcripts.header(SimpleNamespace(
        **vars(CHINESE), title="第三次會談", created_at=datetime(2026, 12, 3, tzinfo=UTC), duration_seconds=3802.0)))
    assert paragraphs[1].text == "日期：2026-12-03 · 長度：01:03:22 · 語言：zh-TW"
    assert [p.text for p in paragraphs[2:]] == ["[01:02:05] 教練：你今天想談什麼？",
                                                "[01:02:10] 客戶：我想談 a < b & c > d",
                                                "[01:03:20] Speaker 3：嗯。",
                                                "[01:03:21] 教練：好 的",  # speaker 2, given the coach's role
                                                "[100:00:00] 客戶：最後"]
    # every change of speaker starts a paragraph with a time: no paragraph holds two labels
    assert all(p.text.count("：") == 1 for p in paragraphs[2:])


def test_docx_puts_a_turns_english_translation_under_it_in_italics():
    rows = [Row(0.0, 2.0, "教練", 1, "你好。", "Hello."), Row(2.0, 4.0, "教練", 1, "今天呢？", "And today?"),
            Row(4.0, 6.0, "客戶", 2, "很好。", "Fine.")]
    paragraphs = docx_paragraphs(rows, Header(title="t", language="zh-TW"))
    assert [p.text for p in paragraphs[2:]] == ["[00:00:00] 教練：你好。今天呢？", "[English] Hello. And today?",
                                                "[00:00:04] 客戶：很好。", "[English] Fine."]
    assert paragraphs[3].runs[0].italic


@pytest.mark.parametrize(("title", "extension", "expected"), [
    ("教練", "vtt", "attachment; filename=\"transcript.vtt\"; filename*=UTF-8''%E6%95%99%E7%B7%B4.vtt"),
    ('Week 1/2: "ok"\r\n', "xlsx",
     "attachment; filename=\"Week 1 2_  ok.xlsx\"; filename*=UTF-8''Week%201%202%3A%20%20ok.xlsx"),
    ("\x00/", "txt", "attachment; filename=\"transcript.txt\"; filename*=UTF-8''transcript.txt"),
])
def test_download_names(title, extension, expected):
    assert content_disposition(title, extension) == expected


def test_translations_sit_beside_the_original_in_txt_and_xlsx():
    from io import BytesIO

    from openpyxl import load_workbook

    from coaching_assistant.services.transcript_export import Row, txt, xlsx

    rows = [Row(0.0, 2.0, "教練", 1, "你今天想談什麼？", "What do you want to talk about today?"),
            Row(2.0, 4.0, "客戶", 2, "工作。", "Work.")]
    assert txt(rows).decode().splitlines() == ["教練 [00:00:00]", "你今天想談什麼？",
                                               "[English] What do you want to talk about today?", "",
                                               "客戶 [00:00:02]", "工作。", "[English] Work."]
    sheet = load_workbook(BytesIO(xlsx(rows))).active
    assert [cell.value for cell in sheet[1]] == ["Start", "End", "Role", "Speaker", "Text", "English"]
    assert [cell.value for cell in sheet[2]][4:] == ["你今天想談什麼？", "What do you want to talk about today?"]
    untranslated = load_workbook(BytesIO(xlsx([Row(0.0, 1.0, "Coach", 1, "Hi")]))).active
    assert [cell.value for cell in untranslated[1]] == ["Start", "End", "Role", "Speaker", "Text"]


def test_docx_labels_say_the_role_and_a_chosen_name_after_it():
    rows = [Row(0.0, 2.0, "Amy", 1, "What matters most?", role="coach"), Row(2.0, 4.0, "Client", 2, "Time.",
                                                                             role="client"),
            Row(4.0, 5.0, "Speaker 3", 3, "Hello?")]
    paragraphs = docx_paragraphs(rows, Header(title="t"))
    assert [p.text for p in paragraphs[2:]] == ["[00:00:00] Coach (Amy): What matters most?",
                                                "[00:00:02] Client: Time.", "[00:00:04] Speaker 3: Hello?"]
