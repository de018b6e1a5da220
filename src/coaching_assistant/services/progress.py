"""Progress of a running transcription: to the `processing_status` row and to a publish callback.

The row is the source of truth (GET …/status reads it); `publish` is best effort (the task turns
it into Celery's PROGRESS state). Every write is conditional on the run still holding its lease,
so the progress steps (between stages and chunks) are where a cancelled, taken-over or deleted
run notices it and stops. Audio seconds processed never exceed the decoded total.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from coaching_assistant.core.database import session_scope
from coaching_assistant.core.errors import ErrorCode, PermanentError
from coaching_assistant.services import session_state
from coaching_assistant.services.lease import TIME_LIMIT_MESSAGE, Heartbeat, LeaseLost

logger = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], None]


class ProgressReporter:
    """Writes monotonic progress to the database and publishes it, at most every few hundred ms."""

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
        self.duration_total: float | None = None  # seconds of decoded audio, once known

    def update(self, progress: float, message: str, *, processed: float | None = None,
               force: bool = False) -> None:
        """Record `progress` (0–100, never lower than before) with `processed` audio seconds;
        raises LeaseLost once the run no longer owns the session, PermanentError past its deadline."""
        if time.monotonic() > self.heartbeat.deadline:
            raise PermanentError(TIME_LIMIT_MESSAGE, code=ErrorCode.TIME_LIMIT_EXCEEDED)
        self.heartbeat.check()
        value = max(self.progress, min(100, int(progress)))
        now = time.monotonic()
        if not force and (value == self.progress or now - self._last_write < self.min_interval):
            return
        self.progress = value
        self._last_write = now
        if processed is not None and self.duration_total is not None:
            processed = min(processed, self.duration_total)  # an engine's last word may end past the audio
        speed = round(processed / max(now - self.started, 1e-6), 3) if processed else None
        self._write(value, message, processed, speed)
        publish_quietly(self.publish, {"session_id": str(self.session_id), "progress": value, "message": message,
                                       "duration_processed": processed, "duration_total": self.duration_total})

    def _write(self, value: int, message: str, processed: float | None, speed: float | None) -> None:
        with session_scope() as db:
            written = session_state.write_progress(
                db, self.session_id, token=self.token, progress=value, message=message,
                duration_processed=processed, duration_total=self.duration_total, processing_speed=speed)
        if not written:
            raise LeaseLost(str(self.session_id))


def publish_quietly(publish: Publish, meta: dict[str, Any]) -> None:
    """Publish, logging a failure: the database row is the source of truth for progress, so a
    result-backend blip must not fail an hour-long transcription."""
    try:
        publish(meta)
    except Exception as exc:
        logger.warning("Could not publish progress for session %s: %s", meta.get("session_id"), exc)
