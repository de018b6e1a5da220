"""Session events recorded for webhooks in the transaction that ends the session (an outbox).

`session_state` calls `record_final_status` when a compare-and-set has just moved a session to
completed, failed or cancelled: one `webhook_delivery` row per webhook of the session's owner that
asked for the event, in the same transaction, so a transition that rolls back records nothing and
one that commits can never lose its event. `event_key` (event, session, run) is unique per
webhook, so an event is recorded once however often it is reported.

A delivery is sent only after its commit: the ids recorded in a database session wait in its
`info` until an `after_commit` listener hands them to the queue (`send_after_commit`, installed by
the API and the workers with the enqueue function, since nothing here imports Celery). If the
process dies between the commit and the queue, the sweeper finds the delivery due and queues it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from coaching_assistant.core.config import get_settings
from coaching_assistant.models import CoachingSession, SessionStatus, Webhook, WebhookDelivery, utcnow

logger = logging.getLogger(__name__)

EVENTS = {SessionStatus.COMPLETED: "session.completed", SessionStatus.FAILED: "session.failed",
          SessionStatus.CANCELLED: "session.cancelled"}
# A failed session's message is the pipeline's; a payload stays small whatever it says.
MAX_ERROR_MESSAGE_CHARS = 1000
_TO_SEND = "webhook_deliveries_to_send"  # the key of the ids in Session.info


def record_final_status(db: Session, session_id: uuid.UUID) -> None:
    """Record the event of a session that has just reached a final status, for each webhook of its
    owner that subscribed to it."""
    session = db.execute(select(CoachingSession.user_id, CoachingSession.status, CoachingSession.title,
                                CoachingSession.duration_seconds, CoachingSession.segments_count,
                                CoachingSession.error_code, CoachingSession.error_message,
                                CoachingSession.transcription_job_id)
                         .where(CoachingSession.id == session_id)).one_or_none()
    if session is None or session.status not in EVENTS:
        return
    event_type = EVENTS[SessionStatus(session.status)]
    webhooks = [webhook_id for webhook_id, events in
                db.execute(select(Webhook.id, Webhook.events).where(Webhook.user_id == session.user_id))
                if event_type in events]
    if not webhooks:
        return
    now = utcnow()
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": _data(session_id, session._mapping)}
    # One run ends once; an imported transcript has no run.
    event_key = f"{event_type}:{session_id}:{session.transcription_job_id or 'import'}"
    for webhook_id in webhooks:
        delivery_id = uuid.uuid4()
        inserted = db.scalar(_insert_if_new(db).values(
            id=delivery_id, webhook_id=webhook_id, event=event_type, event_key=event_key, session_id=session_id,
            payload=payload, status="pending", attempts=0, next_attempt_at=now, created_at=now)
            .on_conflict_do_nothing(index_elements=["webhook_id", "event_key"]).returning(WebhookDelivery.id))
        if inserted is not None:  # None: the event was already recorded for this webhook
            db.info.setdefault(_TO_SEND, []).append(str(inserted))


def _insert_if_new(db: Session) -> Any:
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql_insert(WebhookDelivery)
    if dialect == "sqlite":
        return sqlite_insert(WebhookDelivery)
    raise NotImplementedError(f"no INSERT … ON CONFLICT for {dialect}")


def _data(session_id: uuid.UUID, session: Any) -> dict[str, Any]:
    completed = session["status"] == SessionStatus.COMPLETED
    message = session["error_message"]
    return {
        "session_id": str(session_id),
        "status": session["status"],
        "title": session["title"],
        "duration_seconds": session["duration_seconds"],
        "segments_count": session["segments_count"],
        "error_code": session["error_code"],
        "error_message": message[:MAX_ERROR_MESSAGE_CHARS] if message else message,
        "transcript_url": (f"{(get_settings().public_url or '').rstrip('/')}/api/v1/sessions/{session_id}/transcript"
                           if completed else None),
    }


# The process's enqueue function (core/task_queue.py), set by `send_after_commit`.
_enqueue: Callable[[str], None] | None = None


def send_after_commit(enqueue: Callable[[str], None]) -> None:
    """Hand the deliveries each database session records to `enqueue` once its transaction commits;
    drop them when it rolls back. Installed once per process (the API, a worker)."""
    global _enqueue
    _enqueue = enqueue
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def _after_commit(db: Session) -> None:
    to_send = db.info.pop(_TO_SEND, [])
    if _enqueue is None:  # a process without a queue (a script): the sweeper queues them
        return
    for delivery_id in to_send:
        try:
            _enqueue(delivery_id)
        except Exception as exc:  # committed and due: the sweeper queues it
            logger.warning("Could not queue webhook delivery %s (%s); the sweeper will", delivery_id, exc)


def _after_rollback(db: Session) -> None:
    db.info.pop(_TO_SEND, None)
