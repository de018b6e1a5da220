"""Transcript downloads: pure functions from rows (times, label, text) to the bytes of a file, and
the registry of those formats (`EXPORTS`), which the API's export endpoint and the CLI offer. A new
format is one writer and one entry. Labels and text arrive as one clean line each (see
`transcripts.rows`), so no row can end a cue early or start one of its own."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


def vtt(rows: Sequence[Row]) -> bytes:
    cues = [f"{clock(r.start, '.')} --> {clock(r.end, '.')}\n<v {r.label}>{_escape_vtt(r.text)}" for r in rows]
    return ("WEBVTT\n\n" + "\n\n".join(cues) + "\n").encode()


def srt(rows: Sequence[Row]) -> bytes:
    cues = [f"{i}\n{clock(r.start, ',')} --> {clock(r.end, ',')}\n{r.label}: {r.text}" for i, r in enumerate(rows, 1)]
    return ("\n\n".join(cues) + "\n").encode()


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


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class Export:
    media_type: str
    extension: str
    write: Callable[[Sequence[Row]], bytes]


EXPORTS: dict[str, Export] = {
    "vtt": Export("text/vtt; charset=utf-8", "vtt", vtt),
    "srt": Export("application/x-subrip; charset=utf-8", "srt", srt),
    "txt": Export("text/plain; charset=utf-8", "txt", txt),
    "xlsx": Export("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", xlsx),
}
# "json" is the transcript itself (`transcripts.transcript_json`: segments with words, history,
# versions; statistics), not a download of its rows.
TRANSCRIPT_FORMATS = ("json", *EXPORTS)


def content_disposition(title: str, extension: str) -> str:
    """attachment; an ASCII fallback name and the real one as RFC 5987 UTF-8 (CJK titles work)."""
    name = re.sub(r'[\x00-\x1f\x7f/\\"]+', " ", title).strip() or "transcript"
    fallback = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" _") or "transcript"
    return f"attachment; filename=\"{fallback}.{extension}\"; filename*=UTF-8''{quote(f'{name}.{extension}', safe='')}"
