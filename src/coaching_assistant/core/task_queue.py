"""The queue as the rest of the service sees it: send the transcription task and webhook
deliveries, read a task's state,
look into the broker.

The API, the sweeper and the ops scripts need only these calls, so they import this module and
never the task module: the task is sent by its name, and importing the API loads neither the
pipeline nor the speech engine. Nothing here imports the tasks; only a worker does (through the
Celery app's `include`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from coaching_assistant.core.celery_app import DELIVER_WEBHOOK_TASK, TRANSCRIBE_AUDIO_TASK, celery_app
from coaching_assistant.core.config import get_settings
from coaching_assistant.models import SessionStatus

logger = logging.getLogger(__name__)

# A broker blip: publishing tries twice more, 0.2 s and then 0.7 s later, before the caller hears of it.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1}


def enqueue_transcription(session_id: str, audio_uri: str, language: str, original_filename: str | None,
                          task_id: str) -> None:
    """Queue the task under the id already stored on the session row."""
    celery_app.send_task(TRANSCRIBE_AUDIO_TASK, args=[session_id, audio_uri, language],
                         kwargs={"original_filename": original_filename}, task_id=task_id,
                         retry=True, retry_policy=PUBLISH_RETRY_POLICY)


def enqueue_webhook_delivery(delivery_id: str, countdown: float | None = None) -> None:
    """Queue an attempt at a webhook delivery (the row says what to send), now or after `countdown` seconds."""
    celery_app.send_task(DELIVER_WEBHOOK_TASK, args=[delivery_id], countdown=countdown, retry=True,
                         retry_policy=PUBLISH_RETRY_POLICY)


def task_state(task_id: str) -> str | None:
    """The Celery state of a task as the result backend reports it; None if it cannot say."""
    try:
        return str(celery_app.AsyncResult(task_id).state)
    except Exception:
        logger.warning("Result backend unreachable while reading task %s", task_id)
        return None


# The state a session's own status implies once it is final: the task of a cancelled session
# returns normally (SUCCESS to Celery), and a failed one may have been ended by the sweeper.
FINAL_TASK_STATES = {SessionStatus.COMPLETED: "SUCCESS", SessionStatus.FAILED: "FAILURE",
                     SessionStatus.CANCELLED: "REVOKED"}


def task_state_for_session(session_status: str, backend_state: str | None) -> str | None:
    """The task state to report beside a session's status: the backend's, unless it contradicts
    the row. The row is the truth; the backend may hold an earlier run's state, or be read a
    moment after the row.

    - completed, failed, cancelled: SUCCESS, FAILURE, REVOKED, from the row alone.
    - pending (no run holds the session): RETRY while Celery counts down to a retry, else PENDING
      (waiting to run), whatever an earlier run left: a run that handed the session back leaves
      PROGRESS until its retry is recorded, and one that gave up without claiming it (the sweeper
      queues it again) leaves FAILURE.
    - processing (a run holds it): the backend's STARTED, PROGRESS or RETRY (a run that could not
      hand the session back waits to resume it); anything else is not this run's: STARTED.
    - uploading: None, no task runs. None from the backend (unreachable) stays None.
    """
    if session_status in FINAL_TASK_STATES:
        return FINAL_TASK_STATES[SessionStatus(session_status)]
    if backend_state is None or session_status == SessionStatus.UPLOADING:
        return None
    if session_status == SessionStatus.PENDING:
        return "RETRY" if backend_state == "RETRY" else "PENDING"
    return backend_state if backend_state in ("STARTED", "PROGRESS", "RETRY") else "STARTED"


def session_task_state(session_status: str, task_id: str | None) -> str | None:
    """The task state to show beside a session: the result backend is asked only while the
    session waits or runs (`task_state_for_session` says what the row allows)."""
    if not task_id:
        return None
    live = session_status in (SessionStatus.PENDING, SessionStatus.PROCESSING)
    return task_state_for_session(session_status, task_state(task_id) if live else None)


def forget(task_id: str | None) -> None:
    """Drop a task's stored state from the result backend (its progress mentions the session)."""
    if not task_id:
        return
    try:
        celery_app.AsyncResult(task_id).forget()
    except Exception:
        logger.warning("Result backend unreachable; could not forget task %s", task_id)


def state_channel(task_id: str) -> tuple[str, str] | None:
    """Where the result backend announces the task's state changes, as (Redis URL, pub/sub
    channel); None when the backend publishes nothing (it is not Redis)."""
    backend, url = celery_app.backend, celery_app.conf.result_backend or ""
    if not hasattr(backend, "get_key_for_task") or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return url, backend.get_key_for_task(task_id).decode()


def check_broker(timeout: float) -> None:
    """Raise unless the broker accepts a connection within `timeout` seconds."""
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)


def worker_names(timeout: float) -> list[str]:
    """The workers that answer a ping within `timeout` seconds."""
    replies = celery_app.control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)


def broker_client(timeout: float = 5) -> redis.Redis:
    """A direct Redis client on the broker, for reads Celery has no API for."""
    return redis.Redis.from_url(get_settings().broker_url, socket_timeout=timeout, socket_connect_timeout=timeout)


def queue_length(timeout: float = 5) -> int:
    """Messages waiting in the Celery queue; raises redis.RedisError when the broker is down."""
    with broker_client(timeout) as client:
        return int(client.llen(get_settings().celery_queue))


def queued_task_ids() -> set[str]:
    """Ids of every transcription message the broker holds: waiting in the queue, or delivered to
    a worker and not yet acknowledged (running, prefetched, or waiting out a retry countdown).

    Reads kombu's Redis layout: the queue is a list of JSON messages; delivered messages sit in
    the `unacked` hash until acked.
    """
    with broker_client() as client:
        ids: set[str] = set()
        for raw in client.lrange(get_settings().celery_queue, 0, -1):
            ids.add(_message_id(json.loads(raw)))
        for raw in client.hvals("unacked"):
            ids.add(_message_id(json.loads(raw)[0]))
        return ids


def _message_id(message: dict[str, Any]) -> str:
    return str(message.get("headers", {}).get("id") or message.get("properties", {}).get("correlation_id"))
