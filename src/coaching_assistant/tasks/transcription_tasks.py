"""The Celery task: a thin adapter over the transcription service. Tasks take JSON primitives only.

Only a worker imports this module (through the Celery app's `include`): the rest of the service
sends the task by name (core/task_queue.py).
"""

from __future__ import annotations

import logging
import random
import uuid
from typing import Any

from celery import Task

from coaching_assistant.core.celery_app import TRANSCRIBE_AUDIO_TASK, celery_app
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.errors import PermanentError, TransientError
from coaching_assistant.services import transcription

logger = logging.getLogger(__name__)


def backoff_seconds(retries: int, base: float) -> float:
    """Exponential backoff with jitter: uniform in [ceiling / 2, ceiling], ceiling = base * 2**retries,
    so sessions that failed together do not all retry at the same moment."""
    ceiling = base * (2 ** retries)
    return random.uniform(ceiling / 2, ceiling)


@celery_app.task(bind=True, name=TRANSCRIBE_AUDIO_TASK, max_retries=None)
def transcribe_audio(self: Task, session_id: str, audio_uri: str, language: str,
                     original_filename: str | None = None, resume_token: str | None = None) -> dict[str, Any]:
    """Transcribe one session's audio. `audio_uri` is a local storage path or a gs:// URI.

    Retries are bounded by the session's attempt count in the database (TASK_MAX_ATTEMPTS), not
    by Celery's counter, so a redelivery that only waited for a live lease costs no attempt.
    `resume_token` is set by the task itself when it retries a run it could not hand back.
    """
    settings = get_settings()
    task_id = self.request.id
    logger.info("Starting transcription for session %s (task %s, file %s)", session_id, task_id,
                original_filename)

    def publish(meta: dict[str, Any]) -> None:
        self.update_state(state="PROGRESS", meta=meta)

    try:
        outcome = transcription.transcribe_session(settings=settings, session_id=session_id,
                                                   audio_uri=audio_uri, language=language,
                                                   task_id=task_id, publish=publish, resume_token=resume_token)
    except TransientError as exc:
        if exc.attempt is None:
            # Nothing was claimed (the database is unreachable), so no attempt is spent. After a
            # while this message gives up; the session is still `pending` in the database, where
            # the sweeper finds it and queues it again.
            if self.request.retries >= 2 * settings.task_max_attempts:
                logger.error("Could not claim session %s (task %s, %s); leaving it to the sweeper", session_id,
                             task_id, exc.code)
                raise
            countdown = backoff_seconds(min(self.request.retries, 6), settings.task_retry_backoff_seconds)
        else:
            if exc.attempt >= settings.task_max_attempts:
                transcription.give_up(uuid.UUID(session_id), task_id=task_id, code="retries_exhausted",
                                      message=f"Gave up after {exc.attempt} attempts: {exc.message}")
                logger.error("Transcription failed for session %s (task %s): retries exhausted (%s)", session_id,
                             task_id, exc.code)
                raise
            countdown = backoff_seconds(exc.attempt - 1, settings.task_retry_backoff_seconds)
        logger.warning("Transient error for session %s (task %s, %s); retrying in %.1fs", session_id, task_id,
                       exc.code, countdown)
        kwargs = {"original_filename": original_filename, "resume_token": exc.resume_token or resume_token}
        raise self.retry(exc=exc, countdown=countdown, kwargs=kwargs) from exc
    except PermanentError as exc:  # already recorded on the session; retrying cannot help
        logger.error("Transcription failed for session %s (task %s): %s (%s)", session_id, task_id, exc.message,
                     exc.code)
        raise
    except Exception:
        logger.exception("Transcription failed for session %s (task %s)", session_id, task_id)
        raise
    if outcome.status == "busy":
        # Another run holds a live lease (e.g. this is a redelivery after a crash): look again
        # when that lease would run out instead of acking a session nobody may finish.
        countdown = (outcome.retry_after or settings.session_lease_seconds) + 1
        logger.warning("Session %s is busy (task %s); checking again in %.0fs", session_id, task_id, countdown)
        raise self.retry(countdown=countdown)
    if outcome.status == "cancelled":
        logger.info("Transcription cancelled for session %s (task %s)", session_id, task_id)
    if outcome.status == "completed":
        logger.info("Transcription completed for session %s (task %s, %d segments, %.1fs of audio)", session_id,
                    task_id, outcome.segments_count, outcome.duration_seconds or 0)
    return {**outcome.as_dict(), "worker": self.request.hostname}
