"""What a worker process does besides running tasks: load the speech engine before the first
task arrives, queue the webhook deliveries its transactions record, and run a sweeper beside the
tasks.

Connected to Celery's worker signals; the Celery app `include`s this module, so only a worker
imports it (and with it the engine and the sweeper), never the API.
"""

from __future__ import annotations

import logging

from celery.signals import worker_init, worker_ready, worker_shutdown
from threadpoolctl import threadpool_limits

from coaching_assistant.core.config import get_settings
from coaching_assistant.core.task_queue import enqueue_transcription, enqueue_webhook_delivery, queued_task_ids
from coaching_assistant.diarization import get_encoder
from coaching_assistant.services import webhook_outbox, whisper_models
from coaching_assistant.services.sweeper import Sweeper
from coaching_assistant.stt import get_provider
from coaching_assistant.stt.base_model import ModelUnavailable
from coaching_assistant.stt.model_paths import model_directory

logger = logging.getLogger(__name__)


@worker_init.connect
def send_webhooks_after_commit(**_kwargs: object) -> None:
    """Sessions a task or the sweeper ends record webhook deliveries; queue them once committed."""
    webhook_outbox.send_after_commit(enqueue_webhook_delivery)


@worker_init.connect
def preload_engine(**_kwargs: object) -> None:
    """Load the speech engine and the speaker encoder once per worker process, before the first
    task arrives."""
    settings = get_settings()
    # numpy's BLAS (the speaker encoder) would start a thread per core in every call; with
    # several tasks at once those threads fight the speech engine's for the same cores.
    threadpool_limits(limits=settings.worker_blas_threads, user_api="blas")
    try:
        if settings.stt_provider == "whisper":
            # Join the multilingual model now (once per host), not in the first non-English task.
            model_directory(settings, whisper_models.BASE)
        get_provider(settings, whisper_models.resolve(settings, None, language="en"))
        if settings.diarization_enabled:
            get_encoder(settings.diarization_weights_path)
    except ModelUnavailable as exc:
        # One line that says what to install; the worker stays up for the sessions it can serve
        # (English with tiny.en), the others fail with model_unavailable and the same message.
        logger.error("%s", exc.message)
    except Exception:  # a broken engine fails each task with a clear code; keep the worker up
        logger.exception("Could not preload the speech engine or the speaker encoder")


_sweeper: Sweeper | None = None


@worker_ready.connect
def start_sweeper(**_kwargs: object) -> None:
    """Every worker runs a sweeper (safe with several): lost sessions come back within a lease."""
    global _sweeper
    settings = get_settings()
    if settings.sweeper_interval_seconds <= 0 or _sweeper is not None:
        return
    _sweeper = Sweeper(settings, enqueue=enqueue_transcription, queued_task_ids=queued_task_ids,
                       enqueue_webhook=enqueue_webhook_delivery)
    _sweeper.start()


@worker_shutdown.connect
def stop_sweeper(**_kwargs: object) -> None:
    if _sweeper is not None:
        _sweeper.stop()
