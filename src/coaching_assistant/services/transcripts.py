"""A completed session's transcript as it is read: each segment's effective role and label, the
JSON view, the statistics, and the rows every download is written from (`transcript_export`).

Only reads live here; edits (`transcript_edits`) and the import of an existing file
(`transcript_import`) write. Every view and every edit reads the transcript through
`completed_segments`, so they refuse a not-ready or empty transcript with the same error."""

from __future__ import annotations

from typing import Any

from coaching_assistant.core.errors import ErrorCode, InvalidState, NotFound
from coaching_assistant.models import CoachingSession, SessionStatus, TranscriptSegment
from coaching_assistant.services import languages, roles, transcript_export
from coaching_assistant.services.transcript_parsing import one_line


def completed_segments(session: CoachingSession) -> list[TranscriptSegment]:
    """The segments of a completed transcript; refuses a session not completed or without segments."""
    if session.status != SessionStatus.COMPLETED:
        raise InvalidState(f"The transcript is not ready: the session is '{session.status}'.",
                           code=ErrorCode.TRANSCRIPT_NOT_READY)
    if not session.segments:
        raise NotFound("This session's transcript has no segments.", code=ErrorCode.NO_SEGMENTS)
    return list(session.segments)


def text_language(session: CoachingSession) -> str:
    """The language labels are written in: the session's, or for `auto` the detected one."""
    return languages.text_language(session.language, session.detected_language)


def _speaker(session: CoachingSession, speaker_id: int) -> dict[str, Any]:
    """What is stored about a speaker: role, confidence, source, an imported name."""
    return (session.speaker_roles or {}).get(str(speaker_id)) or {}


def effective_role(session: CoachingSession, segment: TranscriptSegment) -> str:
    """The segment's own role when a user set one, else its speaker's, else unknown."""
    return segment.role or _speaker(session, segment.speaker_id).get("role") or "unknown"


def lines_of(session: CoachingSession) -> list[roles.Line]:
    return [roles.Line(s.speaker_id, s.start_seconds, s.end_seconds, s.content, effective_role(session, s))
            for s in session.segments]


def statistics(session: CoachingSession) -> dict[str, Any]:
    completed_segments(session)
    return roles.statistics(lines_of(session), session.duration_seconds)


def transcript_json(session: CoachingSession) -> dict[str, Any]:
    segments = completed_segments(session)
    return {
        "session_id": session.id,
        "title": session.title,
        "language": session.language,
        "detected_language": session.detected_language,
        "language_probability": session.language_probability,
        "duration_seconds": session.duration_seconds,
        "speaker_roles": {speaker: _role_out(session, speaker, entry) for speaker, entry
                          in sorted((session.speaker_roles or {}).items(), key=lambda item: int(item[0]))},
        "segments": [
            {"id": s.id, "speaker_id": s.speaker_id, "role": effective_role(session, s),
             "role_override": s.role, "start_seconds": s.start_seconds, "end_seconds": s.end_seconds,
             "label": _label(session, s),
             "content": s.content, "confidence": s.confidence, "words": s.words, "translation": s.translation,
             "history": s.history or [],
             "version": s.version}
            for s in segments
        ],
        "statistics": roles.statistics(lines_of(session), session.duration_seconds),
    }


def _role_out(session: CoachingSession, speaker: str, entry: dict[str, Any]) -> dict[str, Any]:
    role = entry.get("role", "unknown")
    return {"role": role, "confidence": entry.get("confidence"), "source": entry.get("source", "auto"),
            "label": roles.label(role, int(speaker), text_language(session), name=entry.get("name"),
                                 chosen=entry.get("label")),
            "user_label": roles.clean_name(entry.get("label"))}


def _label(session: CoachingSession, segment: TranscriptSegment) -> str:
    """The speaker's label; a segment given another role than its speaker's (a line the diarizer
    gave the wrong speaker) is labelled by that role, not by the speaker's chosen name."""
    speaker = _speaker(session, segment.speaker_id)
    role = effective_role(session, segment)
    chosen = speaker.get("label") if role == speaker.get("role", "unknown") else None
    return roles.label(role, segment.speaker_id, text_language(session), name=speaker.get("name"), chosen=chosen)


def header(session: CoachingSession) -> transcript_export.Header:
    """What a document says above the transcript: title, date, length, language."""
    return transcript_export.Header(title=session.title, date=session.created_at, duration=session.duration_seconds,
                                    language=text_language(session))


def rows(session: CoachingSession) -> list[transcript_export.Row]:
    """What every download shows per segment; labels and text are one line each."""
    return [transcript_export.Row(s.start_seconds, s.end_seconds, _label(session, s), s.speaker_id,
                                  one_line(s.content), one_line(s.translation) if s.translation else None,
                                  role=effective_role(session, s))
            for s in completed_segments(session)]
