"""One typed settings object, read from the environment and ``.env``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
MODEL_PATH_PREFIX = "WHISPER_MODEL_PATH_"


def model_paths_from_environment(env_file: str | Path = ".env") -> dict[str, str]:
    """{"large-v3": "/srv/large-v3"} from WHISPER_MODEL_PATH_LARGE_V3=/srv/large-v3, in `.env` or the
    environment (which wins): the name is the rest of the variable, lower case, `_` as `-`."""
    from dotenv import dotenv_values

    found: dict[str, str] = {}
    from_file: dict[str, str | None] = dict(dotenv_values(env_file)) if Path(env_file).is_file() else {}
    for source in (from_file, dict(os.environ)):
        for key, value in source.items():
            if key.upper().startswith(MODEL_PATH_PREFIX) and len(key) > len(MODEL_PATH_PREFIX) and value:
                found[key[len(MODEL_PATH_PREFIX):].lower().replace("_", "-")] = value.strip()
    return found


def default_data_dir() -> Path:
    """The data directory when DATA_DIR is unset: one per user, whatever the current directory.

    A path relative to the current directory gave `make run` (in the checkout) and a CLI command
    run elsewhere two different SQLite databases. XDG's base directories: $XDG_DATA_HOME when it
    is absolute, else ~/.local/share.
    """
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "coaching-transcript"


def redacted(url: str) -> str:
    """`url` with its user and password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = Field("development", description="development, test or production")
    data_dir: Path = Field(default_factory=default_data_dir)

    # Database: SQLite under data_dir when unset; PostgreSQL through psycopg 3 in production.
    database_url: str | None = None

    # Where the CLI and the scripts send their requests, and with which key (a flag wins; unset:
    # the running `make run` of this data_dir, run.json, else http://127.0.0.1:8000 / a local CLI user).
    coaching_server: str | None = None
    coaching_api_key: str | None = None

    # Broker and result backend. CELERY_* fall back to REDIS_URL, which falls back to localhost.
    # (`coaching-assistant run` starts an embedded Redis and sets REDIS_URL for its children.)
    redis_url: str | None = None
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    celery_queue: str = "celery"

    # Uploads
    storage_dir: Path | None = None
    max_upload_bytes: int = 500 * 1024 * 1024
    max_audio_seconds: float = Field(
        4 * 3600, description="longest audio accepted, checked after probing and while decoding"
    )
    gcs_timeout_seconds: float = Field(300, description="timeout of one GCS download or delete")
    audio_retention_days: float = Field(
        0, description="delete audio this many days after transcription (transcript kept); 0 = keep"
    )

    # Speech-to-text
    stt_provider: str = Field("whisper", description="whisper, google or fake")
    whisper_model: str = Field(
        "auto", description="the model a session gets when it names none: auto (tiny.en for English, base for "
                            "other languages), tiny.en, base, or a WHISPER_MODEL_PATH_<NAME> name")
    whisper_model_path: str | None = Field(
        None, description="CTranslate2 Whisper model directory for tiny.en, the English default; default: "
                          "the bundled tiny.en"
    )
    whisper_model_paths: dict[str, str] = Field(
        default_factory=model_paths_from_environment,
        description="operator models by name, from WHISPER_MODEL_PATH_<NAME> variables")
    whisper_max_loaded_models: int = Field(
        2, ge=1, description="models one worker process keeps loaded; the least recently used goes first")
    model_cache_dir: Path | None = Field(
        None, description="where models assembled from several packages are kept (default DATA_DIR/models); "
                          "shared by the host's workers, outside the virtualenv so a reinstall keeps them")
    whisper_device: str = "cpu"
    whisper_compute_type: str = "int8"
    whisper_cpu_threads: int = 2
    whisper_beam_size: int = 5
    whisper_vad_filter: bool = True
    whisper_num_workers: int = Field(
        2, description="transcriptions one worker process runs in parallel (match CELERY_CONCURRENCY)"
    )
    fake_stt_seconds_per_chunk: float = Field(
        0.0, description="fake provider only: sleep this long per 5 s of audio (tests)"
    )
    fake_stt_detected_language: str = Field(
        "en", description="fake provider only: the language it detects in any audio (tests)")
    fake_stt_transient_failures: int = Field(
        0, description="fake provider only: the first N transcriptions in a process fail transiently"
    )

    # Google Cloud (optional extra `google`)
    google_application_credentials_json: str | None = Field(
        None, description="base64-encoded service account JSON"
    )
    google_project_id: str | None = None
    google_stt_location: str = "global"
    google_stt_model: str = "long"
    gcs_bucket: str | None = None

    # Task behaviour
    diarization_enabled: bool = Field(True, description="separate speakers after speech-to-text")
    worker_blas_threads: int = Field(
        1, ge=1, description="threads numpy's BLAS may use in a worker process (speaker diarization)")
    diarization_weights_path: str | None = Field(
        None, description="speaker-encoder weights (default: pretrained.pt of the installed resemblyzer wheel)")
    task_max_attempts: int = 3
    task_retry_backoff_seconds: float = 5.0
    task_soft_time_limit_seconds: float = 3 * 3600
    task_hard_time_limit_seconds: float = 3 * 3600 + 300
    progress_min_interval_seconds: float = 0.25
    session_lease_seconds: float = Field(
        60, description="a processing session whose heartbeat stops for this long may be taken over"
    )
    sweeper_interval_seconds: float = Field(
        10, description="how often each worker looks for lost sessions (0 = never)"
    )
    sweeper_pending_grace_seconds: float = Field(
        60, description="a pending session with no message in the broker for this long is re-queued"
    )

    # API protection: every limit answers 4xx with a code, never a hang or a 500 (README, "Limits").
    api_threads: int = Field(
        24, ge=2, description="threads one API process runs request handlers on; the database pool is sized from it")
    database_pool_timeout_seconds: float = Field(
        10, description="longest wait for a database connection before answering 503 database_busy")
    max_json_body_bytes: int = Field(1024 * 1024, description="largest JSON request body (413 body_too_large)")
    body_idle_timeout_seconds: float = Field(
        30, description="a request body that sends nothing for this long is cut off (408 body_timeout)")
    body_min_bytes_per_second: float = Field(
        1000, description="after BODY_IDLE_TIMEOUT_SECONDS, a body arriving slower on average is cut off (408)")
    health_detail_public: bool = Field(
        False, description="show database/broker/worker detail in /api/health without an API key")
    health_cache_seconds: float = Field(2, description="how long one health check's result is reused")
    user_max_concurrent_requests: int = Field(
        12, ge=1, description="requests one user may have in progress at once, long-polls and uploads "
                              "included (429 beyond)")
    user_max_long_polls: int = Field(4, ge=1, description=(
        "long waits one user may hold open at once: status long-polls and OpenAI transcription requests"))
    user_max_concurrent_uploads: int = Field(2, ge=1, description="uploads one user may stream at once")
    user_max_event_streams: int = Field(
        4, ge=1, description="session event streams (GET …/events) one user may hold open at once; each also "
                             "holds one of USER_MAX_CONCURRENT_REQUESTS")
    event_stream_max_seconds: float = Field(
        300, gt=0, description="an event stream is closed after this long and the client reconnects "
                               "(Last-Event-ID), its key or cookie checked again")
    openai_request_timeout_seconds: float = Field(
        300, gt=0, description="POST /v1/audio/transcriptions waits this long for the transcript, then answers "
                               "504 transcription_timeout with the session's id (the work goes on)")
    max_sessions_per_hour: int = Field(120, ge=0, description="sessions one user may create per hour (0 = no limit)")
    max_retries_per_session: int = Field(10, ge=0, description="retry-transcription calls per session (0 = no limit)")
    max_stored_bytes_per_user: int = Field(
        20 * 1024**3, ge=0, description="audio bytes one user may keep stored (0 = no limit)")

    # Web sign-in (README, "Sign in")
    web_session_idle_minutes: float = Field(
        720, gt=0, description="a signed-in browser idle for this long must sign in again")
    web_session_max_days: float = Field(30, gt=0, description="a sign-in lasts at most this long, however active")
    sign_in_failures_per_email: int = Field(
        5, ge=1, description="failed sign-ins to one account per SIGN_IN_FAILURE_WINDOW_MINUTES (429 beyond)")
    sign_in_failures_per_address: int = Field(
        20, ge=1, description="failed sign-ins from one client address per window (429 beyond)")
    sign_in_failure_window_minutes: float = Field(15, gt=0, description="the window the failures are counted in")
    trust_proxy_headers: bool = Field(
        False, description="take https and the client address from X-Forwarded-Proto and X-Forwarded-For "
                           "(only behind a reverse proxy that sets them)")

    # Webhooks (README, "Webhooks")
    webhook_queue: str = Field(
        "webhooks", description="the Celery queue of webhook deliveries; workers consume it beside CELERY_QUEUE")
    webhook_allowed_hosts: str = Field(
        "", description="comma-separated host names (or addresses) a webhook may point at even though they "
                        "resolve to a loopback, private or otherwise internal address")
    webhook_max_per_user: int = Field(10, ge=1, description="webhooks one user may have (409 too_many_webhooks)")
    webhook_timeout_seconds: float = Field(
        10, gt=0, description="longest one delivery attempt may take, name resolution and response included")
    webhook_retry_base_seconds: float = Field(
        30, gt=0, description="the first retry's delay; each later one doubles it (with jitter)")
    webhook_retry_max_delay_seconds: float = Field(3600, gt=0, description="the longest delay between two attempts")
    webhook_retry_window_hours: float = Field(
        24, gt=0, description="how long after its event a delivery is retried before it ends failed")
    webhook_log_retention_days: float = Field(
        30, ge=0, description="delivered and failed deliveries stay in the delivery log this long, then the "
                              "sweeper deletes them (0 = keep them)")
    public_url: str | None = Field(
        None, description="the address clients reach the API at, e.g. https://transcripts.example.com; "
                          "webhook payloads link to transcripts under it (unset: a path)")

    # Transcript edits
    max_edit_history: int = Field(
        50, ge=1, description="earlier texts one segment keeps; an edit beyond is refused (409 edit_history_full)")

    @field_validator("database_url", "coaching_server", "coaching_api_key", "redis_url", "celery_broker_url",
                     "celery_result_backend",
                     "whisper_model_path", "google_application_credentials_json",
                     "google_project_id", "gcs_bucket", "public_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.stt_provider not in {"whisper", "google", "fake"}:
            raise ValueError("STT_PROVIDER must be one of whisper, google, fake")
        self.whisper_model = self.whisper_model.strip().lower()
        known = {"auto", "tiny.en", "base", *self.whisper_model_paths}
        if self.whisper_model not in known:
            raise ValueError(f"WHISPER_MODEL must be one of {', '.join(sorted(known))}")
        if self.task_hard_time_limit_seconds <= self.task_soft_time_limit_seconds:
            raise ValueError("TASK_HARD_TIME_LIMIT_SECONDS must exceed the soft limit")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        url = self.database_url or f"sqlite:///{(self.data_dir / 'coaching_assistant.db').resolve()}"
        # DATABASE_URL is written postgresql://… (as in .env.example); we talk through psycopg 3.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url or DEFAULT_REDIS_URL

    @property
    def result_backend(self) -> str:
        return self.celery_result_backend or self.redis_url or DEFAULT_REDIS_URL

    @property
    def webhook_allowed_host_names(self) -> frozenset[str]:
        return frozenset(h.strip().lower().strip("[]").rstrip(".")
                         for h in self.webhook_allowed_hosts.split(",") if h.strip())

    @property
    def models_dir(self) -> Path:
        return (self.model_cache_dir or self.data_dir / "models").resolve()

    @property
    def audio_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "audio").resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()
