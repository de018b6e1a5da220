"""The Celery application: `celery -A coaching_assistant.core.celery_app worker …`.

Delivery is at-least-once (late acks, reject on worker lost, prefetch 1); the task makes that
safe by claiming its session atomically in the database.
"""

from __future__ import annotations

import logging

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutdown

from coaching_assistant.core.config import get_settings

TRANSCRIBE_AUDIO_TASK = "coaching_assistant.tasks.transcription_tasks.transcribe_audio"
# The seed's worker command, as the diagnostic scripts quote it when no worker answers.
SEED_WORKER_COMMAND = ("celery -A coaching_assistant.core.celery_app worker --loglevel=info --concurrency=2 "
                       "--pool=threads")

settings = get_settings()

celery_app = Celery(
    "coaching_assistant.core.celery_app",
    broker=settings.broker_url,
    backend=settings.result_backend,
    include=["coaching_assistant.tasks.transcription_tasks"],
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
    task_routes={TRANSCRIBE_AUDIO_TASK: {"queue": settings.celery_queue}},
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


@worker_init.connect
def _preload_engine(**_kwargs: object) -> None:
    """Load the speech engine and the speaker encoder once per worker process, before the first
    task arrives."""
    from threadpoolctl import threadpool_limits

    from coaching_assistant.diarization import get_encoder
    from coaching_assistant.stt import get_provider

    settings = get_settings()
    # numpy's BLAS (the speaker encoder) would start a thread per core in every call; with
    # several tasks at once those threads fight the speech engine's for the same cores.
    threadpool_limits(limits=settings.worker_blas_threads, user_api="blas")
    try:
        get_provider(settings)
        if settings.diarization_enabled:
            get_encoder(settings.diarization_weights_path)
    except Exception:  # a broken engine fails each task with a clear code; keep the worker up
        logging.getLogger(__name__).exception("Could not preload the speech engine or the speaker encoder")


_sweeper = None


@worker_ready.connect
def _start_sweeper(**_kwargs: object) -> None:
    """Every worker runs a sweeper (safe with several): lost sessions come back within a lease."""
    global _sweeper
    settings = get_settings()
    if settings.sweeper_interval_seconds <= 0 or _sweeper is not None:
        return
    from coaching_assistant.services.sweeper import Sweeper
    from coaching_assistant.tasks.transcription_tasks import enqueue_transcription, queued_task_ids

    _sweeper = Sweeper(settings, enqueue=enqueue_transcription, queued_task_ids=queued_task_ids)
    _sweeper.start()


@worker_shutdown.connect
def _stop_sweeper(**_kwargs: object) -> None:
    if _sweeper is not None:
        _sweeper.stop()
