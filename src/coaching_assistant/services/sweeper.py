"""Finds work that nobody is doing and puts it back in the queue; deletes audio past retention.

The database is the source of truth, the broker only a delivery mechanism, so a session can be
left behind in two ways:

- `processing` with an expired lease: its worker died (SIGKILL, OOM, lost host) or cannot reach
  the database. Its message is still unacknowledged and would come back only after the broker's
  visibility timeout (hours). The sweeper re-queues it under a new task id, or fails it with
  `retries_exhausted` once the attempt cap is reached.
- `pending` with no message anywhere in the broker: the API crashed between commit and enqueue,
  Redis lost its data, or a retry could not be published. The sweeper re-queues it.

It also queues webhook deliveries whose next try has come and that nobody attempts: their message
was lost (a process died between commit and enqueue, Redis lost it, a worker died mid-attempt), or
their retry is further off than a Celery countdown should wait (services/webhook_delivery.py); and
it deletes finished deliveries from the log after WEBHOOK_LOG_RETENTION_DAYS.

Each worker runs a sweeper thread. Every change is a compare-and-set on the session row (the
transitions are in `session_state`), so when several sweepers find the same session, exactly one
of them re-queues it. Nothing here imports Celery: the caller passes `enqueue`, `queued_task_ids`
and `enqueue_webhook`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import rows_changed, session_scope
from coaching_assistant.models import CoachingSession, SessionStatus
from coaching_assistant.services import session_state, storage, webhook_delivery

logger = logging.getLogger(__name__)

# enqueue(session_id, audio_uri, language, original_filename, task_id) -> None
Enqueue = Callable[[str, str, str, str | None, str], None]
# enqueue_webhook(delivery_id) -> None
EnqueueWebhook = Callable[[str], None]


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)  # expired leases and lost pending sessions
    failed: list[str] = field(default_factory=list)  # out of attempts
    audio_deleted: list[str] = field(default_factory=list)
    webhook_deliveries: list[str] = field(default_factory=list)  # queued again
    webhook_log_deleted: int = 0  # finished deliveries past WEBHOOK_LOG_RETENTION_DAYS


def sweep(settings: Settings, *, enqueue: Enqueue, queued_task_ids: Callable[[], set[str]],
          enqueue_webhook: EnqueueWebhook | None = None, now: datetime | None = None) -> SweepReport:
    now = now or datetime.now(UTC)
    report = SweepReport()
    _expired_leases(settings, enqueue, now, report)
    _lost_pending(settings, enqueue, queued_task_ids, now, report)
    if enqueue_webhook is not None:
        _overdue_webhook_deliveries(settings, enqueue_webhook, now, report)
    if settings.audio_retention_days > 0:
        _expired_audio(settings, now, report)
    if settings.webhook_log_retention_days > 0:
        with session_scope() as db:
            report.webhook_log_deleted = webhook_delivery.prune(
                db, before=now - timedelta(days=settings.webhook_log_retention_days))
    return report


def _expired_leases(settings: Settings, enqueue: Enqueue, now: datetime, report: SweepReport) -> None:
    with session_scope() as db:
        rows = db.execute(select(CoachingSession.id, CoachingSession.lease_owner, CoachingSession.attempts)
                          .where(session_state.lease_lapsed(now))).all()
    for session_id, owner, attempts in rows:
        if attempts >= settings.task_max_attempts:
            with session_scope() as db:
                failed = session_state.fail_lost_run(db, session_id, owner=owner, attempts=attempts, now=now)
            if failed:
                logger.error("Sweeper: session %s failed after %d attempts", session_id, attempts)
                report.failed.append(str(session_id))
            continue
        with session_scope() as db:
            task_id = session_state.requeue_lost_run(db, session_id, owner=owner, now=now)
        if task_id:
            logger.warning("Sweeper: session %s lost its worker (lease expired); re-queued as task %s",
                           session_id, task_id)
            _enqueue(enqueue, session_id, task_id)
            report.requeued.append(str(session_id))


def _lost_pending(settings: Settings, enqueue: Enqueue, queued_task_ids: Callable[[], set[str]],
                  now: datetime, report: SweepReport) -> None:
    cutoff = now - timedelta(seconds=settings.sweeper_pending_grace_seconds)
    with session_scope() as db:
        rows = db.execute(select(CoachingSession.id, CoachingSession.transcription_job_id)
                          .where(CoachingSession.status == SessionStatus.PENDING,
                                 CoachingSession.updated_at < cutoff)).all()
    if not rows:
        return
    try:
        known = queued_task_ids()
    except Exception as exc:  # broker down: nothing can be re-queued now anyway
        logger.warning("Sweeper: cannot inspect the queue (%s); pending sessions are checked later", exc)
        return
    for session_id, old_task_id in rows:
        if old_task_id in known:
            continue  # queued behind other work, reserved by a worker or waiting for a retry
        with session_scope() as db:
            task_id = session_state.requeue_lost_message(db, session_id, old_task_id=old_task_id)
        if task_id:
            logger.warning("Sweeper: pending session %s had no message in the broker; re-queued as task %s",
                           session_id, task_id)
            _enqueue(enqueue, session_id, task_id)
            report.requeued.append(str(session_id))


def _expired_audio(settings: Settings, now: datetime, report: SweepReport) -> None:
    cutoff = now - timedelta(days=settings.audio_retention_days)
    with session_scope() as db:
        rows = db.execute(select(CoachingSession.id, CoachingSession.audio_uri)
                          .where(CoachingSession.status == SessionStatus.COMPLETED,
                                 CoachingSession.completed_at < cutoff,
                                 CoachingSession.audio_uri.is_not(None))).all()
    for session_id, uri in rows:
        # Delete first, then record it: if the delete fails the next sweep tries again. A
        # completed session's audio is never read again, so deleting before the CAS is safe.
        try:
            storage.delete(settings, uri)
        except Exception:
            logger.exception("Retention: could not delete the audio of session %s; will try again", session_id)
            continue
        with session_scope() as db:
            cleared = rows_changed(db, update(CoachingSession)
                                   .where(CoachingSession.id == session_id, CoachingSession.audio_uri == uri)
                                   .values(audio_uri=None, audio_deleted_at=now)
                                   .execution_options(synchronize_session=False))
        if cleared:
            logger.info("Retention: deleted the audio of session %s (transcript kept)", session_id)
            report.audio_deleted.append(str(session_id))


def _overdue_webhook_deliveries(settings: Settings, enqueue_webhook: EnqueueWebhook, now: datetime,
                                report: SweepReport) -> None:
    grace = timedelta(seconds=settings.sweeper_pending_grace_seconds)
    with session_scope() as db:
        overdue = webhook_delivery.requeue_overdue(db, now=now, grace=grace)
    for delivery_id in overdue:
        try:
            enqueue_webhook(str(delivery_id))
        except Exception as exc:  # still due: the next sweep after the grace tries again
            logger.warning("Sweeper: could not queue webhook delivery %s (%s); will try again", delivery_id, exc)
            continue
        logger.info("Sweeper: queued overdue webhook delivery %s", delivery_id)
        report.webhook_deliveries.append(str(delivery_id))


def _enqueue(enqueue: Enqueue, session_id: uuid.UUID, task_id: str) -> None:
    with session_scope() as db:
        row = db.get(CoachingSession, session_id)
        if row is None or row.status != SessionStatus.PENDING or row.transcription_job_id != task_id:
            return  # deleted, cancelled or already claimed in the meantime
        args = (str(row.id), row.audio_uri or "", row.language, row.audio_filename, task_id)
    try:
        enqueue(*args)
    except Exception as exc:  # still pending with an unknown task id: the next sweep tries again
        logger.warning("Sweeper: could not queue session %s (%s); will try again", session_id, exc)


class Sweeper(threading.Thread):
    """Runs `sweep` every SWEEPER_INTERVAL_SECONDS in a worker process until stopped."""

    def __init__(self, settings: Settings, *, enqueue: Enqueue, queued_task_ids: Callable[[], set[str]],
                 enqueue_webhook: EnqueueWebhook | None = None):
        super().__init__(name="sweeper", daemon=True)
        self.settings, self.enqueue, self.queued_task_ids = settings, enqueue, queued_task_ids
        self.enqueue_webhook = enqueue_webhook
        self._halt = threading.Event()

    def run(self) -> None:
        logger.info("Sweeper started: every %.1fs, lease %.0fs, pending grace %.0fs",
                    self.settings.sweeper_interval_seconds, self.settings.session_lease_seconds,
                    self.settings.sweeper_pending_grace_seconds)
        while not self._halt.wait(self.settings.sweeper_interval_seconds):
            try:
                sweep(self.settings, enqueue=self.enqueue, queued_task_ids=self.queued_task_ids,
                      enqueue_webhook=self.enqueue_webhook)
            except Exception as exc:  # database down: try again next time
                logger.warning("Sweeper pass failed: %s", exc)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
