"""A completed session's transcript: effective roles, its JSON and download views, edits, and the
import that makes a session from an existing file (read by `transcript_parsing`)."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coaching_assistant.core.database import rows_changed
from coaching_assistant.core.errors import CoachingError
from coaching_assistant.models import CoachingSession, SessionStatus, TranscriptSegment
from coaching_assistant.services import roles, transcript_export
from coaching_assistant.services.sessions import InvalidState, NotFound, display_name
from coaching_assistant.services.transcript_export import content_disposition
from coaching_assistant.services.transcript_parsing import (
    MAX_SEGMENT_CHARS,
    MAX_TRANSCRIPT_SEGMENTS,
    ROLE_NAMES,
    ImportedCue,
    InvalidTranscript,
    clean,
    one_line,
    parse_transcript,
)

__all__ = ["FORMATS", "MAX_IMPORT_BYTES", "MAX_SEGMENT_CHARS", "MAX_TRANSCRIPT_SEGMENTS", "BadRequest",
           "EditConflict", "ImportedCue", "InvalidTranscript", "StaleVersion", "check_can_import",
           "content_disposition", "effective_role", "import_transcript", "lines_of", "parse_transcript", "render",
           "rows", "set_segment_content", "set_segment_roles", "set_speaker_roles", "statistics", "transcript_json"]

FORMATS = {"json": "application/json", "vtt": "text/vtt; charset=utf-8", "srt": "application/x-subrip; charset=utf-8",
           "txt": "text/plain; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_IMPORT_BYTES = 5 * 1024 * 1024
# A lost compare-and-set is retried on fresh data; with N concurrent writers of one row each round
# has a winner, so a writer loses at most N - 1 times in a row (jitter spreads the rounds out).
EDIT_ATTEMPTS = 40


class BadRequest(CoachingError):
    status_code = 422


class EditConflict(CoachingError):
    """The edit cannot be applied as it stands (too many concurrent writers, a full history)."""

    code = "edit_conflict"
    status_code = 409


class StaleVersion(CoachingError):
    """The client said which version it edited, and the segment has changed since."""

    code = "precondition_failed"
    status_code = 412


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
             "content": s.content, "confidence": s.confidence, "words": s.words, "history": s.history or [],
             "version": s.version}
            for s in segments
        ],
        "statistics": roles.statistics(lines_of(session), session.duration_seconds),
    }


def _role_out(session: CoachingSession, speaker: str, entry: dict[str, Any]) -> dict[str, Any]:
    role = entry.get("role", "unknown")
    return {"role": role, "confidence": entry.get("confidence"), "source": entry.get("source", "auto"),
            "label": roles.label(role, int(speaker), session.language, name=entry.get("name"))}


def _label(session: CoachingSession, segment: TranscriptSegment) -> str:
    return roles.label(effective_role(session, segment), segment.speaker_id, session.language,
                       name=_speaker(session, segment.speaker_id).get("name"))


def rows(session: CoachingSession) -> list[transcript_export.Row]:
    """What every download shows per segment; labels and text are one line each."""
    return [transcript_export.Row(s.start_seconds, s.end_seconds, _label(session, s), s.speaker_id,
                                  one_line(s.content)) for s in _ready(session)]


_WRITERS = {"vtt": transcript_export.vtt, "srt": transcript_export.srt, "txt": transcript_export.txt,
            "xlsx": transcript_export.xlsx}


def render(session: CoachingSession, fmt: str) -> bytes:
    """The transcript as `fmt` (vtt, srt, txt or xlsx; json is transcript_json)."""
    table = rows(session)
    if fmt not in _WRITERS:
        raise BadRequest(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.", code="unsupported_format")
    return _WRITERS[fmt](table)


# ---- edits ------------------------------------------------------------------------------------
# Every edit is a compare-and-set: read, then write only if what was read is still there, else read
# again. SELECT … FOR UPDATE is a no-op on SQLite (20 concurrent edits of one segment kept 2 of the
# 20 texts), so the same UPDATE … WHERE version = <read> guards both databases.


def _role(value: object, where: str) -> str:
    role = str(value).strip().lower() if isinstance(value, str) else ""
    if role not in roles.ROLES:
        raise BadRequest(f"{where}: {value!r} is not a role; use coach, client or unknown.", code="invalid_role")
    return role


def _pause(attempt: int) -> None:
    """Jittered backoff after a lost compare-and-set, so the losers do not collide again at once."""
    time.sleep(random.uniform(0, min(0.1, 0.002 * 2 ** attempt)))  # noqa: S311 - jitter, not a secret


def set_speaker_roles(db: Session, session: CoachingSession, assignments: dict[str, str]) -> None:
    """Roles chosen by the user. speaker_roles is one JSON value on the session, so two requests
    that each set one speaker would overwrite each other: the write is a compare-and-set on
    speaker_roles_version, and a lost race re-applies the request to the roles as they are now."""
    segments = _ready(session)
    speakers = {str(s.speaker_id) for s in segments}
    if not assignments:
        raise BadRequest("speaker_roles is empty.", code="invalid_role")
    chosen: dict[str, str] = {}
    for speaker, value in assignments.items():
        if speaker not in speakers:
            raise BadRequest(f"Speaker {speaker!r} does not exist in this transcript (speakers: "
                             f"{', '.join(sorted(speakers, key=int))}).", code="unknown_speaker")
        chosen[speaker] = _role(value, f"speaker {speaker}")
    for attempt in range(EDIT_ATTEMPTS):
        row = db.execute(select(CoachingSession.speaker_roles, CoachingSession.speaker_roles_version)
                         .where(CoachingSession.id == session.id)).first()
        if row is None:
            raise NotFound("The session was deleted.")
        current = dict(row.speaker_roles or {})
        for speaker, role in chosen.items():
            current[speaker] = {**current.get(speaker, {}), "role": role, "confidence": 1.0, "source": "user"}
        if rows_changed(db, update(CoachingSession)
                        .where(CoachingSession.id == session.id,
                               CoachingSession.speaker_roles_version == row.speaker_roles_version)
                        .values(speaker_roles=current, speaker_roles_version=row.speaker_roles_version + 1)
                        .execution_options(synchronize_session=False)) == 1:
            db.commit()
            return
        db.rollback()
        _pause(attempt)
    raise EditConflict("Too many edits of this transcript at once; try again.")


def _segment_ids(session: CoachingSession, keys: list[str]) -> dict[str, uuid.UUID]:
    """The segment id of each key of a request body, refusing malformed and repeated ids."""
    _ready(session)
    if not keys:
        raise BadRequest("No segment given.", code="invalid_segment")
    ids: dict[str, uuid.UUID] = {}
    for key in keys:
        try:
            ids[key] = uuid.UUID(key)
        except ValueError:
            raise BadRequest(f"{key!r} is not a segment id.", code="invalid_segment") from None
    if len(set(ids.values())) != len(ids):
        raise BadRequest("A segment is given more than once.", code="invalid_segment")
    return ids


class _Seen(NamedTuple):
    content: str
    history: list[dict[str, Any]]
    version: int


def _read(db: Session, session_id: uuid.UUID, ids: dict[str, uuid.UUID]) -> dict[uuid.UUID, _Seen]:
    """The segments as they are now, read with a plain SELECT (no ORM object to go stale)."""
    found = {row.id: _Seen(row.content, list(row.history or []), row.version) for row in db.execute(
        select(TranscriptSegment.id, TranscriptSegment.content, TranscriptSegment.history, TranscriptSegment.version)
        .where(TranscriptSegment.session_id == session_id, TranscriptSegment.id.in_(list(ids.values()))))}
    for key, segment_id in ids.items():
        if segment_id not in found:
            raise BadRequest(f"Segment {key} is not in this transcript.", code="unknown_segment")
    return found


def set_segment_roles(db: Session, session: CoachingSession, assignments: dict[str, str | None]) -> None:
    """A role per segment; null removes the override (the speaker's role applies again). A role is
    one value with no history, so the last writer wins: nothing else can be lost."""
    ids = _segment_ids(session, list(assignments))
    chosen = {ids[key]: (None if value is None else _role(value, f"segment {key}"))
              for key, value in assignments.items()}
    _read(db, session.id, ids)
    for segment_id, role in chosen.items():
        db.execute(update(TranscriptSegment)
                   .where(TranscriptSegment.id == segment_id, TranscriptSegment.session_id == session.id)
                   .values(role=role).execution_options(synchronize_session=False))
    db.commit()


def set_segment_content(db: Session, session: CoachingSession, edits: dict[str, str], *, max_history: int,
                        versions: dict[str, int] | None = None) -> None:
    """New text per segment, all or nothing; the replaced text goes to the segment's history.

    Each segment is written with UPDATE … WHERE version = <the version read>; when another edit got
    there first, the whole request is read and applied again, so the text it replaces (the other
    edit's) still lands in the history. `versions` (what the client read) turns that into a 412:
    the caller wants to see the other edit before overwriting it. The history is capped at
    `max_history` entries, so edits cannot grow a segment without bound."""
    ids = _segment_ids(session, list(edits))
    expected: dict[uuid.UUID, int] = {}
    for key, version in (versions or {}).items():
        try:
            segment_id = uuid.UUID(key)
        except ValueError:
            raise BadRequest(f"versions: {key!r} is not a segment id.", code="invalid_segment") from None
        if segment_id not in ids.values():
            raise BadRequest(f"versions names {key!r}, which this request does not edit.", code="invalid_segment")
        expected[segment_id] = version
    texts: dict[uuid.UUID, str] = {}
    for key, text in edits.items():
        if not isinstance(text, str) or not text.strip():
            raise BadRequest(f"Segment {key}: the text must not be empty.", code="invalid_content")
        if clean(text) != text:
            raise BadRequest(f"Segment {key}: the text contains control characters.", code="invalid_content")
        if len(text) > MAX_SEGMENT_CHARS:
            raise BadRequest(f"Segment {key}: the text is longer than {MAX_SEGMENT_CHARS} characters.",
                             code="invalid_content")
        texts[ids[key]] = text.strip()
    for attempt in range(EDIT_ATTEMPTS):
        seen = _read(db, session.id, ids)
        for segment_id, version in expected.items():
            if seen[segment_id].version != version:
                raise StaleVersion(f"Segment {segment_id} is at version {seen[segment_id].version}, not {version}: it "
                                   "was edited since you read it. Read the transcript again and re-apply your edit.")
        changes = {segment_id: text for segment_id, text in texts.items() if text != seen[segment_id].content}
        for key, segment_id in ids.items():
            if segment_id in changes and len(seen[segment_id].history) >= max_history:
                raise EditConflict(f"Segment {key} already keeps {max_history} earlier versions, the most a segment "
                                   "may keep; it cannot be edited again.", code="edit_history_full")
        now = datetime.now(UTC).isoformat()
        if all(_replace(db, segment_id, seen[segment_id], text, now) for segment_id, text in changes.items()):
            db.commit()
            return
        db.rollback()
        _pause(attempt)
    raise EditConflict("Too many edits of this segment at once; try again.")


def _replace(db: Session, segment_id: uuid.UUID, seen: _Seen, text: str, now: str) -> bool:
    """Write the new text if the segment is still the version that was read."""
    return rows_changed(db, update(TranscriptSegment)
                        .where(TranscriptSegment.id == segment_id, TranscriptSegment.version == seen.version)
                        .values(content=text, version=seen.version + 1,
                                history=[*seen.history, {"content": seen.content, "replaced_at": now}])
                        .execution_options(synchronize_session=False)) == 1


# ---- import of an existing VTT or SRT transcript -------------------------------------------


def check_can_import(session: CoachingSession) -> None:
    if session.status != SessionStatus.UPLOADING:
        raise InvalidState(f"Only a session waiting for its audio can take an imported transcript; this one "
                           f"is '{session.status}'.", code="invalid_session_status")


def import_transcript(db: Session, session_id: uuid.UUID, data: bytes, filename: str) -> CoachingSession:
    """Make a waiting session (no audio yet) a completed one from an existing transcript. The
    status changes with a compare-and-set, so a concurrent upload or import cannot interleave.
    Reading the file is CPU work: callers in the API run this in the thread pool."""
    cues = parse_transcript(data, filename)
    speaker_ids: dict[str, int] = {}
    speaker_roles: dict[str, dict[str, Any]] = {}
    for cue in cues:
        key = (cue.speaker or "").lower()
        if key not in speaker_ids:
            speaker_ids[key] = len(speaker_ids) + 1
            role = ROLE_NAMES.get(key, "unknown")
            speaker_roles[str(speaker_ids[key])] = {"role": role, "confidence": 1.0 if role != "unknown" else None,
                                                    "source": "import", "name": cue.speaker}
    now = datetime.now(UTC)
    claimed = rows_changed(db, update(CoachingSession)
                           .where(CoachingSession.id == session_id, CoachingSession.status == SessionStatus.UPLOADING)
                           .values(status=SessionStatus.COMPLETED, speaker_roles=speaker_roles,
                                   segments_count=len(cues), duration_seconds=round(max(c.end for c in cues), 3),
                                   audio_filename=display_name(filename, fallback="transcript"),
                                   completed_at=now, updated_at=now)
                           .execution_options(synchronize_session=False))
    if claimed != 1:
        db.rollback()
        raise InvalidState("The session changed while the transcript was read: it no longer waits for its audio.",
                           code="invalid_session_status")
    db.add_all(TranscriptSegment(session_id=session_id, position=i, start_seconds=cue.start, end_seconds=cue.end,
                                 speaker_id=speaker_ids[(cue.speaker or "").lower()], content=cue.text,
                                 confidence=None, words=[], history=[], version=1)
               for i, cue in enumerate(cues))
    db.commit()
    session = db.get(CoachingSession, session_id)
    assert session is not None
    db.refresh(session)
    return session
