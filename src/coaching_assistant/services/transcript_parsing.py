"""Reading an existing VTT or SRT transcript into cues, in time linear in the file's size.

An import runs in the API process, and Python's `re` holds the GIL for a whole match: one
backtracking regex over a hostile cue (150,000 spaces took 106 s) froze every request, health
checks included. So every pattern here is anchored to one line or cannot backtrack (`<[^<>]*>`
stops at the next `<`), the voice tag is split with `str.find`, and a cue's text and the number of
cues are capped. VTT is read by webvtt-py, which is linear on the same inputs (runs of spaces,
`<`, `-`, blank lines, 5 MB files). SRT is read here, line by line: the `srt` package's one regex
over the whole file is quadratic in a run of digits after a blank line and in whitespace before
text it cannot read (20,000 characters: 8–9 s), and webvtt-py's SRT reader silently drops cues
without a number. This reader keeps `srt`'s tolerance (no numbers, no blank line between cues,
blank lines inside a cue) and names the line of any problem.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from coaching_assistant.core.errors import ErrorCode, InvalidTranscript
from coaching_assistant.services import roles

MAX_SEGMENT_CHARS = 10_000
MAX_TRANSCRIPT_SEGMENTS = 20_000
MAX_CUE_SECONDS = 100 * 3600  # a later cue time is a mistake (or an attack), not a recording

# Names that mean a role; compared lower-cased.
ROLE_NAMES = {"coach": "coach", "教練": "coach", "教练": "coach", "client": "client", "客戶": "client",
              "客户": "client", "coachee": "client"}


class ImportedCue(NamedTuple):
    start: float
    end: float
    speaker: str | None  # a voice tag or a `Name:` prefix; None when the cue names nobody
    text: str


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Text without control characters (they break XLSX and PostgreSQL text)."""
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    return " ".join(clean(text).split())


def clock(seconds: float, separator: str = ".") -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


# WebVTT ends lines at CR, LF or CRLF, and so do SRT players: a lone CR inside a "line" must not
# hide a second cue timing from our checks while a player sees it.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Hours are matched with \d+ and checked by length, so a 5,000-digit hour is an error we name
# rather than an int() that raises (or a timedelta that overflows).
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})"
_TIMING = re.compile(rf"\s*{_TIME}\s+-->\s+{_TIME}(?:\s.*)?", re.S)
_TAG = re.compile(r"<[^<>]*>")
_VOICE = re.compile(r"(?:\.[\w.-]+)?\s+(.+)", re.S)  # what follows "<v" up to the first ">"
_PREFIX = re.compile(r"([^:：<>]{1,40})[:：]\s*(.+)", re.S)  # `Name: text`, on one-lined text
# WebVTT writes &, < and > in cue text and voice names as these references (and SRT has none).
_VTT_REFERENCE = re.compile(r"&(amp|lt|gt|nbsp|lrm|rlm);")
_VTT_CHARACTERS = {"amp": "&", "lt": "<", "gt": ">", "nbsp": "\u00a0", "lrm": "\u200e", "rlm": "\u200f"}


def parse_transcript(data: bytes, filename: str) -> list[ImportedCue]:
    """The cues with text of a VTT or SRT file, speakers named by voice tags or `Name:` prefixes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidTranscript("The transcript file is not UTF-8 text.") from None
    if not text.strip():
        raise InvalidTranscript("The transcript file is empty.")
    lines = _LINE_BREAK.split(text)
    timings = _timings(lines)
    is_vtt = text.lstrip().startswith("WEBVTT")
    raw = _vtt_cues(text, lines, timings) if is_vtt else _srt_cues(lines, timings, filename)
    cues = [_cue(number, start, end, body, vtt=is_vtt) for number, (start, end, body) in enumerate(raw, 1)]
    # `Name: text` names a speaker when Name is a role name (Coach, 客戶, …) or starts two or more
    # cues; otherwise ("At noon: lunch", "My point is: yes") the colon is part of the text.
    prefixes = Counter(c.prefix.lower() for c in cues if c.prefix)
    result = [ImportedCue(c.start, c.end, c.prefix, c.after_prefix)
              if c.prefix and (c.prefix.lower() in ROLE_NAMES or prefixes[c.prefix.lower()] >= 2)
              else ImportedCue(c.start, c.end, c.voice, c.text) for c in cues]
    result = [cue for cue in result if cue.text]
    if not result:
        raise InvalidTranscript("The transcript file has no cues with text.")
    for cue in result:
        if cue.end < cue.start:
            raise InvalidTranscript(f"A cue ends before it starts ({clock(cue.start)} --> {clock(cue.end)}).")
    return result


def _timings(lines: list[str]) -> dict[int, tuple[float, float]]:
    """Every line with `-->`, by index, as (start, end) seconds; refuses a line that is not a cue
    timing we can read, a time past MAX_CUE_SECONDS, and more cues than MAX_TRANSCRIPT_SEGMENTS."""
    found: dict[int, tuple[float, float]] = {}
    for index, line in enumerate(lines):
        if "-->" not in line:
            continue
        if len(found) == MAX_TRANSCRIPT_SEGMENTS:
            raise InvalidTranscript(f"The file has more than {MAX_TRANSCRIPT_SEGMENTS:,} cues; a transcript may "
                                    f"have at most {MAX_TRANSCRIPT_SEGMENTS:,}.", code=ErrorCode.TOO_MANY_CUES)
        match = _TIMING.fullmatch(line)
        fields = match.groups() if match else ()
        if not match or any(int(value) > 59 for value in fields[1:3] + fields[5:7]):
            raise InvalidTranscript(f"Line {index + 1}: cannot read the cue timing {line.strip()[:80]!r} "
                                    "(expected 00:00:01.000 --> 00:00:02.000).")
        start, end = _seconds(fields[:4]), _seconds(fields[4:])
        if start is None or end is None:
            raise InvalidTranscript(f"Line {index + 1}: a cue time is beyond {MAX_CUE_SECONDS // 3600} hours "
                                    f"({line.strip()[:80]!r}).")
        found[index] = (start, end)
    return found


def _seconds(fields: tuple[str | None, ...]) -> float | None:
    hours, minutes, seconds, millis = fields
    if hours is not None and len(hours.lstrip("0")) > 3:
        return None
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds or 0) + int(millis or 0) / 1000
    return total if total <= MAX_CUE_SECONDS else None


def _vtt_cues(text: str, lines: list[str], timings: dict[int, tuple[float, float]]) -> list[tuple[float, float, str]]:
    """The cues webvtt-py reads. It skips a cue whose time has a comma before the milliseconds (as
    players do), so such a cue is refused here by its line rather than lost without a word."""
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    for index in timings:
        start, rest = lines[index].split("-->", 1)
        if "," in start + rest.split()[0]:
            raise InvalidTranscript(f"Line {index + 1}: a WebVTT cue time has ',' before the milliseconds, where "
                                    f"WebVTT has '.' ({lines[index].strip()[:80]!r}).")
    try:
        parsed = webvtt.from_buffer(io.StringIO(text), format="vtt")
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise InvalidTranscript(f"Not a valid WebVTT file: {exc}") from None
    return [(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.raw_text)
            for c in parsed.captions]


def _srt_cues(lines: list[str], timings: dict[int, tuple[float, float]],
              filename: str) -> list[tuple[float, float, str]]:
    """A cue is its timing line and the lines up to the next cue's number or timing line; blank
    lines at its ends are dropped, blank lines inside it kept (some tools write them)."""
    starts = sorted(timings)
    if not starts:
        raise InvalidTranscript(f"Not a valid SRT or WebVTT file ({filename}): no cue timings "
                                "(00:00:01,000 --> 00:00:02,000) found.")
    stray = [i for i in range(starts[0]) if lines[i].strip()]
    if stray and _is_number(lines[stray[-1]]):
        stray.pop()  # the first cue's number
    if stray:
        line = next((i for i in stray if not _is_number(lines[i])), stray[0])
        raise InvalidTranscript(f"Line {line + 1}: text before the first cue: {lines[line].strip()[:80]!r}.")
    cues: list[tuple[float, float, str]] = []
    for n, first in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(lines)
        if n + 1 < len(starts) and stop - 1 > first and _is_number(lines[stop - 1]):
            stop -= 1  # the next cue's number
        body = lines[first + 1:stop]
        while body and not body[-1].strip():
            body.pop()
        cues.append((*timings[first], "\n".join(body)))
    return cues


def _is_number(line: str) -> bool:
    stripped = line.strip()
    return stripped.isascii() and stripped.isdigit()


@dataclass(frozen=True)
class _Cue:
    start: float
    end: float
    text: str  # the whole text, tags removed
    voice: str | None = None  # from a <v Name> tag: certainly a speaker
    prefix: str | None = None  # from "Name: …": perhaps a speaker
    after_prefix: str = ""


def _cue(number: int, start: float, end: float, raw: str, *, vtt: bool) -> _Cue:
    raw = clean(raw).strip()
    voice, body = _voice(raw)
    text = one_line(_TAG.sub("", body))
    if vtt:  # after the tags are gone: an escaped "&lt;b&gt;" is text, not a tag
        text = one_line(_unescape_vtt(text))
        voice = None if voice is None else _unescape_vtt(voice)
    if len(text) > MAX_SEGMENT_CHARS:
        raise InvalidTranscript(f"Cue {number} ({clock(start)} --> {clock(end)}) has {len(text):,} characters "
                                f"of text; a cue may have at most {MAX_SEGMENT_CHARS:,}.", code=ErrorCode.CUE_TOO_LONG)
    if voice is not None:
        return _Cue(start, end, text, voice=roles.clean_name(voice))
    prefix = _PREFIX.fullmatch(text)
    if prefix and not any(ch.isdecimal() for ch in prefix.group(1)):
        name = roles.clean_name(prefix.group(1))
        if name:
            return _Cue(start, end, text, prefix=name, after_prefix=one_line(prefix.group(2)))
    return _Cue(start, end, text)


def _unescape_vtt(text: str) -> str:
    return _VTT_REFERENCE.sub(lambda reference: _VTT_CHARACTERS[reference.group(1)], text)


def _voice(raw: str) -> tuple[str | None, str]:
    """("Name", the rest) for a cue that opens with <v Name> or <v.class Name>, else (None, raw)."""
    if not raw.startswith("<v"):
        return None, raw
    end = raw.find(">")
    match = _VOICE.fullmatch(raw, 2, end) if end > 0 else None
    if match is None:
        return None, raw
    return match.group(1).strip() or None, raw[end + 1:]
