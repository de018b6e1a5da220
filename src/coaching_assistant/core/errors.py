"""Typed errors shared by the API, the services and the tasks.

A `PermanentError` ends the session `failed` at once with its code; a `TransientError` is
retried with backoff. Neither module imports FastAPI or Celery.
"""

from __future__ import annotations


class CoachingError(Exception):
    code = "internal_error"
    status_code = 500

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds, sent as Retry-After (429, 503)
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code


class PermanentError(CoachingError):
    """Retrying cannot help (bad audio, unsupported language, missing file)."""

    code = "transcription_failed"


class TransientError(CoachingError):
    """May succeed later (database or broker blip, cloud API unavailable)."""

    code = "transient_error"
    attempt: int | None = None  # the session's attempt number, once a run had claimed it
    resume_token: str | None = None  # the claimed run's lease token, when it could not release it
