"""Session logic behind the API: create, attach audio, retry, delete, read status/transcript.

Every query here is scoped to the calling user, so another user's session is simply not found.
This module checks requests (state, quotas, the file itself) and stores audio; the status
changes themselves are compare-and-sets in `session_state`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import new_session, rows_changed
from coaching_assistant.core.errors import CoachingError, ErrorCode, InvalidState, NotFound
from coaching_assistant.models import CoachingSession, ProcessingStatus, SessionStatus, User, utcnow
from coaching_assistant.services import audio, languages, session_state, storage, whisper_models

logger = logging.getLogger(__name__)

# enqueue(session_id, audio_uri, language, original_filename, task_id) -> None
Enqueue = Callable[[str, str, str, str | None, str], None]


@dataclass
class ReceivedFile:
    temp_path: Path
    filename: str
    size: int
    fields: dict[str, list[str]] = field(default_factory=dict)  # the form's other (text) parts, by name


def take_session_allowance(db: Session, *, settings: Settings, user: User) -> None:
    """One of the user's MAX_SESSIONS_PER_HOUR, counted on the user row (compare-and-set), so
    deleting sessions gives none back. The hour starts with the first session after the last one
    ended; Retry-After says when the current one ends."""
    limit = settings.max_sessions_per_hour
    if not limit:
        return
    now = utcnow()
    hour_ago = now - timedelta(hours=1)
    started = User.session_window_started_at
    if rows_changed(db, update(User).where(User.id == user.id, or_(started.is_(None), started <= hour_ago))
                    .values(session_window_started_at=now, sessions_in_window=1)
                    .execution_options(synchronize_session=False)):
        return
    if rows_changed(db, update(User).where(User.id == user.id, started > hour_ago, User.sessions_in_window < limit)
                    .values(sessions_in_window=User.sessions_in_window + 1)
                    .execution_options(synchronize_session=False)):
        return
    began = db.scalar(select(started).where(User.id == user.id)) or now
    db.rollback()
    wait = (began + timedelta(hours=1) - now).total_seconds()
    raise CoachingError(f"You created {limit} sessions within an hour (MAX_SESSIONS_PER_HOUR); try again in "
                        f"{max(1.0, wait) / 60:.0f} minutes.", code=ErrorCode.SESSION_RATE_LIMITED,
                        retry_after=max(1.0, wait))


def stored_bytes(db: Session, *, user: User) -> int:
    """Audio bytes the user keeps in storage (deleted audio no longer counts)."""
    return int(db.scalar(select(func.coalesce(func.sum(CoachingSession.audio_size_bytes), 0))
                         .where(CoachingSession.user_id == user.id, CoachingSession.audio_uri.is_not(None))) or 0)


def check_storage_quota(db: Session, *, settings: Settings, user: User, adding: int = 0) -> None:
    """MAX_STORED_BYTES_PER_USER: checked before an upload's body is read, and again with its size."""
    quota = settings.max_stored_bytes_per_user
    if quota and stored_bytes(db, user=user) + adding > quota:
        raise CoachingError(f"Your stored audio would exceed your quota of {quota} bytes "
                            "(MAX_STORED_BYTES_PER_USER); delete sessions you no longer need.",
                            code=ErrorCode.STORAGE_QUOTA_EXCEEDED)


MAX_PROMPT_CHARACTERS = 1000  # Whisper reads at most 223 tokens of a prompt (its last ones)


def check_hints(prompt: str | None, temperature: float | None) -> tuple[str | None, float | None]:
    """The decoding hints as stored (a blank prompt is none), or 422 validation_error naming the `param`."""
    if prompt is not None and len(prompt) > MAX_PROMPT_CHARACTERS:
        raise CoachingError(f"prompt: at most {MAX_PROMPT_CHARACTERS} characters.", ErrorCode.VALIDATION_ERROR,
                            param="prompt")
    if temperature is not None and not 0.0 <= temperature <= 1.0:
        raise CoachingError("temperature: a number between 0 and 1.", ErrorCode.VALIDATION_ERROR,
                            param="temperature")
    return (prompt.strip() or None) if prompt else None, temperature


def create_session(db: Session, *, settings: Settings, user: User, title: str, language: str,
                   num_speakers: int | None = 2, model: str | None = None, translate: bool = False,
                   prompt: str | None = None, temperature: float | None = None) -> CoachingSession:
    """A new session waiting for its audio; refuses (422) a language or a model the server does
    not offer, or hints out of range."""
    language = languages.check_language(language)
    model = whisper_models.check_model(settings, model or settings.whisper_model, language=language)
    prompt, temperature = check_hints(prompt, temperature)
    take_session_allowance(db, settings=settings, user=user)
    session = CoachingSession(user_id=user.id, title=title, language=language, num_speakers=num_speakers,
                              model=model, translate=translate, prompt=prompt, temperature=temperature,
                              status=SessionStatus.UPLOADING, speaker_roles={})
    db.add(session)
    db.commit()
    return session


def get_session(db: Session, *, user: User, session_id: uuid.UUID, with_progress: bool = False) -> CoachingSession:
    """The user's session; `with_progress` reads its progress row in the same statement, so the
    status and the progress are of one moment (a worker changes both in one transaction)."""
    query = select(CoachingSession).where(CoachingSession.id == session_id, CoachingSession.user_id == user.id)
    if with_progress:
        query = query.options(joinedload(CoachingSession.processing_status))
    session = db.scalar(query)
    if session is None:
        raise NotFound(f"Session {session_id} not found")
    return session


def progress_of(session_id: uuid.UUID) -> tuple[str | None, int]:
    """Status and progress in a short transaction of its own (long-poll checks)."""
    with new_session() as db:
        row = db.execute(select(CoachingSession.status, ProcessingStatus.progress)
                         .outerjoin(ProcessingStatus, ProcessingStatus.session_id == CoachingSession.id)
                         .where(CoachingSession.id == session_id)).first()
    return (row[0], row[1] or 0) if row else (None, 0)


def list_sessions(db: Session, *, user: User, status: str | None, page: int, page_size: int,
                  title_contains: str | None = None) -> tuple[list[CoachingSession], int]:
    """One page of the user's sessions, newest first. `title_contains` matches anywhere in the
    title, ignoring case; `%` and `_` in it are literal characters, not LIKE wildcards."""
    query = select(CoachingSession).where(CoachingSession.user_id == user.id)
    if status:
        query = query.where(CoachingSession.status == status)
    if title_contains and title_contains.strip():
        query = query.where(CoachingSession.title.icontains(title_contains.strip(), autoescape=True))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(CoachingSession.created_at.desc(), CoachingSession.id)
                      .offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), total


def _queue(db: Session, session: CoachingSession, enqueue: Enqueue, undo: session_state.Undo, *,
           on_undo: Callable[[], None] = lambda: None) -> None:
    """Enqueue after the commit, so a worker always finds the row; if the broker refuses, put the
    rows back as they were (`undo`) and say so."""
    task_id = session.transcription_job_id or ""
    try:
        enqueue(str(session.id), session.audio_uri or "", session.language, session.audio_filename, task_id)
    except Exception as exc:
        logger.exception("Could not queue transcription for session %s", session.id)
        if not session_state.undo_queueing(db, session.id, task_id=task_id, undo=undo):
            db.rollback()  # a worker already has it: the message did get through
            db.refresh(session)
            return
        db.commit()
        db.refresh(session)
        on_undo()
        raise CoachingError("The task queue is unreachable; nothing was queued. Try again shortly.",
                            ErrorCode.BROKER_UNAVAILABLE) \
            from exc


def check_can_upload(session: CoachingSession) -> None:
    if session.status != SessionStatus.UPLOADING:
        raise InvalidState(f"Audio can only be uploaded while the session is 'uploading' "
                           f"(it is '{session.status}').")


def attach_audio(db: Session, *, settings: Settings, user: User, session_id: uuid.UUID,
                 received: ReceivedFile, enqueue: Enqueue) -> CoachingSession:
    """Validate the received file, store it, mark the session pending and queue the work.

    Validation comes first and the state change last; the status moves only from `uploading`
    (compare-and-set), so two concurrent uploads cannot both win.
    """
    stored: str | None = None
    try:
        session = get_session(db, user=user, session_id=session_id)
        extension, info = _check_upload(db, settings=settings, user=user, session=session, received=received)
        stored = storage.store(settings, temp_path=received.temp_path, session_id=session.id,
                               extension=extension)
        undo = session_state.queue_upload(db, session.id, audio_uri=stored,
                                          audio_filename=display_name(received.filename),
                                          audio_size_bytes=received.size, duration_seconds=info.duration_seconds)
        if undo is None:
            raise InvalidState("Another upload for this session arrived first.")
        db.commit()
    except BaseException:
        db.rollback()
        received.temp_path.unlink(missing_ok=True)
        storage.delete(settings, stored)
        raise
    db.refresh(session)
    _queue(db, session, enqueue, undo, on_undo=lambda: storage.delete(settings, stored))
    return session


def _check_upload(db: Session, *, settings: Settings, user: User, session: CoachingSession,
                  received: ReceivedFile) -> tuple[str, audio.AudioInfo]:
    """The file's extension and probed audio, or the error that refuses it (nothing stored yet)."""
    check_can_upload(session)
    return check_file(db, settings=settings, user=user, received=received)


def check_file(db: Session, *, settings: Settings, user: User, received: ReceivedFile) -> tuple[str, audio.AudioInfo]:
    """The file's extension and probed audio, or the error that refuses it: format, size, the
    user's quota, the audio itself."""
    extension = audio.extension_of(received.filename)
    if extension not in audio.SUPPORTED_FORMATS:
        raise CoachingError(
            f"Unsupported file type '.{extension}'. Upload one of: "
            + ", ".join(sorted(audio.SUPPORTED_FORMATS)) + ".",
            code=ErrorCode.UNSUPPORTED_FORMAT)
    if received.size == 0:
        raise CoachingError("The uploaded file is empty.", code=ErrorCode.EMPTY_FILE)
    check_storage_quota(db, settings=settings, user=user, adding=received.size)
    info = audio.probe(received.temp_path, extension)
    if info.duration_seconds > settings.max_audio_seconds:
        raise CoachingError(
            f"The audio is {info.duration_seconds:.0f} seconds long; the maximum is "
            f"{settings.max_audio_seconds:.0f} seconds (MAX_AUDIO_SECONDS).",
            code=ErrorCode.AUDIO_TOO_LONG)
    return extension, info


def retry(db: Session, *, settings: Settings, user: User, session_id: uuid.UUID,
          enqueue: Enqueue) -> CoachingSession:
    """Queue a failed or cancelled session again, at most MAX_RETRIES_PER_SESSION times: each
    retry puts a message on the queue, so a cancel/retry loop must end."""
    session = get_session(db, user=user, session_id=session_id)
    if session.status not in session_state.RETRYABLE:
        raise InvalidState(f"Only a failed or cancelled session can be retried (it is '{session.status}').")
    if not session.audio_uri:
        raise InvalidState("This session has no audio to transcribe; upload it first.",
                           code=ErrorCode.AUDIO_MISSING)
    limit = settings.max_retries_per_session
    if limit and session.retry_count >= limit:
        raise CoachingError(f"This session was retried {session.retry_count} times, the most allowed "
                            "(MAX_RETRIES_PER_SESSION); upload the audio to a new session instead.",
                            code=ErrorCode.RETRY_LIMIT_REACHED)
    undo = session_state.queue_retry(db, session.id, from_status=session.status, retry_count=session.retry_count)
    if undo is None:
        db.rollback()
        raise InvalidState("The session changed while retrying; look at its status again.")
    db.commit()
    db.refresh(session)
    _queue(db, session, enqueue, undo)
    return session


def cancel(db: Session, *, user: User, session_id: uuid.UUID) -> CoachingSession:
    """End a pending or processing session as `cancelled`.

    The status is the cancel flag: a queued message finds nothing to claim, and a running worker
    loses ownership, so its next progress step (between stages and chunks) stops it and nothing
    it produced is saved. The worker is never killed.
    """
    session = get_session(db, user=user, session_id=session_id)
    if session.status not in session_state.CANCELLABLE:
        raise InvalidState(f"Only a pending or processing session can be cancelled (it is '{session.status}').")
    if not session_state.cancel(db, session.id):
        db.rollback()
        raise InvalidState("The session finished while cancelling; look at its status again.")
    db.commit()
    db.refresh(session)
    return session


def delete_session(db: Session, *, settings: Settings, user: User, session_id: uuid.UUID) -> str | None:
    """Delete the session with its progress, transcript and audio; returns its last task id, whose
    stored state the caller drops from the result backend. A worker still running it finds the
    row gone and saves nothing."""
    session = get_session(db, user=user, session_id=session_id)
    uri, task_id = session.audio_uri, session.transcription_job_id
    db.delete(session)
    db.commit()
    try:
        storage.delete(settings, uri)
    except Exception:  # the session is gone either way; say loudly what was left behind
        logger.exception("Session %s deleted, but its audio %s could not be removed", session_id, uri)
    return task_id


def status_of(session: CoachingSession) -> dict[str, Any]:
    """The status as the API shows it, without `task_state` (the result backend's, added by the caller)."""
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
        "error_code": session.error_code,
        "detected_language": session.detected_language,
        "language_probability": session.language_probability,
    }


def display_name(filename: str, fallback: str = "audio") -> str:
    """Keep the user's file name only for display: no path parts, no control characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:255] or fallback
