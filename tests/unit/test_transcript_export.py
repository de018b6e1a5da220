"""Downloads written from a transcript without a database: the XLSX of the largest transcript we
accept, and labels that must stay one line in every format."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
import srt
import webvtt
from openpyxl import load_workbook

from coaching_assistant.services import transcripts


def session(count: int, speaker_roles: dict | None = None) -> SimpleNamespace:
    segments = [SimpleNamespace(speaker_id=1 + i % 2, start_seconds=i * 2.0, end_seconds=i * 2.0 + 1.5, role=None,
                                content=f"=HYPERLINK(\"http://x\") cue {i}" if i == 3 else f"what was said in cue {i}")
                for i in range(count)]
    return SimpleNamespace(status="completed", segments=segments, language="en-US",
                           speaker_roles=speaker_roles or {"1": {"role": "coach"}, "2": {"role": "unknown"}})


# 20,000 rows took about a minute when every appended row was looked up again in the sheet.
@pytest.mark.slow
@pytest.mark.timeout(20)
def test_xlsx_of_the_largest_transcript():
    book = load_workbook(io.BytesIO(transcripts.render(session(transcripts.MAX_TRANSCRIPT_SEGMENTS), "xlsx")))
    sheet = book["Transcript"]
    assert sheet.max_row == transcripts.MAX_TRANSCRIPT_SEGMENTS + 1
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
    captions = webvtt.from_buffer(io.StringIO(transcripts.render(hostile, "vtt").decode()), format="vtt").captions
    assert [c.voice for c in captions] == [label, "Client", label]
    assert [s.content.split(": ")[0] for s in srt.parse(transcripts.render(hostile, "srt").decode())] \
        == [label, "Client", label]
    assert transcripts.render(hostile, "txt").decode().splitlines()[0] == f"{label} [00:00:00]"
