"""Every change of a session's status, and the lease that guards a running transcription.

The API, the workers and the sweepers change the same rows at the same time, so each change is a
compare-and-set: an UPDATE whose WHERE names the state the writer saw, and whose row count says
whether it won. Kept together, the guards can be read (and reviewed) as one state machine:

    from                                    to          function              called by
    uploading                             → pending     queue_upload          API: audio stored
    failed | cancelled                    → pending     queue_retry           API: retry
    pending (as just queued)              → as before   undo_queueing         API: broker refused it
    pending | processing                  → cancelled   cancel                API
    uploading                             → completed   complete_import       API: transcript imported
    uploading | pending | processing whose
      lease lapsed or is this task's own  → processing  claim                 worker
    uploading | pending | lease lapsed,
      out of attempts                     → failed      fail_out_of_attempts  worker
    processing (this lease)               → processing  renew, write_progress heartbeat, progress
    processing (this lease)               → completed   complete              worker
    processing (this lease)               → failed      fail                  worker, heartbeat
    processing (this lease)               → pending     release               worker, before a retry
    pending (queued as this task)         → failed      give_up               task
    lease lapsed                          → pending     requeue_lost_run      sweeper
    lease lapsed, out of attempts         → failed      fail_lost_run         sweeper
    pending (no message in the broker)    → pending     requeue_lost_message  sweeper

A running transcription holds a lease: a token unique to the run (`lease_owner`) and an expiry
its heartbeat pushes forward. Every write of a run is guarded by `owned_by`, so a run that was
cancelled, taken over or deleted writes nothing; a lapsed lease (`lease_lapsed`) means no live
run is working on the session. The progress row (`processing_status`, read by GET …/status)
changes with the status, in the same transaction, and so does the webhook event of a final
status (services/webhook_outbox.py). Functions take the caller's database session
and never commit: the API commits with the rest of its request, a worker uses one
`session_scope()` per change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, false, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import rows_changed
from coaching_assistant.core.errors import ErrorCode
from coaching_assistant.models import CoachingSession, ProcessingStatus, SessionStatus, utcnow
from coaching_assistant.services import webhook_outbox

WAITING = (SessionStatus.UPLOADING, SessionStatus.PENDING)
RETRYABLE = (SessionStatus.FAILED, SessionStatus.CANCELLED)
CANCELLABLE = (SessionStatus.PENDING, SessionStatus.PROCESSING)
FINAL = (SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED)

# What queueing may change on the session row and on its progress row: an undo restores these.
_QUEUED_COLUMNS = ("status", "audio_uri", "audio_filename", "audio_size_bytes", "duration_seconds",
                   "transcription_job_id", "error_code", "error_message", "attempts", "retry_count")
_PROGRESS_COLUMNS = ("status", "progress", "message", "duration_processed", "duration_total",
                     "processing_speed", "started_at")

Guard = ColumnElement[bool]


@dataclass(frozen=True)
class Claim:
    """The lease a run holds, and what it needs to do the work."""

    token: str
    audio_uri: str
    attempt: int
    num_speakers: int | None = 2  # None: estimate
    model: str | None = None  # the Whisper model asked for; None: WHISPER_MODEL
    translate: bool = False  # add an English translation per segment
    prompt: str | None = None  # Whisper's initial prompt (stt.base.Hints)
    temperature: float | None = None  # where Whisper's sampling starts; None: greedy


@dataclass(frozen=True)
class Undo:
    """The session and progress rows as they were before queueing (no progress row: None)."""

    session: dict[str, Any]
    progress: dict[str, Any] | None


# ---- conditions ------------------------------------------------------------------------------

def owned_by(session_id: uuid.UUID, token: str) -> Guard:
    """SQL condition: the session is `processing` under the lease whose token is `token`."""
    return ((CoachingSession.id == session_id) & (CoachingSession.status == SessionStatus.PROCESSING)
            & (CoachingSession.lease_owner == token))


def lease_lapsed(now: datetime) -> Guard:
    """SQL condition: a `processing` session whose lease ran out (or was never set), so no live
    run is working on it."""
    return ((CoachingSession.status == SessionStatus.PROCESSING)
            & (CoachingSession.lease_expires_at.is_(None) | (CoachingSession.lease_expires_at < now)))


def lease_left(session: CoachingSession, now: datetime) -> float:
    """Seconds until the live lease of a `processing` session runs out; 0 when none is live."""
    if session.status != SessionStatus.PROCESSING or not session.lease_expires_at:
        return 0.0
    return max(0.0, (session.lease_expires_at - now).total_seconds())


def _same(column: InstrumentedAttribute[Any], value: object) -> Guard:
    return column == value if value else column.is_(None)


# ---- the progress row ------------------------------------------------------------------------

def _reset_progress(db: Session, session_id: uuid.UUID, *, status: str, message: str,
                   started_at: datetime | None = None) -> None:
    """Progress as before a run: nothing processed yet; the total is the session's stored duration
    (the upload header's until a run has decoded the audio). Creates the row if there is none."""
    row = _progress_row(db, session_id)
    row.status, row.progress, row.message = status, 0, message
    row.duration_processed, row.processing_speed, row.started_at = 0.0, None, started_at
    row.duration_total = db.scalar(select(CoachingSession.duration_seconds).where(CoachingSession.id == session_id))


def _progress_row(db: Session, session_id: uuid.UUID) -> ProcessingStatus:
    """The session's progress row as stored now (not as this database session last saw it), new
    if it has none."""
    row = db.scalar(select(ProcessingStatus).where(ProcessingStatus.session_id == session_id)
                    .execution_options(populate_existing=True))
    if row is None:
        row = ProcessingStatus(session_id=session_id)
        db.add(row)
    return row


def write_progress(db: Session, session_id: uuid.UUID, *, token: str, progress: int, message: str,
                   duration_processed: float | None, duration_total: float | None,
                   processing_speed: float | None) -> bool:
    """The progress of a running transcription, written only while its lease owns the session."""
    return rows_changed(db, update(ProcessingStatus)
                        .where(ProcessingStatus.session_id == session_id,
                               select(CoachingSession.id).where(owned_by(session_id, token)).exists())
                        .values(status=SessionStatus.PROCESSING, progress=progress, message=message,
                                duration_processed=duration_processed, duration_total=duration_total,
                                processing_speed=processing_speed, updated_at=utcnow())
                        .execution_options(synchronize_session=False)) > 0


def _set_status(db: Session, session_id: uuid.UUID, guard: Guard, to: str, values: dict[str, Any]) -> bool:
    """The compare-and-set itself: the session row `guard` names, if it still holds, gets `to`.
    A final status records the session's webhook event in the same transaction."""
    if rows_changed(db, update(CoachingSession).where(guard).values(status=to, updated_at=utcnow(), **values)
                    .execution_options(synchronize_session=False)) != 1:
        return False
    if to in FINAL:
        webhook_outbox.record_final_status(db, session_id)
    return True


def _move(db: Session, session_id: uuid.UUID, guard: Guard, *, to: str, message: str,
          progress: dict[str, Any] | None = None, **values: Any) -> bool:
    """Compare-and-set the session to `to` with `values`; if it won, the progress row says `to`
    and `message` (and `progress`)."""
    if not _set_status(db, session_id, guard, to, values):
        return False
    db.execute(update(ProcessingStatus).where(ProcessingStatus.session_id == session_id)
               .values(status=to, message=message, updated_at=utcnow(), **(progress or {})))
    return True


def _restart(db: Session, session_id: uuid.UUID, guard: Guard, *, to: str, message: str, **values: Any) -> bool:
    """Like `_move`, for a session that waits for a (new) run: its progress starts over."""
    if not _set_status(db, session_id, guard, to, values):
        return False
    _reset_progress(db, session_id, status=to, message=message)
    return True


# ---- the API ---------------------------------------------------------------------------------

def queue_upload(db: Session, session_id: uuid.UUID, *, audio_uri: str, audio_filename: str,
                 audio_size_bytes: int, duration_seconds: float) -> Undo | None:
    """uploading → pending under a new task id, with the stored audio; None if the session no
    longer waits for its audio (so two concurrent uploads cannot both win)."""
    undo = _undo_of(db, session_id)
    uploading = (CoachingSession.id == session_id) & (CoachingSession.status == SessionStatus.UPLOADING)
    if undo is None or not _restart(db, session_id, uploading, to=SessionStatus.PENDING,
                                    message="Queued for transcription", audio_uri=audio_uri,
                                    audio_filename=audio_filename, audio_size_bytes=audio_size_bytes,
                                    duration_seconds=duration_seconds, transcription_job_id=str(uuid.uuid4()),
                                    error_code=None, error_message=None):
        return None
    return undo


def queue_retry(db: Session, session_id: uuid.UUID, *, from_status: str, retry_count: int) -> Undo | None:
    """failed | cancelled → pending under a new task id, attempts counted afresh; None if the
    session changed since it was read as `from_status` after `retry_count` retries."""
    undo = _undo_of(db, session_id)
    unchanged = ((CoachingSession.id == session_id) & (CoachingSession.status == from_status)
                 & (CoachingSession.retry_count == retry_count))
    if undo is None or not _restart(db, session_id, unchanged, to=SessionStatus.PENDING,
                                    message="Queued for transcription (retry)", error_code=None,
                                    error_message=None, transcription_job_id=str(uuid.uuid4()), attempts=0,
                                    retry_count=retry_count + 1):
        return None
    return undo


def undo_queueing(db: Session, session_id: uuid.UUID, *, task_id: str, undo: Undo) -> bool:
    """Put a session whose message never reached the broker back as it was; False if a worker
    already took it (so the message did get through)."""
    reverted = rows_changed(db, update(CoachingSession)
                            .where(CoachingSession.id == session_id, CoachingSession.status == SessionStatus.PENDING,
                                   CoachingSession.transcription_job_id == task_id)
                            .values(**undo.session, updated_at=utcnow())
                            .execution_options(synchronize_session=False))
    if not reverted:
        return False
    if undo.progress is None:  # it had no progress row
        db.execute(delete(ProcessingStatus).where(ProcessingStatus.session_id == session_id))
        return True
    row = _progress_row(db, session_id)
    for column, value in undo.progress.items():
        setattr(row, column, value)
    return True


def _undo_of(db: Session, session_id: uuid.UUID) -> Undo | None:
    session = db.execute(select(*(getattr(CoachingSession, c) for c in _QUEUED_COLUMNS))
                         .where(CoachingSession.id == session_id)).first()
    if session is None:  # deleted meanwhile: the compare-and-set will not find it either
        return None
    progress = db.execute(select(*(getattr(ProcessingStatus, c) for c in _PROGRESS_COLUMNS))
                          .where(ProcessingStatus.session_id == session_id)).first()
    return Undo(session=dict(session._mapping),
                progress=dict(progress._mapping) if progress is not None else None)


def cancel(db: Session, session_id: uuid.UUID) -> bool:
    """pending | processing → cancelled. The status is the cancel flag: a queued message finds
    nothing to claim, and a running worker loses its lease, so it stops at its next progress step."""
    return _move(db, session_id, (CoachingSession.id == session_id) & CoachingSession.status.in_(CANCELLABLE),
                 to=SessionStatus.CANCELLED, message="Cancelled by the user",
                 lease_expires_at=None, lease_owner=None, completed_at=utcnow())


def complete_import(db: Session, session_id: uuid.UUID, *, speaker_roles: dict[str, Any], segments_count: int,
                    duration_seconds: float, audio_filename: str) -> bool:
    """uploading → completed from an imported transcript; False if the session no longer waits for
    its audio (a concurrent upload or import won). The caller adds the segments in the same
    transaction, and only when this returns True."""
    return _set_status(db, session_id,
                       (CoachingSession.id == session_id) & (CoachingSession.status == SessionStatus.UPLOADING),
                       SessionStatus.COMPLETED,
                       {"speaker_roles": speaker_roles, "segments_count": segments_count,
                        "duration_seconds": duration_seconds, "audio_filename": audio_filename,
                        "completed_at": utcnow()})


# ---- the worker ------------------------------------------------------------------------------

def claim(db: Session, session_id: uuid.UUID, *, task_id: str, audio_uri: str, settings: Settings,
          now: datetime, resume_token: str | None = None) -> Claim | None:
    """→ processing under a new lease for this run, or None if the session is not claimable.

    Claimable, with attempts left: a session waiting for work (`uploading` when the task was
    queued by hand, `pending`), one left `processing` by a run whose lease ran out, or by the run
    whose lease token is `resume_token` (this task's previous run, which could not release it).
    The stored audio location wins over the message's, which is stored (already validated) only
    when none is.
    """
    token = uuid.uuid4().hex
    # this task's own earlier run, which could not hand the session back (database down)
    own_earlier_run = ((CoachingSession.status == SessionStatus.PROCESSING)
                       & ((CoachingSession.lease_owner == resume_token) if resume_token else false()))
    claimed = rows_changed(db, update(CoachingSession)
                           .where(CoachingSession.id == session_id,
                                  CoachingSession.attempts < settings.task_max_attempts,
                                  or_(CoachingSession.status.in_(WAITING), lease_lapsed(now), own_earlier_run))
                           .values(status=SessionStatus.PROCESSING, transcription_job_id=task_id,
                                   lease_owner=token, attempts=CoachingSession.attempts + 1, started_at=now,
                                   lease_expires_at=now + timedelta(seconds=settings.session_lease_seconds),
                                   error_code=None, error_message=None, updated_at=now)
                           .execution_options(synchronize_session=False))
    session = db.get(CoachingSession, session_id)
    if claimed != 1 or session is None:
        return None
    if not session.audio_uri:
        session.audio_uri = audio_uri
    _reset_progress(db, session_id, status=SessionStatus.PROCESSING, message="Starting transcription",
                   started_at=now)
    return Claim(token=token, audio_uri=session.audio_uri, attempt=session.attempts,
                 num_speakers=session.num_speakers, model=session.model, translate=bool(session.translate),
                 prompt=session.prompt, temperature=session.temperature)


def fail_out_of_attempts(db: Session, session_id: uuid.UUID, *, attempts: int, max_attempts: int,
                         now: datetime) -> bool:
    """End a session that can no longer be claimed for want of attempts, rather than leave it
    waiting forever; never over a concurrent claim or completion."""
    message = f"Gave up after {attempts} attempts."
    return _move(db, session_id,
                 (CoachingSession.id == session_id) & (CoachingSession.attempts >= max_attempts)
                 & or_(CoachingSession.status.in_(WAITING), lease_lapsed(now)),
                 to=SessionStatus.FAILED, message=message, error_code=ErrorCode.RETRIES_EXHAUSTED,
                 error_message=message, lease_expires_at=None, lease_owner=None)


def renew(db: Session, session_id: uuid.UUID, *, token: str, lease_seconds: float) -> bool:
    """Push this run's lease `lease_seconds` ahead; False once the run no longer owns the session."""
    return rows_changed(db, update(CoachingSession).where(owned_by(session_id, token))
                        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
                        .execution_options(synchronize_session=False)) == 1


def record_language(db: Session, session_id: uuid.UUID, *, token: str, language: str, probability: float) -> bool:
    """Store the language this run detected (language `auto`); False once it no longer owns the session."""
    return rows_changed(db, update(CoachingSession).where(owned_by(session_id, token))
                        .values(detected_language=language, language_probability=probability, updated_at=utcnow())
                        .execution_options(synchronize_session=False)) == 1


def complete(db: Session, session_id: uuid.UUID, *, token: str, segments_count: int,
             speaker_roles: dict[str, Any], duration: float) -> bool:
    """processing (this lease) → completed. The caller stores the segments in the same
    transaction, and only when this returns True."""
    return _move(db, session_id, owned_by(session_id, token), to=SessionStatus.COMPLETED,
                 message="Transcription complete",
                 progress={"progress": 100, "duration_processed": duration, "duration_total": duration},
                 segments_count=segments_count, speaker_roles=speaker_roles, duration_seconds=round(duration, 3),
                 lease_expires_at=None, lease_owner=None, completed_at=utcnow())


def fail(db: Session, session_id: uuid.UUID, *, token: str, code: str, message: str) -> bool:
    """processing (this lease) → failed, with the error's code and message."""
    return _move(db, session_id, owned_by(session_id, token), to=SessionStatus.FAILED, message=message,
                 error_code=code, error_message=message, lease_expires_at=None, lease_owner=None,
                 completed_at=utcnow())


def release(db: Session, session_id: uuid.UUID, *, token: str, message: str) -> bool:
    """processing (this lease) → pending before the task's retry, keeping the attempt count."""
    return _move(db, session_id, owned_by(session_id, token), to=SessionStatus.PENDING, message=message,
                 lease_expires_at=None, lease_owner=None)


def give_up(db: Session, session_id: uuid.UUID, *, task_id: str, code: str, message: str,
            stored_uri: str | None = None) -> bool:
    """pending → failed, for the task the session is queued as (its retries are exhausted); with
    `stored_uri`, only if that is where its audio is stored."""
    waiting_for_it = ((CoachingSession.id == session_id) & (CoachingSession.transcription_job_id == task_id)
                      & (CoachingSession.status == SessionStatus.PENDING))
    if stored_uri is not None:
        waiting_for_it &= CoachingSession.audio_uri == stored_uri
    return _move(db, session_id, waiting_for_it, to=SessionStatus.FAILED, message=message,
                 error_code=code, error_message=message, completed_at=utcnow())


# ---- the sweeper -----------------------------------------------------------------------------

def _lost_run(session_id: uuid.UUID, owner: str | None, now: datetime) -> Guard:
    """Still the lapsed lease the sweeper found, so no other sweeper or run got there first."""
    return (CoachingSession.id == session_id) & lease_lapsed(now) & _same(CoachingSession.lease_owner, owner)


def requeue_lost_run(db: Session, session_id: uuid.UUID, *, owner: str | None, now: datetime) -> str | None:
    """processing (lease lapsed) → pending under a new task id, which it returns (None: lost the race)."""
    task_id = str(uuid.uuid4())
    moved = _restart(db, session_id, _lost_run(session_id, owner, now), to=SessionStatus.PENDING,
                     message="Re-queued: the worker running it stopped responding",
                     transcription_job_id=task_id, lease_expires_at=None, lease_owner=None)
    return task_id if moved else None


def fail_lost_run(db: Session, session_id: uuid.UUID, *, owner: str | None, attempts: int, now: datetime) -> bool:
    """processing (lease lapsed), out of attempts → failed."""
    message = (f"Gave up after {attempts} attempts: the worker running it stopped responding "
               "(killed, out of memory, or cut off from the database).")
    return _restart(db, session_id, _lost_run(session_id, owner, now), to=SessionStatus.FAILED, message=message,
                    error_code=ErrorCode.RETRIES_EXHAUSTED, error_message=message, completed_at=now,
                    lease_expires_at=None, lease_owner=None)


def requeue_lost_message(db: Session, session_id: uuid.UUID, *, old_task_id: str | None) -> str | None:
    """pending → pending under a new task id (returned; None: lost the race), when the broker holds
    no message for the old one."""
    task_id = str(uuid.uuid4())
    moved = _restart(db, session_id,
                     (CoachingSession.id == session_id) & (CoachingSession.status == SessionStatus.PENDING)
                     & _same(CoachingSession.transcription_job_id, old_task_id),
                     to=SessionStatus.PENDING, message="Re-queued: its queue message was lost",
                     transcription_job_id=task_id, lease_expires_at=None, lease_owner=None)
    return task_id if moved else None
