"""The Celery task: a thin adapter over the transcription service. Tasks take JSON primitives only.

What a run that hit a transient error or a busy session leads to (retry after how long, give up,
leave the session to the sweeper) is decided by `next_step` and `busy_countdown`, pure functions
tested without a broker. Only a worker imports this module (through the Celery app's `include`):
the rest of the service sends the task by name (core/task_queue.py).
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from celery import Task

from coaching_assistant.core.celery_app import TRANSCRIBE_AUDIO_TASK, celery_app
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.errors import ErrorCode, PermanentError, TransientError
from coaching_assistant.services import transcription

logger = logging.getLogger(__name__)

# Celery's retry counter at which backoff stops growing for a run that never claimed its session.
MAX_BACKOFF_EXPONENT = 6


class Action(StrEnum):
    RETRY = "retry"  # run again after `countdown` seconds
    GIVE_UP = "give_up"  # out of attempts: end the session `failed` (retries_exhausted)
    LEAVE_TO_SWEEPER = "leave_to_sweeper"  # never claimed; the session stays `pending` for the sweeper


@dataclass(frozen=True)
class NextStep:
    action: Action
    countdown: float = 0.0


def backoff_seconds(retries: int, base: float) -> float:
    """Exponential backoff with jitter: uniform in [ceiling / 2, ceiling], ceiling = base * 2**retries,
    so sessions that failed together do not all retry at the same moment."""
    ceiling = base * (2 ** retries)
    return random.uniform(ceiling / 2, ceiling)


def next_step(attempt: int | None, *, retries: int, max_attempts: int, backoff_base: float) -> NextStep:
    """What the task does after a run raised a TransientError. `attempt` is the session's attempt
    count once the run had claimed it (None: it never did); `retries` is Celery's count for this
    message.

    Retries are bounded by the session's attempt count in the database (TASK_MAX_ATTEMPTS), not
    by Celery's counter, so a redelivery that only waited for a live lease costs no attempt.
    """
    if attempt is None:
        # Nothing was claimed (the database is unreachable), so no attempt is spent. After a
        # while this message gives up; the session is still `pending` in the database, where
        # the sweeper finds it and queues it again.
        if retries >= 2 * max_attempts:
            return NextStep(Action.LEAVE_TO_SWEEPER)
        return NextStep(Action.RETRY, backoff_seconds(min(retries, MAX_BACKOFF_EXPONENT), backoff_base))
    if attempt >= max_attempts:
        return NextStep(Action.GIVE_UP)
    return NextStep(Action.RETRY, backoff_seconds(attempt - 1, backoff_base))


def busy_countdown(retry_after: float | None, *, lease_seconds: float) -> float:
    """Another run holds a live lease (e.g. this is a redelivery after a crash): look again just
    after that lease would run out, instead of acking a session nobody may finish."""
    return (retry_after or lease_seconds) + 1


@celery_app.task(bind=True, name=TRANSCRIBE_AUDIO_TASK, max_retries=None)
def transcribe_audio(self: Task, session_id: str, audio_uri: str, language: str,
                     original_filename: str | None = None, resume_token: str | None = None) -> dict[str, Any]:
    """Transcribe one session's audio. `audio_uri` is a local storage path or a gs:// URI.

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
        step = next_step(exc.attempt, retries=self.request.retries, max_attempts=settings.task_max_attempts,
                         backoff_base=settings.task_retry_backoff_seconds)
        if step.action != Action.RETRY:
            _stop(step.action, exc, session_id=session_id, task_id=task_id)
            raise
        logger.warning("Transient error for session %s (task %s, %s); retrying in %.1fs", session_id, task_id,
                       exc.code, step.countdown)
        kwargs = {"original_filename": original_filename, "resume_token": exc.resume_token or resume_token}
        raise self.retry(exc=exc, countdown=step.countdown, kwargs=kwargs) from exc
    except PermanentError as exc:  # already recorded on the session; retrying cannot help
        logger.error("Transcription failed for session %s (task %s): %s (%s)", session_id, task_id, exc.message,
                     exc.code)
        raise
    except Exception:
        logger.exception("Transcription failed for session %s (task %s)", session_id, task_id)
        raise
    if outcome.status == "busy":
        countdown = busy_countdown(outcome.retry_after, lease_seconds=settings.session_lease_seconds)
        logger.warning("Session %s is busy (task %s); checking again in %.0fs", session_id, task_id, countdown)
        raise self.retry(countdown=countdown)
    if outcome.status == "cancelled":
        logger.info("Transcription cancelled for session %s (task %s)", session_id, task_id)
    if outcome.status == "completed":
        logger.info("Transcription completed for session %s (task %s, %d segments, %.1fs of audio)", session_id,
                    task_id, outcome.segments_count, outcome.duration_seconds or 0)
    return {**outcome.as_dict(), "worker": self.request.hostname}


def _stop(action: Action, error: TransientError, *, session_id: str, task_id: str) -> None:
    """Record and log why this message ends without another run."""
    if action == Action.GIVE_UP:
        transcription.give_up(uuid.UUID(session_id), task_id=task_id, code=ErrorCode.RETRIES_EXHAUSTED,
                              message=f"Gave up after {error.attempt} attempts: {error.message}")
        logger.error("Transcription failed for session %s (task %s): retries exhausted (%s)", session_id, task_id,
                     error.code)
    else:
        logger.error("Could not claim session %s (task %s, %s); leaving it to the sweeper", session_id, task_id,
                     error.code)
