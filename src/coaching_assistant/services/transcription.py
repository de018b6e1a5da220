"""The transcription pipeline a worker runs for one session.

Stages and their progress ranges: claim (0) → decode (2–5) → speech-to-text (5–90, by audio
seconds done) → save (90–100). Progress goes to the `processing_status` row (read by
GET …/status) and to a `publish` callback (the task turns it into Celery's PROGRESS state).
Nothing here imports Celery.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Executable, delete, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import session_scope
from coaching_assistant.core.errors import PermanentError, TransientError
from coaching_assistant.models import (
    CoachingSession,
    ProcessingStatus,
    SessionStatus,
    TranscriptSegment,
)
from coaching_assistant.services import audio, storage
from coaching_assistant.stt import SpeechToTextProvider, get_provider
from coaching_assistant.stt.base import Segment

logger = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], None]
LEASE_SECONDS = 60

DECODE_START, STT_START, STT_END, SAVE_START = 2, 5, 90, 92


@dataclass
class Outcome:
    session_id: str
    status: str
    segments_count: int = 0
    duration_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "status": self.status,
                "segments_count": self.segments_count, "duration_seconds": self.duration_seconds}


def _now() -> datetime:
    return datetime.now(UTC)


def _rows_changed(db: Session, statement: Executable) -> int:
    result = db.execute(statement)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class ProgressReporter:
    """Writes monotonic progress to the database and publishes it, at most every few hundred ms."""

    def __init__(self, *, session_id: uuid.UUID, task_id: str, publish: Publish, min_interval: float):
        self.session_id = session_id
        self.task_id = task_id
        self.publish = publish
        self.min_interval = min_interval
        self.progress = 0
        self.started = time.monotonic()
        self._last_write = 0.0
        self.duration_total: float | None = None

    def update(self, progress: float, message: str, *, processed: float | None = None,
               force: bool = False) -> None:
        value = max(self.progress, min(100, int(progress)))
        now = time.monotonic()
        if not force and (value == self.progress or now - self._last_write < self.min_interval):
            return
        self.progress = value
        self._last_write = now
        elapsed = max(now - self.started, 1e-6)
        speed = round(processed / elapsed, 3) if processed else None
        with session_scope() as db:
            db.execute(update(ProcessingStatus)
                       .where(ProcessingStatus.session_id == self.session_id)
                       .values(status=SessionStatus.PROCESSING, progress=value, message=message,
                               duration_processed=processed, duration_total=self.duration_total,
                               processing_speed=speed, updated_at=_now()))
            # Renew the lease so nobody else takes over a session that is making progress.
            db.execute(update(CoachingSession)
                       .where(CoachingSession.id == self.session_id,
                              CoachingSession.transcription_job_id == self.task_id)
                       .values(lease_expires_at=_now() + timedelta(seconds=LEASE_SECONDS)))
        self.publish({"session_id": str(self.session_id), "progress": value, "message": message,
                      "duration_processed": processed, "duration_total": self.duration_total})


def claim(session_id: uuid.UUID, *, task_id: str, audio_uri: str, max_attempts: int) -> bool:
    """Atomically move the session to `processing` for this task; False if it is not ours to run.

    Claimable: a session waiting for work (`uploading` when the task was queued by hand,
    `pending`), or one left `processing` by a worker whose lease ran out.
    """
    now = _now()
    with session_scope() as db:
        claimed = _rows_changed(db,
            update(CoachingSession)
            .where(CoachingSession.id == session_id,
                   CoachingSession.attempts < max_attempts,
                   or_(CoachingSession.status.in_([SessionStatus.UPLOADING, SessionStatus.PENDING]),
                       (CoachingSession.status == SessionStatus.PROCESSING)
                       & ((CoachingSession.lease_expires_at.is_(None))
                          | (CoachingSession.lease_expires_at < now))))
            .values(status=SessionStatus.PROCESSING, transcription_job_id=task_id,
                    attempts=CoachingSession.attempts + 1, started_at=now,
                    lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
                    audio_uri=audio_uri, error_code=None, error_message=None, updated_at=now)
            .execution_options(synchronize_session=False))
        if claimed != 1:
            return False
        row = db.scalar(select(ProcessingStatus).where(ProcessingStatus.session_id == session_id))
        if row is None:
            row = ProcessingStatus(session_id=session_id)
            db.add(row)
        row.status, row.progress, row.message = SessionStatus.PROCESSING, 0, "Starting transcription"
        row.started_at, row.duration_processed, row.processing_speed = now, 0.0, None
        return True


def fail(session_id: uuid.UUID, *, task_id: str | None, code: str, message: str) -> bool:
    """Mark the session failed (only if this task still owns it, when a task id is given)."""
    with session_scope() as db:
        query = update(CoachingSession).where(CoachingSession.id == session_id,
                                              CoachingSession.status == SessionStatus.PROCESSING)
        if task_id:
            query = query.where(CoachingSession.transcription_job_id == task_id)
        failed = _rows_changed(db, query.values(status=SessionStatus.FAILED, error_code=code,
                                         error_message=message, lease_expires_at=None,
                                         completed_at=_now(), updated_at=_now()))
        db.execute(update(ProcessingStatus).where(ProcessingStatus.session_id == session_id)
                   .values(status=SessionStatus.FAILED, message=message, updated_at=_now()))
        return failed == 1


def release(session_id: uuid.UUID, *, task_id: str, message: str) -> None:
    """Hand the session back to `pending` before a retry, keeping its attempt count."""
    with session_scope() as db:
        db.execute(update(CoachingSession)
                   .where(CoachingSession.id == session_id,
                          CoachingSession.status == SessionStatus.PROCESSING,
                          CoachingSession.transcription_job_id == task_id)
                   .values(status=SessionStatus.PENDING, lease_expires_at=None, updated_at=_now()))
        db.execute(update(ProcessingStatus).where(ProcessingStatus.session_id == session_id)
                   .values(status=SessionStatus.PENDING, message=message, updated_at=_now()))


def save(session_id: uuid.UUID, *, task_id: str, segments: list[Segment], duration: float) -> bool:
    """Replace the session's segments and complete it in one transaction, if we still own it."""
    with session_scope() as db:
        owned = _rows_changed(db,
            update(CoachingSession)
            .where(CoachingSession.id == session_id, CoachingSession.status == SessionStatus.PROCESSING,
                   CoachingSession.transcription_job_id == task_id)
            .values(status=SessionStatus.COMPLETED, segments_count=len(segments),
                    duration_seconds=round(duration, 3), lease_expires_at=None,
                    completed_at=_now(), updated_at=_now()))
        if owned != 1:
            db.rollback()
            return False
        db.execute(delete(TranscriptSegment).where(TranscriptSegment.session_id == session_id))
        db.add_all(
            TranscriptSegment(session_id=session_id, position=i, speaker_id=s.speaker_id,
                              start_seconds=s.start, end_seconds=s.end, content=s.text,
                              confidence=s.confidence,
                              words=[{"word": w.word, "start": w.start, "end": w.end,
                                      "probability": w.probability} for w in s.words])
            for i, s in enumerate(segments))
        db.execute(update(ProcessingStatus).where(ProcessingStatus.session_id == session_id)
                   .values(status=SessionStatus.COMPLETED, progress=100, message="Transcription complete",
                           duration_processed=duration, duration_total=duration, updated_at=_now()))
        return True


def transcribe_session(*, settings: Settings, session_id: str, audio_uri: str, language: str,
                       task_id: str, publish: Publish,
                       provider: SpeechToTextProvider | None = None) -> Outcome:
    """Run the whole pipeline for one session. Safe to call twice: only one run can own it.

    Raises TransientError for failures worth retrying; a PermanentError ends the session
    `failed` with its code before it propagates.
    """
    sid = uuid.UUID(session_id)
    try:
        if not claim(sid, task_id=task_id, audio_uri=audio_uri, max_attempts=settings.task_max_attempts):
            logger.warning("Session %s is not claimable by task %s; skipping", session_id, task_id)
            return Outcome(session_id, "skipped")
        reporter = ProgressReporter(session_id=sid, task_id=task_id, publish=publish,
                                    min_interval=settings.progress_min_interval_seconds)
        try:
            reporter.update(DECODE_START, "Decoding audio", force=True)
            with storage.local_copy(settings, audio_uri) as path:
                samples = audio.decode(path)
            duration = len(samples) / 16000
            reporter.duration_total = round(duration, 3)
            reporter.update(STT_START, "Transcribing audio", processed=0.0, force=True)

            def on_stt_progress(seconds: float) -> None:
                share = seconds / duration if duration else 1.0
                reporter.update(STT_START + (STT_END - STT_START) * share,
                                f"Transcribing audio: {seconds:.0f} of {duration:.0f} seconds",
                                processed=round(seconds, 3))

            engine = provider or get_provider(settings)
            segments = engine.transcribe(samples, language=language, on_progress=on_stt_progress)
            reporter.update(SAVE_START, "Saving transcript", processed=duration, force=True)
            if not save(sid, task_id=task_id, segments=segments, duration=duration):
                logger.warning("Session %s changed hands or was deleted; result discarded", session_id)
                return Outcome(session_id, "discarded")
            publish({"session_id": session_id, "progress": 100, "message": "Transcription complete",
                     "duration_processed": duration, "duration_total": duration})
            return Outcome(session_id, SessionStatus.COMPLETED, len(segments), round(duration, 3))
        except PermanentError as exc:
            fail(sid, task_id=task_id, code=exc.code, message=exc.message)
            raise
    except (OperationalError, DBAPIError) as exc:
        if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not isinstance(
                exc, OperationalError):
            raise
        raise TransientError(f"Database unavailable: {exc.__class__.__name__}", code="database_unavailable") \
            from exc
