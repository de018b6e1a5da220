"""Session logic behind the API: create, attach audio, retry, delete, read status/transcript.

Every query here is scoped to the calling user, so another user's session is simply not found.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError, PermanentError
from coaching_assistant.models import CoachingSession, ProcessingStatus, SessionStatus, User
from coaching_assistant.services import audio, storage

logger = logging.getLogger(__name__)

# enqueue(session_id, audio_uri, language, original_filename, task_id) -> None
Enqueue = Callable[[str, str, str, str | None, str], None]


class NotFound(CoachingError):
    code = "session_not_found"
    status_code = 404


class InvalidState(CoachingError):
    code = "invalid_session_status"
    status_code = 409


class BrokerUnavailable(CoachingError):
    code = "broker_unavailable"
    status_code = 503


@dataclass
class ReceivedFile:
    temp_path: Path
    filename: str
    size: int


def create_session(db: Session, *, user: User, title: str, language: str) -> CoachingSession:
    session = CoachingSession(user_id=user.id, title=title, language=language,
                              status=SessionStatus.UPLOADING)
    db.add(session)
    db.commit()
    return session


def get_session(db: Session, *, user: User, session_id: uuid.UUID) -> CoachingSession:
    session = db.scalar(select(CoachingSession).where(CoachingSession.id == session_id,
                                                      CoachingSession.user_id == user.id))
    if session is None:
        raise NotFound(f"Session {session_id} not found")
    return session


def list_sessions(db: Session, *, user: User, status: str | None, page: int,
                  page_size: int) -> tuple[list[CoachingSession], int]:
    query = select(CoachingSession).where(CoachingSession.user_id == user.id)
    if status:
        query = query.where(CoachingSession.status == status)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(CoachingSession.created_at.desc(), CoachingSession.id)
                      .offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), total


def _reset_progress(db: Session, session: CoachingSession, message: str) -> None:
    row = session.processing_status or ProcessingStatus(session_id=session.id)
    row.status = session.status
    row.progress = 0
    row.message = message
    row.duration_processed = 0.0
    row.duration_total = session.duration_seconds
    row.processing_speed = None
    row.started_at = None
    db.add(row)


def _enqueue_after_commit(db: Session, session: CoachingSession, enqueue: Enqueue,
                          undo: Callable[[], None]) -> None:
    """The row is committed first, so a worker always finds it; if queuing fails, undo."""
    db.commit()
    try:
        enqueue(str(session.id), session.audio_uri or "", session.language, session.audio_filename,
                session.transcription_job_id or "")
    except Exception as exc:
        logger.exception("Could not queue transcription for session %s", session.id)
        undo()
        db.commit()
        raise BrokerUnavailable("The task queue is unreachable; nothing was queued. Try again shortly.") \
            from exc


def attach_audio(db: Session, *, settings: Settings, user: User, session_id: uuid.UUID,
                 received: ReceivedFile, enqueue: Enqueue) -> CoachingSession:
    """Validate the received file, store it, mark the session pending and queue the work."""
    try:
        session = get_session(db, user=user, session_id=session_id)
        if session.status != SessionStatus.UPLOADING:
            raise InvalidState(f"Audio can only be uploaded while the session is 'uploading' "
                               f"(it is '{session.status}').")
        extension = audio.extension_of(received.filename)
        if extension not in audio.SUPPORTED_FORMATS:
            raise CoachingError(
                f"Unsupported file type '.{extension}'. Upload one of: "
                + ", ".join(sorted(audio.SUPPORTED_FORMATS)) + ".",
                code="unsupported_format", status_code=415)
        if received.size == 0:
            raise CoachingError("The uploaded file is empty.", code="empty_file", status_code=400)
        info = audio.probe(received.temp_path, extension)
    except BaseException:
        received.temp_path.unlink(missing_ok=True)
        raise

    session.audio_uri = storage.store(settings, temp_path=received.temp_path, session_id=session.id,
                                      extension=extension)
    session.audio_filename = _display_name(received.filename)
    session.audio_size_bytes = received.size
    session.duration_seconds = info.duration_seconds
    session.status = SessionStatus.PENDING
    session.transcription_job_id = str(uuid.uuid4())
    session.error_code = session.error_message = None
    _reset_progress(db, session, "Queued for transcription")

    def undo() -> None:
        storage.delete(settings, session.audio_uri)
        session.status = SessionStatus.UPLOADING
        session.audio_uri = session.audio_filename = session.transcription_job_id = None
        session.audio_size_bytes = None
        session.duration_seconds = None

    _enqueue_after_commit(db, session, enqueue, undo)
    return session


def retry(db: Session, *, user: User, session_id: uuid.UUID, enqueue: Enqueue) -> CoachingSession:
    session = get_session(db, user=user, session_id=session_id)
    if session.status != SessionStatus.FAILED:
        raise InvalidState(f"Only a failed session can be retried (it is '{session.status}').")
    if not session.audio_uri:
        raise InvalidState("This session has no audio to transcribe; upload it first.",
                           code="audio_missing")
    previous = (session.error_code, session.error_message, session.transcription_job_id, session.attempts)
    session.status = SessionStatus.PENDING
    session.error_code = session.error_message = None
    session.transcription_job_id = str(uuid.uuid4())
    session.attempts = 0
    _reset_progress(db, session, "Queued for transcription (retry)")

    def undo() -> None:
        session.status = SessionStatus.FAILED
        session.error_code, session.error_message, session.transcription_job_id, session.attempts = previous

    _enqueue_after_commit(db, session, enqueue, undo)
    return session


def delete_session(db: Session, *, settings: Settings, user: User, session_id: uuid.UUID) -> None:
    session = get_session(db, user=user, session_id=session_id)
    uri = session.audio_uri
    db.delete(session)
    db.commit()
    storage.delete(settings, uri)


def status_of(session: CoachingSession, *, task_state: str | None) -> dict[str, Any]:
    row = session.processing_status
    progress = row.progress if row else 0
    if session.status == SessionStatus.COMPLETED:
        progress = 100
    estimated = None
    speed = row.processing_speed if row else None
    if (session.status == SessionStatus.PROCESSING and row and row.started_at and speed
            and row.duration_total and row.duration_processed is not None):
        remaining = max(0.0, row.duration_total - row.duration_processed) / speed
        estimated = datetime.now(UTC) + timedelta(seconds=remaining)
    message = row.message if row else None
    if session.status == SessionStatus.FAILED:
        message = session.error_message or message
    elif session.status == SessionStatus.UPLOADING:
        message = "Waiting for the audio upload"
    return {
        "session_id": session.id,
        "status": session.status,
        "progress": progress,
        "message": message,
        "duration_processed": row.duration_processed if row else None,
        "duration_total": (row.duration_total if row and row.duration_total else session.duration_seconds),
        "started_at": row.started_at if row else None,
        "estimated_completion": estimated,
        "processing_speed": speed,
        "task_state": task_state,
        "error_code": session.error_code,
    }


def transcript_of(session: CoachingSession) -> dict[str, Any]:
    if session.status != SessionStatus.COMPLETED:
        raise InvalidState(f"The transcript is not ready: the session is '{session.status}'.",
                           code="transcript_not_ready")
    return {
        "session_id": session.id,
        "title": session.title,
        "language": session.language,
        "duration_seconds": session.duration_seconds,
        "segments": [
            {"id": s.id, "speaker_id": s.speaker_id, "start_seconds": s.start_seconds,
             "end_seconds": s.end_seconds, "content": s.content, "confidence": s.confidence,
             "words": s.words}
            for s in session.segments
        ],
    }


def transcript_text(session: CoachingSession) -> str:
    transcript_of(session)  # same readiness check
    return "".join(f"{s.content}\n" for s in session.segments)


def _display_name(filename: str) -> str:
    """Keep the user's file name only for display: no path parts, no control characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:255] or "audio"


__all__ = ["PermanentError", "ReceivedFile", "attach_audio", "create_session", "delete_session",
           "get_session", "list_sessions", "retry", "status_of", "transcript_of", "transcript_text"]
