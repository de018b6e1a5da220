"""The Celery application: `celery -A coaching_assistant.core.celery_app worker …`.

Only the app and its configuration live here, so importing it loads nothing else of ours: the
API and the ops scripts reach the queue through core/task_queue.py, and only a worker loads the
task module and its process hooks, through `include`.

Delivery is at-least-once (late acks, reject on worker lost, prefetch 1); the task makes that
safe by claiming its session atomically in the database.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from coaching_assistant.core.config import get_settings

# The task's name is public (the README sends work by it): it must not change when code moves.
TRANSCRIBE_AUDIO_TASK = "coaching_assistant.tasks.transcription_tasks.transcribe_audio"
DELIVER_WEBHOOK_TASK = "coaching_assistant.tasks.webhook_tasks.deliver_webhook"


settings = get_settings()

celery_app = Celery(
    "coaching_assistant.core.celery_app",
    broker=settings.broker_url,
    backend=settings.result_backend,
    include=["coaching_assistant.tasks.transcription_tasks", "coaching_assistant.tasks.webhook_tasks",
             "coaching_assistant.tasks.worker_hooks"],
)
app = celery_app  # `celery -A module` looks for `app` first

celery_app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    task_track_started=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue=settings.celery_queue,
    # A worker started without -Q consumes every queue listed here, taking from each in turn, so
    # a webhook delivery (seconds at most) never waits behind a backlog of queued transcriptions.
    task_queues=[Queue(name, Exchange(name), routing_key=name)
                 for name in dict.fromkeys([settings.celery_queue, settings.webhook_queue])],
    task_routes={TRANSCRIBE_AUDIO_TASK: {"queue": settings.celery_queue},
                 DELIVER_WEBHOOK_TASK: {"queue": settings.webhook_queue}},
    task_soft_time_limit=settings.task_soft_time_limit_seconds,
    task_time_limit=settings.task_hard_time_limit_seconds,
    # A message not acked within the visibility timeout is redelivered: keep it above the hard
    # time limit so a long task is never handed to a second worker while it still runs.
    broker_transport_options={"visibility_timeout": int(settings.task_hard_time_limit_seconds) + 600},
    # Progress is also in the database, so a result-backend outage may cost a progress update but
    # must not stall the task: give up on a write after about a second (Celery's default is ~20 s).
    result_backend_transport_options={
        "visibility_timeout": int(settings.task_hard_time_limit_seconds) + 600,
        "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5},
    },
    broker_connection_retry_on_startup=True,
    redis_socket_connect_timeout=5,
    redis_backend_health_check_interval=30,
    result_expires=7 * 24 * 3600,
    result_extended=False,  # no task arguments (paths, filenames) in the backend
    worker_hijack_root_logger=True,
    timezone="UTC",
    enable_utc=True,
)
