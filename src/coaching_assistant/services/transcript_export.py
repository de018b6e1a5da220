"""Transcript downloads: pure functions from rows (times, label, text) to the bytes of a file, and
the registry of those formats (`EXPORTS`), which the API's export endpoint and the CLI offer. A new
format is one writer and one entry. Labels and text arrive as one clean line each (see
`transcripts.rows`), so no row can end a cue early or start one of its own. A document (DOCX) also
has a heading: the session's title, date, length and language (`Header`)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from urllib.parse import quote

from coaching_assistant.services.transcript_parsing import clock


@dataclass(frozen=True)
class Row:
    start: float
    end: float
    label: str  # Coach, 客戶, an imported name or "Speaker N": one line, no "<" or ">"
    speaker_id: int
    text: str  # one line
    translation: str | None = None  # English, one line (sessions with translate)
    role: str = "unknown"  # coach, client or unknown (after overrides)


def vtt(rows: Sequence[Row]) -> bytes:
    cues = [f"{clock(r.start, '.')} --> {clock(r.end, '.')}\n<v {r.label}>{_escape_vtt(r.text)}" for r in rows]
    return ("WEBVTT\n\n" + "\n\n".join(cues) + "\n").encode()


def srt(rows: Sequence[Row]) -> bytes:
    cues = [f"{i}\n{clock(r.start, ',')} --> {clock(r.end, ',')}\n{r.label}: {r.text}" for i, r in enumerate(rows, 1)]
    return ("\n\n".join(cues) + "\n").encode()


@dataclass(frozen=True)
class Header:
    """What a document says about the session above its transcript."""

    title: str = ""
    date: datetime | None = None
    duration: float | None = None  # seconds
    language: str = "en"  # the language the transcript is written in (a BCP-47 tag)

    @property
    def chinese(self) -> bool:
        return self.language.lower().startswith(("zh", "cmn", "yue"))


ENGLISH_PREFIX = "[English] "  # a TXT line holding the translation of the line above


def txt(rows: Sequence[Row]) -> bytes:
    """Consecutive rows of one speaker under one heading; a translation on the line below its text."""
    blocks: list[str] = []
    current = None
    for r in rows:
        if r.label != current:
            heading = f"{r.label} [{clock(r.start)[:-4]}]\n"
            blocks.append(f"\n{heading}" if blocks else heading)
            current = r.label
        blocks.append(r.text + "\n")
        if r.translation:
            blocks.append(f"{ENGLISH_PREFIX}{r.translation}\n")
    return "".join(blocks).encode()


def xlsx(rows: Sequence[Row]) -> bytes:
    """A write-only workbook: rows stream to the file as they are appended. The normal mode looked
    each new row up again (`sheet[sheet.max_row]`), which made 10,000 rows take 15 s and 20,000 a
    minute. Every string cell is typed as text, so a line starting with "=" is never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Transcript")
    sheet.column_dimensions["C"].width = 12
    sheet.column_dimensions["E"].width = 100
    bold = Font(bold=True)

    def text(value: str, font: Font | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        if font is not None:
            cell.font = font
        return cell

    translated = any(r.translation for r in rows)
    if translated:
        sheet.column_dimensions["F"].width = 100
    titles = ("Start", "End", "Role", "Speaker", "Text") + (("English",) if translated else ())
    sheet.append([text(title, bold) for title in titles])
    for r in rows:
        cells = [text(clock(r.start, ".")[:-4]), text(clock(r.end, ".")[:-4]), text(r.label), r.speaker_id,
                 text(r.text)]
        sheet.append([*cells, text(r.translation or "")] if translated else cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_DOCX_WORDS = {False: {"date": "Date", "length": "Length", "language": "Language", "colon": ": ", "coach": "Coach",
                      "client": "Client"},
               True: {"date": "日期", "length": "長度", "language": "語言", "colon": "：", "coach": "教練",
                      "client": "客戶"}}
CJK_FONT = "Microsoft JhengHei"  # Traditional Chinese in Word on Windows; other systems fall back to theirs


def docx(rows: Sequence[Row], header: Header) -> bytes:
    """A Word document for an ICF credential submission: the title, then date, length and
    language, then one paragraph per turn (consecutive rows of one speaker), each starting with
    its time and label: `[00:01:05] Coach: …` (教練：… in Chinese). So there is a timestamp at
    every change of speaker, and coach and client never share a paragraph. The label is always the
    role, as ICF asks; a name the user gave the speaker follows it: `Coach (Amy)`. A turn's English
    translation, if any, follows it in italics."""
    from docx import Document
    from docx.oxml.ns import qn

    words = _DOCX_WORDS[header.chinese]
    document = Document()
    document.core_properties.title = header.title
    if header.chinese:  # the East Asian font of every run, unless a run says otherwise
        document.styles["Normal"].element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), CJK_FONT)
    document.add_heading(header.title or "Transcript", level=1)
    facts = [f"{words['date']}{words['colon']}{header.date:%Y-%m-%d}" if header.date else None,
             f"{words['length']}{words['colon']}{clock(header.duration)[:-4]}" if header.duration is not None else None,
             f"{words['language']}{words['colon']}{header.language}"]
    document.add_paragraph(" · ".join(fact for fact in facts if fact))
    joiner = "" if header.chinese else " "
    for _speaker, grouped in groupby(rows, key=lambda row: (row.label, row.speaker_id)):
        turn = list(grouped)
        paragraph = document.add_paragraph()
        paragraph.add_run(f"[{clock(turn[0].start)[:-4]}] ")
        paragraph.add_run(f"{_role_label(turn[0], words)}{words['colon']}").bold = True
        paragraph.add_run(joiner.join(row.text for row in turn))
        english = " ".join(row.translation for row in turn if row.translation)
        if english:
            document.add_paragraph().add_run(f"{ENGLISH_PREFIX}{english}").italic = True
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _role_label(row: Row, words: dict[str, str]) -> str:
    role = words.get(row.role) if row.role in ("coach", "client") else None
    if role is None:
        return row.label
    return role if row.label == role else f"{role} ({row.label})"


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


Writer = Callable[[Sequence[Row], Header], bytes]


def _rows_only(write: Callable[[Sequence[Row]], bytes]) -> Writer:
    """A writer for a format that has no heading (subtitles, text, a sheet)."""
    return lambda rows, _header: write(rows)


@dataclass(frozen=True)
class Export:
    media_type: str
    extension: str
    writer: Writer

    def write(self, rows: Sequence[Row], header: Header | None = None) -> bytes:
        return self.writer(rows, header or Header())


EXPORTS: dict[str, Export] = {
    "vtt": Export("text/vtt; charset=utf-8", "vtt", _rows_only(vtt)),
    "srt": Export("application/x-subrip; charset=utf-8", "srt", _rows_only(srt)),
    "txt": Export("text/plain; charset=utf-8", "txt", _rows_only(txt)),
    "xlsx": Export("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", _rows_only(xlsx)),
    "docx": Export("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", docx),
}
# "json" is the transcript itself (`transcripts.transcript_json`: segments with words, history,
# versions; statistics), not a download of its rows.
TRANSCRIPT_FORMATS = ("json", *EXPORTS)


def content_disposition(title: str, extension: str) -> str:
    """attachment; an ASCII fallback name and the real one as RFC 5987 UTF-8 (CJK titles work)."""
    name = re.sub(r'[\x00-\x1f\x7f/\\"]+', " ", title).strip() or "transcript"
    fallback = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" _") or "transcript"
    return f"attachment; filename=\"{fallback}.{extension}\"; filename*=UTF-8''{quote(f'{name}.{extension}', safe='')}"
