"""The transcription pipeline a worker runs for one session.

Stages and their progress ranges: claim (0) → decode (2–5) → speech-to-text (5–75, by audio
seconds done) → speaker diarization (75–90) → save (92–100). The audio is decoded to a temporary
file and read in blocks (speech-to-text in pieces of at most ten minutes, diarization ten minutes
at a time), so a worker's memory does not grow with the length of the recording. Chinese results
for Taiwan sessions are converted to Traditional characters after diarization (which rejoins
split segments' words with spaces); roles are guessed from the diarized segments when they are
saved. Progress goes to the `processing_status` row (read by
GET …/status) and to a `publish` callback (the task turns it into Celery's PROGRESS state).

Delivery is at-least-once, so every run first claims the session atomically and gets a token;
a heartbeat renews the lease while it works, and every later write checks the token. A second
copy of the same message finds the session busy (live lease) or done, and never writes.
Nothing here imports Celery.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, false, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import rows_changed, session_scope
from coaching_assistant.core.errors import PermanentError, TransientError
from coaching_assistant.diarization import diarize
from coaching_assistant.models import (
    CoachingSession,
    ProcessingStatus,
    SessionStatus,
    TranscriptSegment,
)
from coaching_assistant.services import audio, chinese, piecewise, roles, storage
from coaching_assistant.stt import SpeechToTextProvider, get_provider
from coaching_assistant.stt.base import Segment

logger = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], None]

DECODE_START, STT_START, STT_END, DIARIZE_END, SAVE_START = 2, 5, 75, 90, 92
TIME_LIMIT_MESSAGE = "The transcription took longer than TASK_SOFT_TIME_LIMIT_SECONDS allows."
WAITING = (SessionStatus.UPLOADING, SessionStatus.PENDING)


@dataclass
class Outcome:
    session_id: str
    status: str  # completed | skipped (done or gone) | discarded (lost the lease) | cancelled | busy
    segments_count: int = 0
    duration_seconds: float | None = None
    retry_after: float | None = None  # busy: when the current holder's lease runs out

    def as_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "status": self.status,
                "segments_count": self.segments_count, "duration_seconds": self.duration_seconds}


@dataclass(frozen=True)
class Claim:
    token: str
    audio_uri: str
    attempt: int
    num_speakers: int | None = 2  # None: estimate


class LeaseLost(Exception):
    """Another run took the session over (or it was deleted): stop without writing."""


def _now() -> datetime:
    return datetime.now(UTC)


def _owned(session_id: uuid.UUID, token: str) -> Any:
    return ((CoachingSession.id == session_id) & (CoachingSession.status == SessionStatus.PROCESSING)
            & (CoachingSession.lease_owner == token))


def lease_lapsed(now: datetime) -> Any:
    """SQL condition: a `processing` session whose lease ran out (or was never set), so no live
    run is working on it."""
    return ((CoachingSession.status == SessionStatus.PROCESSING)
            & (CoachingSession.lease_expires_at.is_(None) | (CoachingSession.lease_expires_at < now)))


def claim(session_id: uuid.UUID, *, task_id: str, audio_uri: str, settings: Settings,
          resume_token: str | None = None) -> Claim | Outcome:
    """Atomically move the session to `processing` for this run, or say why not.

    Claimable: a session waiting for work (`uploading` when the task was queued by hand,
    `pending`), or one left `processing` by a run whose lease ran out, or by the run whose lease
    token is `resume_token` (this task's previous run, which could not release it). The stored audio location
    wins over the message's; the message's is used (already validated) only when none is stored.
    """
    now = _now()
    token = uuid.uuid4().hex
    with session_scope() as db:
        claimed = rows_changed(db, (
            update(CoachingSession)
            .where(CoachingSession.id == session_id,
                   CoachingSession.attempts < settings.task_max_attempts,
                   or_(CoachingSession.status.in_(WAITING), lease_lapsed(now),
                       # this task's own earlier run, which could not hand it back (database down)
                       (CoachingSession.status == SessionStatus.PROCESSING)
                       & ((CoachingSession.lease_owner == resume_token) if resume_token else false())))
            .values(status=SessionStatus.PROCESSING, transcription_job_id=task_id, lease_owner=token,
                    attempts=CoachingSession.attempts + 1, started_at=now,
                    lease_expires_at=now + timedelta(seconds=settings.session_lease_seconds),
                    error_code=None, error_message=None, updated_at=now)
            .execution_options(synchronize_session=False)))
        session = db.get(CoachingSession, session_id)
        if session is None:
            return Outcome(str(session_id), "skipped")
        if claimed != 1:
            if session.status == SessionStatus.PROCESSING and session.lease_expires_at:
                left = (session.lease_expires_at - now).total_seconds()
                if left > 0:
                    return Outcome(str(session_id), "busy", retry_after=left)
            if session.attempts >= settings.task_max_attempts:
                # Out of attempts: end it visibly rather than leave it waiting forever (guarded,
                # so a concurrent claim or completion is never overwritten).
                rows_changed(db, update(CoachingSession)
                             .where(CoachingSession.id == session_id,
                                    CoachingSession.attempts >= settings.task_max_attempts,
                                    or_(CoachingSession.status.in_(WAITING), lease_lapsed(now)))
                             .values(status=SessionStatus.FAILED, error_code="too_many_attempts",
                                     error_message=f"Gave up after {session.attempts} attempts.",
                                     lease_expires_at=None, lease_owner=None, updated_at=now)
                             .execution_options(synchronize_session=False))
            if session.status == SessionStatus.COMPLETED:
                # A late copy of a finished task reports the finished result, not an empty one.
                return Outcome(str(session_id), SessionStatus.COMPLETED, session.segments_count,
                               session.duration_seconds)
            return Outcome(str(session_id), "skipped")
        if not session.audio_uri:
            session.audio_uri = audio_uri
        row = db.scalar(select(ProcessingStatus).where(ProcessingStatus.session_id == session_id))
        if row is None:
            row = ProcessingStatus(session_id=session_id)
            db.add(row)
        row.status, row.progress, row.message = SessionStatus.PROCESSING, 0, "Starting transcription"
        row.started_at, row.duration_processed, row.processing_speed = now, 0.0, None
        row.duration_total = session.duration_seconds
        return Claim(token=token, audio_uri=session.audio_uri, attempt=session.attempts,
                     num_speakers=session.num_speakers)


class Heartbeat(threading.Thread):
    """Renews the lease every quarter lease while the run works; notices when it is lost.

    It also enforces the run's deadline: a stage that hangs without calling back (a stuck decoder
    or download) cannot be interrupted in a thread, so the heartbeat fails the session itself and
    stops renewing; whatever the hung stage returns later is discarded.
    """

    def __init__(self, session_id: uuid.UUID, token: str, lease_seconds: float, deadline: float):
        super().__init__(name=f"heartbeat-{session_id}", daemon=True)
        self.session_id, self.token, self.lease_seconds = session_id, token, lease_seconds
        self.deadline = deadline  # time.monotonic() value
        self.lost = threading.Event()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(min(self.lease_seconds / 4, max(0.05, self.deadline - time.monotonic()))):
            try:
                if time.monotonic() > self.deadline:
                    fail(self.session_id, token=self.token, code="time_limit_exceeded",
                         message=TIME_LIMIT_MESSAGE)
                    self.lost.set()
                    return
                with session_scope() as db:
                    renewed = rows_changed(db, update(CoachingSession).where(_owned(self.session_id, self.token))
                                            .values(lease_expires_at=_now() + timedelta(seconds=self.lease_seconds)))
                if not renewed:  # taken over, cancelled or deleted
                    self.lost.set()
                    return
            except Exception:  # a database blip: keep trying; the lease has slack for it
                logger.warning("Heartbeat for session %s could not renew the lease", self.session_id)

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(str(self.session_id))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


class ProgressReporter:
    """Writes monotonic progress to the database and publishes it, at most every few hundred ms.

    Every write is conditional on this run still owning the session, so a run that was cancelled,
    taken over or deleted stops at its next progress step (between stages and chunks).
    """

    def __init__(self, *, session_id: uuid.UUID, token: str, publish: Publish, min_interval: float,
                 heartbeat: Heartbeat):
        self.session_id = session_id
        self.token = token
        self.publish = publish
        self.min_interval = min_interval
        self.heartbeat = heartbeat
        self.progress = 0
        self.started = time.monotonic()
        self._last_write = 0.0
        self.duration_total: float | None = None

    def update(self, progress: float, message: str, *, processed: float | None = None,
               force: bool = False) -> None:
        if time.monotonic() > self.heartbeat.deadline:
            raise PermanentError(TIME_LIMIT_MESSAGE, code="time_limit_exceeded")
        self.heartbeat.check()
        value = max(self.progress, min(100, int(progress)))
        now = time.monotonic()
        if not force and (value == self.progress or now - self._last_write < self.min_interval):
            return
        self.progress = value
        self._last_write = now
        elapsed = max(now - self.started, 1e-6)
        speed = round(processed / elapsed, 3) if processed else None
        with session_scope() as db:
            written = rows_changed(db, update(ProcessingStatus)
                                   .where(ProcessingStatus.session_id == self.session_id,
                                          select(CoachingSession.id)
                                          .where(_owned(self.session_id, self.token)).exists())
                                   .values(status=SessionStatus.PROCESSING, progress=value, message=message,
                                           duration_processed=processed, duration_total=self.duration_total,
                                           processing_speed=speed, updated_at=_now())
                                   .execution_options(synchronize_session=False))
        if not written:
            raise LeaseLost(str(self.session_id))
        meta = {"session_id": str(self.session_id), "progress": value, "message": message,
                "duration_processed": processed, "duration_total": self.duration_total}
        _publish_quietly(self.publish, meta)


def _publish_quietly(publish: Publish, meta: dict[str, Any]) -> None:
    # The database row is the source of truth for progress; a result-backend blip must not fail
    # an hour-long transcription.
    try:
        publish(meta)
    except Exception as exc:
        logger.warning("Could not publish progress for session %s: %s", meta.get("session_id"), exc)


def fail(session_id: uuid.UUID, *, token: str, code: str, message: str) -> bool:
    """Mark the session failed, if this run still owns it."""
    with session_scope() as db:
        failed = rows_changed(db, update(CoachingSession).where(_owned(session_id, token))
                               .values(status=SessionStatus.FAILED, error_code=code, error_message=message,
                                       lease_expires_at=None, lease_owner=None, completed_at=_now(),
                                       updated_at=_now()))
        if failed:
            db.execute(update(ProcessingStatus).where(ProcessingStatus.session_id == session_id)
                       .values(status=SessionStatus.FAILED, message=message, updated_at=_now()))
        return failed == 1


def give_up(session_id: uuid.UUID, *, task_id: str, code: str, message: str, stored_uri: str | None = None) -> bool:
    """Fail a session this task was queued for and that is waiting for it (retries exhausted),
    and, with `stored_uri`, only if that is where its audio is stored."""
    waiting_for_it = ((CoachingSession.id == session_id) & (CoachingSession.transcription_job_id == task_id)
                      & (CoachingSession.status == SessionStatus.PENDING))
    if stored_uri is not None:
        waiting_for_it &= CoachingSession.audio_uri == stored_uri
    with session_scope() as db:
        failed = rows_changed(db, update(CoachingSession).where(waiting_for_it)
                               .values(status=SessionStatus.FAILED, error_code=code, error_message=message,
                                       completed_at=_now(), updated_at=_now()))
        if failed:
            db.execute(update(ProcessingStatus).where(ProcessingStatus.session_id == session_id)
                       .values(status=SessionStatus.FAILED, message=message, updated_at=_now()))
        return failed == 1


def release(session_id: uuid.UUID, *, token: str, message: str) -> None:
    """Hand the session back to `pending` before a retry, keeping its attempt count."""
    with session_scope() as db:
        released = rows_changed(db, update(CoachingSession).where(_owned(session_id, token))
                                 .values(status=SessionStatus.PENDING, lease_expires_at=None, lease_owner=None,
                                         updated_at=_now()))
        if released:
            db.execute(update(ProcessingStatus).where(ProcessingStatus.session_id == session_id)
                       .values(status=SessionStatus.PENDING, message=message, updated_at=_now()))


def save(session_id: uuid.UUID, *, token: str, segments: list[Segment], duration: float) -> bool:
    """Replace the session's segments and complete it in one transaction, if this run owns it."""
    with session_scope() as db:
        speaker_roles = roles.assign_roles([roles.Line(s.speaker_id, s.start, s.end, s.text) for s in segments])
        owned = rows_changed(db, update(CoachingSession).where(_owned(session_id, token))
                              .values(status=SessionStatus.COMPLETED, segments_count=len(segments),
                                      speaker_roles=speaker_roles,
                                      duration_seconds=round(duration, 3), lease_expires_at=None,
                                      lease_owner=None, completed_at=_now(), updated_at=_now()))
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


def _is_transient_db_error(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def transcribe_session(*, settings: Settings, session_id: str, audio_uri: str, language: str,
                       task_id: str, publish: Publish, provider: SpeechToTextProvider | None = None,
                       resume_token: str | None = None) -> Outcome:
    """Run the whole pipeline for one session. Safe to run twice, even at the same time.

    Raises TransientError (with `.attempt` set once claimed) for failures worth retrying, after
    handing the session back to `pending`; PermanentError and unexpected errors end the session
    `failed` with a code before they propagate.
    """
    sid = uuid.UUID(session_id)
    try:
        storage.check_location(settings, audio_uri)  # before touching the row: never store a bad URI
    except PermanentError as exc:
        # A stored location that is no longer accepted (storage settings changed) fails the session:
        # otherwise the sweeper would queue it again forever. A stray message leaves it alone.
        give_up(sid, task_id=task_id, code=exc.code, message=exc.message, stored_uri=audio_uri)
        raise
    try:
        claimed = claim(sid, task_id=task_id, audio_uri=audio_uri, settings=settings, resume_token=resume_token)
    except DBAPIError as exc:
        if _is_transient_db_error(exc):
            raise TransientError(f"Database unavailable: {exc.__class__.__name__}",
                                 code="database_unavailable") from exc
        raise
    if isinstance(claimed, Outcome):
        logger.warning("Session %s not claimed by task %s: %s", session_id, task_id, claimed.status)
        return claimed

    # The threads pool does not enforce Celery's time limits, so the run keeps its own deadline.
    heartbeat = Heartbeat(sid, claimed.token, settings.session_lease_seconds,
                          deadline=time.monotonic() + settings.task_soft_time_limit_seconds)
    heartbeat.start()
    reporter = ProgressReporter(session_id=sid, token=claimed.token, publish=publish, heartbeat=heartbeat,
                                min_interval=settings.progress_min_interval_seconds)
    samples: audio.DecodedAudio | None = None
    try:
        reporter.update(DECODE_START, "Decoding audio", force=True)
        with storage.local_copy(settings, claimed.audio_uri) as path:
            settings.audio_dir.mkdir(parents=True, exist_ok=True)  # on the storage disk, not a RAM-backed /tmp
            samples = audio.decode_to_file(path, work_dir=settings.audio_dir, max_seconds=settings.max_audio_seconds)
        duration = samples.duration_seconds  # the decoded length, not the header's
        reporter.duration_total = round(duration, 3)
        reporter.update(STT_START, "Transcribing audio", processed=0.0, force=True)

        def on_stt_progress(seconds: float) -> None:
            share = seconds / duration if duration else 1.0
            reporter.update(STT_START + (STT_END - STT_START) * share,
                            f"Transcribing audio: {seconds:.0f} of {duration:.0f} seconds",
                            processed=round(seconds, 3))

        engine = provider or get_provider(settings)
        segments = piecewise.transcribe_in_pieces(engine, samples, language=language, on_progress=on_stt_progress)
        if settings.diarization_enabled:
            reporter.update(STT_END, "Separating speakers", processed=duration, force=True)
            segments = diarize(samples, segments, num_speakers=claimed.num_speakers,
                               weights_path=settings.diarization_weights_path,
                               on_progress=lambda share: reporter.update(
                                   STT_END + (DIARIZE_END - STT_END) * share, "Separating speakers",
                                   processed=duration))
        segments = chinese.normalize_segments(segments, language)  # after splitting, which rejoins words
        reporter.update(SAVE_START, "Saving transcript", processed=duration, force=True)
        if not save(sid, token=claimed.token, segments=segments, duration=duration):
            raise LeaseLost(session_id)
        _publish_quietly(publish, {"session_id": session_id, "progress": 100,
                                   "message": "Transcription complete",
                                   "duration_processed": duration, "duration_total": duration})
        return Outcome(session_id, SessionStatus.COMPLETED, len(segments), round(duration, 3))
    except LeaseLost:
        if _status(sid) == SessionStatus.CANCELLED:
            logger.info("Transcription cancelled for session %s; stopped at a progress step", session_id)
            return Outcome(session_id, SessionStatus.CANCELLED)
        logger.warning("Session %s was taken over or deleted; this run's result is discarded", session_id)
        return Outcome(session_id, "discarded")
    except PermanentError as exc:
        fail(sid, token=claimed.token, code=exc.code, message=exc.message)
        raise
    except (TransientError, DBAPIError) as exc:
        if isinstance(exc, DBAPIError) and not _is_transient_db_error(exc):
            _fail_quietly(sid, claimed.token, exc)
            raise
        error = exc if isinstance(exc, TransientError) else TransientError(
            f"Database unavailable: {exc.__class__.__name__}", code="database_unavailable")
        error.attempt = claimed.attempt
        try:
            release(sid, token=claimed.token, message=f"Retrying after a temporary error: {error.message}")
        except Exception:  # the database may be what is down: the retry may take it back
            logger.warning("Could not release session %s; its retry resumes it (or its lease expires)",
                           session_id)
            error.resume_token = claimed.token
        raise error from exc
    except Exception as exc:
        _fail_quietly(sid, claimed.token, exc)
        raise
    finally:
        if samples is not None:
            samples.close()  # the decoded file has no name: closing it frees its disk space
        heartbeat.stop()


def _status(session_id: uuid.UUID) -> str | None:
    try:
        with session_scope() as db:
            return db.scalar(select(CoachingSession.status).where(CoachingSession.id == session_id))
    except Exception:
        return None


def _fail_quietly(session_id: uuid.UUID, token: str, exc: Exception) -> None:
    """An unexpected error is a bug, not a blip: fail the session visibly instead of looping."""
    try:
        fail(session_id, token=token, code="internal_error",
             message=f"Unexpected error during transcription: {exc.__class__.__name__}")
    except Exception:
        logger.exception("Could not record the failure of session %s", session_id)
