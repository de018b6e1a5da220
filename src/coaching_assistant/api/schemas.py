"""Request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from coaching_assistant.services.languages import normalize_language


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=255)
    language: str = Field("en-US", max_length=32, description="BCP-47 tag, e.g. en-US, zh-TW")

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("title must not be blank")
        if any(ord(ch) < 32 and ch not in "\t" for ch in value):
            raise ValueError("title must not contain control characters")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        normalized = normalize_language(value)
        if normalized is None:
            raise ValueError(f"unsupported language {value!r}; use a BCP-47 tag such as en-US")
        return normalized


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    status: str
    language: str
    audio_filename: str | None
    duration_seconds: float | None
    segments_count: int
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class SessionPage(BaseModel):
    items: list[SessionOut]
    total: int
    page: int
    page_size: int


class QueuedOut(BaseModel):
    session_id: uuid.UUID
    status: str
    task_id: str


class StatusOut(BaseModel):
    session_id: uuid.UUID
    status: str
    progress: int = Field(ge=0, le=100)
    message: str | None
    duration_processed: float | None
    duration_total: float | None
    started_at: datetime | None
    estimated_completion: datetime | None
    processing_speed: float | None = Field(description="audio seconds transcribed per wall second")
    task_state: str | None = Field(description="Celery state: PENDING, STARTED, PROGRESS, SUCCESS, "
                                               "FAILURE, RETRY")
    error_code: str | None


class WordOut(BaseModel):
    word: str
    start: float
    end: float
    probability: float | None


class SegmentOut(BaseModel):
    id: uuid.UUID
    speaker_id: int
    start_seconds: float
    end_seconds: float
    content: str
    confidence: float | None
    words: list[WordOut]


class TranscriptOut(BaseModel):
    session_id: uuid.UUID
    title: str
    language: str
    duration_seconds: float | None
    segments: list[SegmentOut]


class HealthOut(BaseModel):
    status: str
    database: dict[str, Any]
    broker: dict[str, Any]
    workers: dict[str, Any]
