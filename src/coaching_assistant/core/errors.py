"""Every error code the service gives, and the typed errors that carry them.

A code is a public interface: clients branch on the `code` of an API error body
(`{"code", "message"}`) and on a failed session's `error_code`. So every code is named here, once,
with the HTTP status it answers with; a rename is listed in CHANGELOG.md.

A `PermanentError` ends the session `failed` at once with its code; a `TransientError` is
retried with backoff. The other classes name refusals raised in many places or caught by type;
any other refusal is a `CoachingError` with its code. Nothing here imports FastAPI or Celery.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Any


@unique
class ErrorCode(StrEnum):
    # The request itself
    BAD_REQUEST = "bad_request"
    INVALID_JSON = "invalid_json"
    VALIDATION_ERROR = "validation_error"
    BODY_TOO_LARGE = "body_too_large"
    BODY_TIMEOUT = "body_timeout"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    # Who is asking, and how much
    UNAUTHORIZED = "unauthorized"
    INVALID_API_KEY = "invalid_api_key"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    INVALID_CREDENTIALS = "invalid_credentials"
    SIGN_IN_RATE_LIMITED = "sign_in_rate_limited"
    CSRF_FAILED = "csrf_failed"
    TOO_MANY_REQUESTS = "too_many_requests"
    TOO_MANY_UPLOADS = "too_many_uploads"
    TOO_MANY_LONG_POLLS = "too_many_long_polls"
    TOO_MANY_EVENT_STREAMS = "too_many_event_streams"
    SESSION_RATE_LIMITED = "session_rate_limited"
    STORAGE_QUOTA_EXCEEDED = "storage_quota_exceeded"
    RETRY_LIMIT_REACHED = "retry_limit_reached"
    # Sessions
    SESSION_NOT_FOUND = "session_not_found"
    INVALID_SESSION_STATUS = "invalid_session_status"
    # Uploads and their audio (also a failed session's code when the worker finds the same)
    MULTIPART_REQUIRED = "multipart_required"
    MALFORMED_MULTIPART = "malformed_multipart"
    MISSING_FILE = "missing_file"
    MISSING_FILENAME = "missing_filename"
    FILE_TOO_LARGE = "file_too_large"
    EMPTY_FILE = "empty_file"
    UNSUPPORTED_FORMAT = "unsupported_format"
    UNDECODABLE_AUDIO = "undecodable_audio"
    AUDIO_TOO_LONG = "audio_too_long"
    SAMPLE_RATE_TOO_LOW = "sample_rate_too_low"
    TOO_MANY_CHANNELS = "too_many_channels"
    AUDIO_MISSING = "audio_missing"
    # Downloading a session's audio
    AUDIO_NOT_FOUND = "audio_not_found"
    AUDIO_IN_BUCKET = "audio_in_bucket"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"
    # Transcripts: reading, editing, importing
    TRANSCRIPT_NOT_READY = "transcript_not_ready"
    NO_SEGMENTS = "no_segments"
    INVALID_ROLE = "invalid_role"
    UNKNOWN_SPEAKER = "unknown_speaker"
    INVALID_LABEL = "invalid_label"
    INVALID_SEGMENT = "invalid_segment"
    UNKNOWN_SEGMENT = "unknown_segment"
    INVALID_CONTENT = "invalid_content"
    EDIT_CONFLICT = "edit_conflict"
    EDIT_HISTORY_FULL = "edit_history_full"
    PRECONDITION_FAILED = "precondition_failed"
    INVALID_TRANSCRIPT = "invalid_transcript"
    TOO_MANY_CUES = "too_many_cues"
    CUE_TOO_LONG = "cue_too_long"
    # Webhooks
    WEBHOOK_NOT_FOUND = "webhook_not_found"
    INVALID_WEBHOOK_URL = "invalid_webhook_url"
    WEBHOOK_URL_NOT_ALLOWED = "webhook_url_not_allowed"
    TOO_MANY_WEBHOOKS = "too_many_webhooks"
    # The OpenAI-compatible API (/v1/)
    TRANSCRIPTION_TIMEOUT = "transcription_timeout"
    SESSION_CANCELLED = "session_cancelled"
    # The service's own state
    INTERNAL_ERROR = "internal_error"
    BROKER_UNAVAILABLE = "broker_unavailable"
    DATABASE_BUSY = "database_busy"
    DATABASE_UNAVAILABLE = "database_unavailable"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # A transcription run (a failed session's error_code)
    TRANSCRIPTION_FAILED = "transcription_failed"
    TRANSIENT_ERROR = "transient_error"
    RETRIES_EXHAUSTED = "retries_exhausted"
    TIME_LIMIT_EXCEEDED = "time_limit_exceeded"
    AUDIO_LOCATION_REJECTED = "audio_location_rejected"
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    UNKNOWN_MODEL = "unknown_model"
    MODEL_UNAVAILABLE = "model_unavailable"
    STT_UNAVAILABLE = "stt_unavailable"
    STT_REJECTED = "stt_rejected"
    DIARIZATION_UNAVAILABLE = "diarization_unavailable"
    GOOGLE_NOT_INSTALLED = "google_not_installed"
    GOOGLE_PROJECT_MISSING = "google_project_missing"
    GOOGLE_CREDENTIALS_INVALID = "google_credentials_invalid"


_E = ErrorCode
# The status an API answer with the code has; a code not listed is only a session's error_code
# (the API answers 500 if one ever reaches it).
HTTP_STATUS: dict[ErrorCode, int] = {
    _E.BAD_REQUEST: 400, _E.INVALID_JSON: 422, _E.VALIDATION_ERROR: 422, _E.BODY_TOO_LARGE: 413,
    _E.BODY_TIMEOUT: 408, _E.NOT_FOUND: 404, _E.METHOD_NOT_ALLOWED: 405, _E.UNSUPPORTED_MEDIA_TYPE: 415,
    _E.CONFLICT: 409, _E.FORBIDDEN: 403,
    _E.UNAUTHORIZED: 401, _E.INVALID_API_KEY: 401, _E.PASSWORD_TOO_SHORT: 422, _E.PASSWORD_TOO_LONG: 422,
    _E.INVALID_CREDENTIALS: 401, _E.SIGN_IN_RATE_LIMITED: 429, _E.CSRF_FAILED: 403,
    _E.TOO_MANY_REQUESTS: 429, _E.TOO_MANY_UPLOADS: 429,
    _E.TOO_MANY_LONG_POLLS: 429, _E.SESSION_RATE_LIMITED: 429, _E.STORAGE_QUOTA_EXCEEDED: 409,
    _E.RETRY_LIMIT_REACHED: 409,
    _E.SESSION_NOT_FOUND: 404, _E.INVALID_SESSION_STATUS: 409,
    _E.MULTIPART_REQUIRED: 415, _E.MALFORMED_MULTIPART: 400, _E.MISSING_FILE: 422, _E.MISSING_FILENAME: 422,
    _E.FILE_TOO_LARGE: 413, _E.EMPTY_FILE: 400, _E.UNSUPPORTED_FORMAT: 415, _E.UNDECODABLE_AUDIO: 422,
    _E.AUDIO_TOO_LONG: 422, _E.SAMPLE_RATE_TOO_LOW: 422, _E.TOO_MANY_CHANNELS: 422, _E.AUDIO_MISSING: 409,
    _E.TRANSCRIPT_NOT_READY: 409, _E.NO_SEGMENTS: 404, _E.INVALID_ROLE: 422, _E.UNKNOWN_SPEAKER: 422,
    _E.INVALID_LABEL: 422, _E.INVALID_SEGMENT: 422, _E.UNKNOWN_SEGMENT: 422, _E.INVALID_CONTENT: 422,
    _E.EDIT_CONFLICT: 409,
    _E.EDIT_HISTORY_FULL: 409, _E.PRECONDITION_FAILED: 412, _E.INVALID_TRANSCRIPT: 422, _E.TOO_MANY_CUES: 422,
    _E.CUE_TOO_LONG: 422,
    _E.AUDIO_NOT_FOUND: 404, _E.AUDIO_IN_BUCKET: 501, _E.RANGE_NOT_SATISFIABLE: 416,
    _E.INTERNAL_ERROR: 500, _E.BROKER_UNAVAILABLE: 503, _E.DATABASE_BUSY: 503, _E.DATABASE_UNAVAILABLE: 503,
    _E.SERVICE_UNAVAILABLE: 503,
    _E.UNSUPPORTED_LANGUAGE: 422, _E.UNKNOWN_MODEL: 422,
    _E.WEBHOOK_NOT_FOUND: 404, _E.INVALID_WEBHOOK_URL: 422, _E.WEBHOOK_URL_NOT_ALLOWED: 422,
    _E.TOO_MANY_WEBHOOKS: 409,
    _E.TOO_MANY_EVENT_STREAMS: 429,
    _E.TRANSCRIPTION_TIMEOUT: 504, _E.SESSION_CANCELLED: 409,
}


class CoachingError(Exception):
    """An error with a code and a message for people; its HTTP status comes from the code."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, code: ErrorCode | None = None, *, status_code: int | None = None,
                 retry_after: float | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds, sent as Retry-After (429, 503)
        self.extra = extra  # more fields of the error body (the session a timed-out request created)
        if code:
            self.code = code
        self.status_code = status_code or HTTP_STATUS.get(self.code, 500)


class PermanentError(CoachingError):
    """A transcription run cannot succeed by retrying (bad audio, unsupported language, missing file)."""

    code = ErrorCode.TRANSCRIPTION_FAILED


class TransientError(CoachingError):
    """A transcription run may succeed later (database or broker blip, cloud API unavailable)."""

    code = ErrorCode.TRANSIENT_ERROR
    attempt: int | None = None  # the session's attempt number, once a run had claimed it
    resume_token: str | None = None  # the claimed run's lease token, when it could not release it


class NotFound(CoachingError):
    code = ErrorCode.SESSION_NOT_FOUND


class InvalidState(CoachingError):
    """The session is not in a state that allows the request."""

    code = ErrorCode.INVALID_SESSION_STATUS


class TooManyRequests(CoachingError):
    """A per-user concurrency cap (api/limits.py); always with Retry-After."""

    code = ErrorCode.TOO_MANY_REQUESTS


class Unauthorized(CoachingError):
    code = ErrorCode.UNAUTHORIZED


class EditConflict(CoachingError):
    """The edit cannot be applied as it stands (too many concurrent writers, a full history)."""

    code = ErrorCode.EDIT_CONFLICT


class StaleVersion(CoachingError):
    """The client said which version it edited, and the segment has changed since."""

    code = ErrorCode.PRECONDITION_FAILED


class RangeNotSatisfiable(CoachingError):
    """A Range header that names no bytes of the file, or cannot be read; the answer says the
    file's size (`Content-Range: bytes */size`) so the client can ask again."""

    code = ErrorCode.RANGE_NOT_SATISFIABLE

    def __init__(self, message: str, *, size: int):
        super().__init__(message)
        self.size = size


class InvalidTranscript(CoachingError):
    """An imported file cannot be taken; the message names the line, the cue or the limit."""

    code = ErrorCode.INVALID_TRANSCRIPT
