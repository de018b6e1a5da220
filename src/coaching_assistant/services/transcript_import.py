"""A session made from an existing VTT or SRT transcript instead of audio: the file is read by
`transcript_parsing`, its speakers become the session's speakers (Coach, Client, 教練, 客戶 become
roles), and the session waiting for its audio becomes a completed one."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from coaching_assistant.core.errors import ErrorCode, InvalidState
from coaching_assistant.models import CoachingSession, SessionStatus, TranscriptSegment
from coaching_assistant.services import session_state
from coaching_assistant.services.sessions import display_name
from coaching_assistant.services.transcript_parsing import ROLE_NAMES, ImportedCue, parse_transcript

MAX_IMPORT_BYTES = 5 * 1024 * 1024


def check_can_import(session: CoachingSession) -> None:
    if session.status != SessionStatus.UPLOADING:
        raise InvalidState(f"Only a session waiting for its audio can take an imported transcript; this one "
                           f"is '{session.status}'.", code=ErrorCode.INVALID_SESSION_STATUS)


def import_transcript(db: Session, session_id: uuid.UUID, data: bytes, filename: str) -> CoachingSession:
    """Make a waiting session (no audio yet) a completed one from an existing transcript.
    Reading the file is CPU work: callers in the API run this in the thread pool."""
    cues = parse_transcript(data, filename)
    speaker_ids, speaker_roles = _speakers(cues)
    if not session_state.complete_import(db, session_id, speaker_roles=speaker_roles, segments_count=len(cues),
                                         duration_seconds=round(max(c.end for c in cues), 3),
                                         audio_filename=display_name(filename, fallback="transcript")):
        db.rollback()
        raise InvalidState("The session changed while the transcript was read: it no longer waits for its audio.",
                           code=ErrorCode.INVALID_SESSION_STATUS)
    db.add_all(TranscriptSegment(session_id=session_id, position=i, start_seconds=cue.start, end_seconds=cue.end,
                                 speaker_id=speaker_ids[(cue.speaker or "").lower()], content=cue.text,
                                 confidence=None, words=[], history=[], version=1)
               for i, cue in enumerate(cues))
    db.commit()
    session = db.get(CoachingSession, session_id)
    assert session is not None
    db.refresh(session)
    return session


def _speakers(cues: list[ImportedCue]) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """Speaker ids numbered from 1 in order of appearance, by lower-cased name (no name is one
    speaker), and each speaker's stored entry: a role when the name is a role name, and the name."""
    speaker_ids: dict[str, int] = {}
    speaker_roles: dict[str, dict[str, Any]] = {}
    for cue in cues:
        key = (cue.speaker or "").lower()
        if key not in speaker_ids:
            speaker_ids[key] = len(speaker_ids) + 1
            role = ROLE_NAMES.get(key, "unknown")
            speaker_roles[str(speaker_ids[key])] = {"role": role, "confidence": 1.0 if role != "unknown" else None,
                                                    "source": "import", "name": cue.speaker}
    return speaker_ids, speaker_roles

