"""A completed session's transcript: effective roles, exports, edits, statistics and imports."""

from __future__ import annotations

import io
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from coaching_assistant.core.database import rows_changed
from coaching_assistant.core.errors import CoachingError
from coaching_assistant.models import CoachingSession, SessionStatus, TranscriptSegment
from coaching_assistant.services import roles
from coaching_assistant.services.sessions import InvalidState, NotFound, display_name

FORMATS = {"json": "application/json", "vtt": "text/vtt; charset=utf-8", "srt": "application/x-subrip; charset=utf-8",
           "txt": "text/plain; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_SEGMENT_CHARS = 10_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class BadRequest(CoachingError):
    status_code = 422


def _ready(session: CoachingSession) -> list[TranscriptSegment]:
    if session.status != SessionStatus.COMPLETED:
        raise InvalidState(f"The transcript is not ready: the session is '{session.status}'.",
                           code="transcript_not_ready")
    if not session.segments:
        raise NotFound("This session's transcript has no segments.", code="no_segments")
    return list(session.segments)


def _speaker(session: CoachingSession, speaker_id: int) -> dict[str, Any]:
    """What is stored about a speaker: role, confidence, source, an imported name."""
    return (session.speaker_roles or {}).get(str(speaker_id)) or {}


def effective_role(session: CoachingSession, segment: TranscriptSegment) -> str:
    return segment.role or _speaker(session, segment.speaker_id).get("role") or "unknown"


def lines_of(session: CoachingSession) -> list[roles.Line]:
    return [roles.Line(s.speaker_id, s.start_seconds, s.end_seconds, s.content, effective_role(session, s))
            for s in session.segments]


def statistics(session: CoachingSession) -> dict[str, Any]:
    _ready(session)
    return roles.statistics(lines_of(session), session.duration_seconds)


def transcript_json(session: CoachingSession) -> dict[str, Any]:
    segments = _ready(session)
    return {
        "session_id": session.id,
        "title": session.title,
        "language": session.language,
        "duration_seconds": session.duration_seconds,
        "speaker_roles": {speaker: _role_out(session, speaker, entry) for speaker, entry
                          in sorted((session.speaker_roles or {}).items(), key=lambda item: int(item[0]))},
        "segments": [
            {"id": s.id, "speaker_id": s.speaker_id, "role": effective_role(session, s),
             "role_override": s.role, "start_seconds": s.start_seconds, "end_seconds": s.end_seconds,
             "content": s.content, "confidence": s.confidence, "words": s.words, "history": s.history or []}
            for s in segments
        ],
        "statistics": roles.statistics(lines_of(session), session.duration_seconds),
    }


def _role_out(session: CoachingSession, speaker: str, entry: dict[str, Any]) -> dict[str, Any]:
    role = entry.get("role", "unknown")
    return {"role": role, "confidence": entry.get("confidence"), "source": entry.get("source", "auto"),
            "label": roles.label(role, int(speaker), session.language, name=entry.get("name"))}


def _clock(seconds: float, separator: str) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _label(session: CoachingSession, segment: TranscriptSegment) -> str:
    return roles.label(effective_role(session, segment), segment.speaker_id, session.language,
                       name=_speaker(session, segment.speaker_id).get("name"))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """Text without control characters (they break XLSX and PostgreSQL text)."""
    return _CONTROL.sub("", text)


def _one_line(text: str) -> str:
    return " ".join(_clean(text).split())


def render(session: CoachingSession, fmt: str) -> bytes:
    """The transcript as `fmt` (vtt, srt, txt or xlsx; json is transcript_json)."""
    segments = _ready(session)
    if fmt == "vtt":
        cues = [f"{_clock(s.start_seconds, '.')} --> {_clock(s.end_seconds, '.')}\n"
                f"<v {_label(session, s)}>{_escape_vtt(_one_line(s.content))}" for s in segments]
        return ("WEBVTT\n\n" + "\n\n".join(cues) + "\n").encode()
    if fmt == "srt":
        cues = [f"{i}\n{_clock(s.start_seconds, ',')} --> {_clock(s.end_seconds, ',')}\n"
                f"{_label(session, s)}: {_one_line(s.content)}" for i, s in enumerate(segments, 1)]
        return ("\n\n".join(cues) + "\n").encode()
    if fmt == "txt":
        blocks: list[str] = []
        current = None
        for s in segments:
            name = _label(session, s)
            if name != current:
                blocks.append(f"\n{name} [{_clock(s.start_seconds, '.')[:8]}]\n" if blocks else
                              f"{name} [{_clock(s.start_seconds, '.')[:8]}]\n")
                current = name
            blocks.append(_one_line(s.content) + "\n")
        return "".join(blocks).encode()
    if fmt == "xlsx":
        return _xlsx(session, segments)
    raise BadRequest(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.", code="unsupported_format")


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx(session: CoachingSession, segments: list[TranscriptSegment]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Transcript"
    sheet.append(["Start", "End", "Role", "Speaker", "Text"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for s in segments:
        sheet.append([_clock(s.start_seconds, ".")[:-4], _clock(s.end_seconds, ".")[:-4], _label(session, s),
                      s.speaker_id, _one_line(s.content)])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text that starts with "=" is text, never a formula
    sheet.column_dimensions["C"].width = 12
    sheet.column_dimensions["E"].width = 100
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def content_disposition(title: str, fmt: str) -> str:
    """attachment; an ASCII fallback name and the real one as RFC 5987 UTF-8 (CJK titles work)."""
    name = re.sub(r'[\x00-\x1f\x7f/\\"]+', " ", title).strip() or "transcript"
    fallback = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip(" _") or "transcript"
    return f"attachment; filename=\"{fallback}.{fmt}\"; filename*=UTF-8''{quote(f'{name}.{fmt}', safe='')}"


def _role(value: object, where: str) -> str:
    role = str(value).strip().lower() if isinstance(value, str) else ""
    if role not in roles.ROLES:
        raise BadRequest(f"{where}: {value!r} is not a role; use coach, client or unknown.", code="invalid_role")
    return role


def set_speaker_roles(db: Session, session: CoachingSession, assignments: dict[str, str]) -> None:
    segments = _ready(session)
    speakers = {str(s.speaker_id) for s in segments}
    if not assignments:
        raise BadRequest("speaker_roles is empty.", code="invalid_role")
    current = dict(session.speaker_roles or {})
    for speaker, value in assignments.items():
        if speaker not in speakers:
            raise BadRequest(f"Speaker {speaker!r} does not exist in this transcript (speakers: "
                             f"{', '.join(sorted(speakers, key=int))}).", code="unknown_speaker")
        current[speaker] = {**current.get(speaker, {}), "role": _role(value, f"speaker {speaker}"),
                            "confidence": 1.0, "source": "user"}
    session.speaker_roles = current
    db.commit()


def _segments_by_id(session: CoachingSession, ids: list[str]) -> dict[str, TranscriptSegment]:
    _ready(session)
    db = object_session(session)
    assert db is not None
    # Lock the session's segments for this transaction: two edits of one segment each keep the
    # other's text in the history instead of overwriting it.
    locked = db.scalars(select(TranscriptSegment).where(TranscriptSegment.session_id == session.id)
                        .order_by(TranscriptSegment.position).with_for_update().execution_options(populate_existing=True))
    by_id = {str(s.id): s for s in locked}
    if not ids:
        raise BadRequest("No segment given.", code="invalid_segment")
    for segment_id in ids:
        try:
            key = str(uuid.UUID(segment_id))
        except ValueError:
            raise BadRequest(f"{segment_id!r} is not a segment id.", code="invalid_segment") from None
        if key not in by_id:
            raise BadRequest(f"Segment {segment_id} is not in this transcript.", code="unknown_segment")
    return {segment_id: by_id[str(uuid.UUID(segment_id))] for segment_id in ids}


def set_segment_roles(db: Session, session: CoachingSession, assignments: dict[str, str | None]) -> None:
    """A role per segment; null removes the override (the speaker's role applies again)."""
    targets = _segments_by_id(session, list(assignments))
    updates = {key: (None if value is None else _role(value, f"segment {key}")) for key, value in assignments.items()}
    for key, role in updates.items():
        targets[key].role = role
    db.commit()


def set_segment_content(db: Session, session: CoachingSession, edits: dict[str, str]) -> None:
    """New text per segment; the replaced text goes to the segment's history."""
    targets = _segments_by_id(session, list(edits))
    for key, text in edits.items():
        if not isinstance(text, str) or not text.strip():
            raise BadRequest(f"Segment {key}: the text must not be empty.", code="invalid_content")
        if _CONTROL.search(text):
            raise BadRequest(f"Segment {key}: the text contains control characters.", code="invalid_content")
        if len(text) > MAX_SEGMENT_CHARS:
            raise BadRequest(f"Segment {key}: the text is longer than {MAX_SEGMENT_CHARS} characters.",
                             code="invalid_content")
    now = datetime.now(UTC).isoformat()
    for key, text in edits.items():
        segment = targets[key]
        if text.strip() == segment.content:
            continue
        segment.history = [*(segment.history or []), {"content": segment.content, "replaced_at": now}]
        segment.content = text.strip()
    db.commit()


# ---- import of an existing VTT or SRT transcript -------------------------------------------

_NAMES = {"coach": "coach", "教練": "coach", "教练": "coach", "client": "client", "客戶": "client",
          "客户": "client", "coachee": "client"}  # keys compared lower-cased
_PREFIX = re.compile(r"^\s*([^:：<>\n]{1,40})[:：]\s*(.+)$", re.S)
_TIMING = re.compile(r"^\s*(\d+:)?\d{1,2}:\d{2}[.,]\d{3}\s+-->\s+(\d+:)?\d{1,2}:\d{2}[.,]\d{3}(\s.*)?$")
_VOICE = re.compile(r"^\s*<v(?:\.[\w.-]+)?\s+([^>]+)>(.*?)(?:</v>)?\s*$", re.S)


def parse_transcript(data: bytes, filename: str) -> list[tuple[float, float, str | None, str]]:
    """(start, end, speaker name or None, text) per cue of a VTT or SRT file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("The transcript file is not UTF-8 text.", code="invalid_transcript") from None
    if not text.strip():
        raise BadRequest("The transcript file is empty.", code="invalid_transcript")
    for number, line in enumerate(text.splitlines(), 1):
        if "-->" in line and not _TIMING.match(line):
            raise BadRequest(f"Line {number}: cannot read the cue timing {line.strip()[:80]!r} "
                             "(expected 00:00:01.000 --> 00:00:02.000).", code="invalid_transcript")
    cues: list[_Cue] = []
    if text.lstrip().startswith("WEBVTT"):
        import webvtt
        from webvtt.errors import MalformedFileError

        try:
            parsed = webvtt.from_buffer(io.StringIO(text), format="vtt")
        except MalformedFileError as exc:
            raise BadRequest(f"Not a valid WebVTT file: {exc}", code="invalid_transcript") from None
        cues = [_cue(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.raw_text)
                for c in parsed.captions]
    else:
        import srt

        try:
            subtitles = list(srt.parse(text, ignore_errors=False))
        except (srt.SRTParseError, ValueError) as exc:
            raise BadRequest(f"Not a valid SRT or WebVTT file ({filename}): {exc}", code="invalid_transcript") from None
        cues = [_cue(sub.start.total_seconds(), sub.end.total_seconds(), sub.content) for sub in subtitles]
    # `Name: text` names a speaker when Name is a role name (Coach, 客戶, …) or starts two or more
    # cues; otherwise ("At noon: lunch", "My point is: yes") the colon is part of the text.
    prefixes = Counter(c.prefix.lower() for c in cues if c.prefix)
    result: list[tuple[float, float, str | None, str]] = []
    for c in cues:
        if c.prefix and (c.prefix.lower() in _NAMES or prefixes[c.prefix.lower()] >= 2):
            result.append((c.start, c.end, c.prefix, c.after_prefix))
        else:
            result.append((c.start, c.end, c.voice, c.text))
    result = [cue for cue in result if cue[3]]
    if not result:
        raise BadRequest("The transcript file has no cues with text.", code="invalid_transcript")
    for start, end, _, _ in result:
        if end < start:
            raise BadRequest(f"A cue ends before it starts ({_clock(start, '.')} --> {_clock(end, '.')}).",
                             code="invalid_transcript")
    return result


@dataclass(frozen=True)
class _Cue:
    start: float
    end: float
    text: str  # the whole text, tags removed
    voice: str | None = None  # from a <v Name> tag: certainly a speaker
    prefix: str | None = None  # from "Name: …": perhaps a speaker
    after_prefix: str = ""


def _cue(start: float, end: float, raw: str) -> _Cue:
    raw = _clean(raw).strip()
    voice = _VOICE.match(raw)
    if voice:
        return _Cue(start, end, _one_line(re.sub(r"<[^>]+>", "", voice.group(2))), voice=voice.group(1).strip())
    text = _one_line(re.sub(r"<[^>]+>", "", raw))
    prefix = _PREFIX.match(text)
    if prefix and not re.search(r"\d", prefix.group(1)):
        return _Cue(start, end, text, prefix=prefix.group(1).strip(), after_prefix=_one_line(prefix.group(2)))
    return _Cue(start, end, text)


def check_can_import(session: CoachingSession) -> None:
    if session.status != SessionStatus.UPLOADING:
        raise InvalidState(f"Only a session waiting for its audio can take an imported transcript; this one "
                           f"is '{session.status}'.", code="invalid_session_status")


def import_transcript(db: Session, session_id: uuid.UUID, data: bytes, filename: str) -> CoachingSession:
    """Make a waiting session (no audio yet) a completed one from an existing transcript. The
    status changes with a compare-and-set, so a concurrent upload or import cannot interleave."""
    cues = parse_transcript(data, filename)
    speaker_ids: dict[str, int] = {}
    speaker_roles: dict[str, dict[str, Any]] = {}
    for _, _, name, _ in cues:
        key = (name or "").strip().lower()
        if key not in speaker_ids:
            speaker_ids[key] = len(speaker_ids) + 1
            role = _NAMES.get(key, "unknown")
            speaker_roles[str(speaker_ids[key])] = {"role": role, "confidence": 1.0 if role != "unknown" else None,
                                                    "source": "import", "name": name}
    now = datetime.now(UTC)
    claimed = rows_changed(db, update(CoachingSession)
                           .where(CoachingSession.id == session_id, CoachingSession.status == SessionStatus.UPLOADING)
                           .values(status=SessionStatus.COMPLETED, speaker_roles=speaker_roles,
                                   segments_count=len(cues), duration_seconds=round(max(c[1] for c in cues), 3),
                                   audio_filename=display_name(filename, fallback="transcript"),
                                   completed_at=now, updated_at=now)
                           .execution_options(synchronize_session=False))
    if claimed != 1:
        db.rollback()
        raise InvalidState("The session changed while the transcript was read: it no longer waits for its audio.",
                           code="invalid_session_status")
    db.add_all(TranscriptSegment(session_id=session_id, position=i, start_seconds=start, end_seconds=end,
                                 speaker_id=speaker_ids[(name or "").strip().lower()], content=text,
                                 confidence=None, words=[], history=[])
               for i, (start, end, name, text) in enumerate(cues))
    db.commit()
    session = db.get(CoachingSession, session_id)
    assert session is not None
    db.refresh(session)
    return session
