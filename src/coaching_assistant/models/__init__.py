"""SQLAlchemy 2 models. Table and column names are the original platform's (the README's "seed"),
so its SQL runs as written: `session`, `processing_status`."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime; use datetime.now(UTC)")
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class SessionStatus(enum.StrEnum):
    UPLOADING = "uploading"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # SHA-256 of the API key: keys are random 256-bit tokens, so a fast hash is enough and lets
    # us look a key up by its hash; the key itself is never stored.
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    api_key_prefix: Mapped[str | None] = mapped_column(String(16))
    # Argon2 hash of the web sign-in password (services/users.py); None: the user cannot sign in.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # MAX_SESSIONS_PER_HOUR: sessions created since the window began (deleting them gives none back).
    session_window_started_at: Mapped[datetime | None] = mapped_column()
    sessions_in_window: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Confirming a session's roles adds the coach's voice to the user's voice profile (off: it never does).
    voice_learning: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sessions: Mapped[list[CoachingSession]] = relationship(back_populates="user")


class WebSession(Base):
    """A signed-in browser (services/web_sessions.py). Its cookie holds a random token; only the
    token's SHA-256 is stored, so a copy of the table signs nobody in."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # the absolute cap, WEB_SESSION_MAX_DAYS

    user: Mapped[User] = relationship()


class CoachingSession(Base):
    __tablename__ = "session"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(32))
    # The Whisper model asked for (auto, tiny.en, base, an operator's name); None: WHISPER_MODEL.
    model: Mapped[str | None] = mapped_column(String(64))
    # For language "auto": what the worker heard (Whisper's code, e.g. zh) and how sure it was.
    detected_language: Mapped[str | None] = mapped_column(String(16))
    language_probability: Mapped[float | None] = mapped_column(Float)
    # Translate the transcript into English after transcribing it (not for English sessions).
    translate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Decoding hints for the engine (Whisper's initial prompt and sampling temperature); None: its defaults.
    prompt: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default=SessionStatus.UPLOADING, index=True)
    audio_filename: Mapped[str | None] = mapped_column(String(255))
    audio_uri: Mapped[str | None] = mapped_column(Text)
    audio_size_bytes: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    segments_count: Mapped[int] = mapped_column(Integer, default=0)
    # The Celery task id of the current transcription attempt.
    transcription_job_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Calls of retry-transcription so far; `attempts` restarts at 0 with each, this never does.
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The running attempt holds a lease, renewed by a heartbeat; `lease_owner` is a token unique to
    # that attempt, so even a redelivered copy of the same task cannot write over it.
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    # Set when the retention sweep removed the audio (AUDIO_RETENTION_DAYS); the transcript stays.
    audio_deleted_at: Mapped[datetime | None] = mapped_column()
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    # Speakers to separate: None estimates the number ("auto").
    num_speakers: Mapped[int | None] = mapped_column(Integer)  # set by create_session (default 2)
    # {"1": {"role": "coach", "confidence": 0.9, "source": "auto" | "user"}, …}
    speaker_roles: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # +1 per change of speaker_roles by a user: the compare-and-set that keeps concurrent role edits.
    speaker_roles_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(back_populates="sessions")
    processing_status: Mapped[ProcessingStatus | None] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )
    segments: Mapped[list[TranscriptSegment]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True,
        order_by="TranscriptSegment.position",
    )


class ProcessingStatus(Base):
    """Progress of the current transcription, written by the worker and read by GET …/status."""

    __tablename__ = "processing_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("session.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(20))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    duration_processed: Mapped[float | None] = mapped_column(Float)
    duration_total: Mapped[float | None] = mapped_column(Float)
    processing_speed: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    session: Mapped[CoachingSession] = relationship(back_populates="processing_status")


class TranscriptSegment(Base):
    __tablename__ = "transcript_segment"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    speaker_id: Mapped[int] = mapped_column(Integer, default=1)
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    content: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Whisper's English translation of this segment's audio (sessions with translate), else None.
    translation: Mapped[str | None] = mapped_column(Text)
    # A role set for this segment alone; it beats its speaker's role.
    role: Mapped[str | None] = mapped_column(String(16))
    # Earlier versions of `content`, oldest first: [{"content": …, "replaced_at": …}].
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # +1 per text edit. Edits write WHERE version = <the version read>, so two concurrent edits
    # cannot overwrite each other's text (SQLite ignores SELECT … FOR UPDATE).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    session: Mapped[CoachingSession] = relationship(back_populates="segments")


class SpeakerVoice(Base):
    """A transcribed speaker's voice (diarization.Voice): kept with the transcript, so a voice
    profile can be built from a past session without its audio."""

    __tablename__ = "speaker_voice"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), primary_key=True)
    speaker_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian (services/voice_profiles.py)
    seconds: Mapped[float] = mapped_column(Float)


class VoiceSample(Base):
    """The coach's voice in one session whose roles the user confirmed: one part of the user's
    voice profile (services/voice_profiles.py). It goes with the session or the user."""

    __tablename__ = "voice_sample"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    """A user's endpoint for signed event deliveries (Standard Webhooks)."""

    __tablename__ = "webhook"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    # The event types it receives, e.g. ["session.completed", "session.failed"].
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The signing secret, `whsec_<base64>`; shown once, when the webhook is created.
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook: sent until the endpoint answers 2xx or the retry window ends.
    Its id is the `webhook-id` header, the same on every attempt, so a receiver can drop repeats."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("webhook_id", "event_key"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    # What makes the event unique for its webhook (event, session, run), so it is recorded once.
    event_key: Mapped[str] = mapped_column(String(160))
    # No foreign key: the delivery outlives a deleted session.
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
