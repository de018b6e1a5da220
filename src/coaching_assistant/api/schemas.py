"""Request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from coaching_assistant.services.sessions import MAX_PROMPT_CHARACTERS


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=255)
    language: str = Field("en-US", max_length=32, description=(
        "BCP-47 tag, e.g. en-US, zh-TW, cmn-Hant-TW, or auto (detected from the audio); another language: "
        "422 unsupported_language listing the ones accepted"))
    num_speakers: Annotated[StrictInt, Field(ge=1, le=8)] | Literal["auto"] = Field(
        2, description="speakers to separate (1–8), or \"auto\" to estimate")
    model: str | None = Field(None, max_length=64, description=(
        "Whisper model: auto (tiny.en for English, base for other languages), tiny.en, base, or a name the "
        "operator configured (WHISPER_MODEL_PATH_<NAME>); default WHISPER_MODEL. Unknown: 422 unknown_model"))
    translate: StrictBool = Field(False, description=(
        "add an English translation of every segment (Whisper's translate task, after transcription); "
        "nothing to do for English sessions"))
    prompt: str | None = Field(None, max_length=MAX_PROMPT_CHARACTERS, description=(
        "text in the style and vocabulary of the recording (names, coaching terms), given to Whisper as its "
        "initial prompt"))
    temperature: float | None = Field(None, ge=0, le=1, description=(
        "where Whisper's sampling starts, 0–1; 0 or null: greedy decoding, raised only where the text fails "
        "its checks"))

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("title must not be blank")
        if any(ord(ch) < 32 and ch not in "\t" for ch in value):
            raise ValueError("title must not contain control characters")
        return value


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    status: str
    language: str
    audio_filename: str | None
    duration_seconds: float | None
    segments_count: int
    num_speakers: int | Literal["auto"]
    model: str | None = Field(description=(
        "the session's Whisper model: the one asked for, else the server's WHISPER_MODEL when the session was "
        "created (auto, tiny.en, base or an operator's name); null only for sessions created before models "
        "could be chosen, which get the WHISPER_MODEL of the worker that transcribes them"))
    detected_language: str | None = Field(description="for language auto: the language Whisper heard (e.g. zh)")
    language_probability: float | None = Field(description="how sure the detection was, 0–1")
    translate: bool = Field(description="an English translation is added to every segment")
    prompt: str | None = Field(None, description="Whisper's initial prompt, as asked for")
    temperature: float | None = Field(None, description="where Whisper's sampling starts, as asked for")
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


    @field_validator("num_speakers", mode="before")
    @classmethod
    def _auto(cls, value: object) -> object:
        return "auto" if value is None else value


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
    task_state: str | None = Field(description=(
        "Celery state of the session's task, never contradicting `status`: PENDING or RETRY while pending; "
        "STARTED, PROGRESS or RETRY while processing; SUCCESS, FAILURE or REVOKED once completed, failed or "
        "cancelled; null without a task (uploading, imported) or when the result backend cannot say"))
    error_code: str | None
    detected_language: str | None = Field(description="for language auto, once detected")
    language_probability: float | None


class WordOut(BaseModel):
    word: str
    start: float
    end: float
    probability: float | None


class SegmentOut(BaseModel):
    id: uuid.UUID
    speaker_id: int
    role: Literal["coach", "client", "unknown"] = Field(description="effective role, after overrides")
    role_override: str | None = Field(description="a role set for this segment alone")
    label: str = Field(description="the speaker's label, or the role's when the segment's role is not its speaker's")
    start_seconds: float
    end_seconds: float
    content: str
    confidence: float | None
    words: list[WordOut]
    translation: str | None = Field(description="English translation (sessions with translate), else null")
    history: list[dict[str, Any]] = Field(description="earlier versions of the text, oldest first")
    version: int = Field(description="+1 per text edit; send it back in `versions` to refuse a stale edit")


class SpeakerRoleOut(BaseModel):
    role: Literal["coach", "client", "unknown"]
    confidence: float | None
    source: str = Field(description="auto (from evidence), voice (the coach's voice profile), user, or import")
    label: str = Field(description="user_label if set, else Coach/Client (教練/客戶), an imported name or Speaker N")
    user_label: str | None = Field(None, description="the name the user gave this speaker (PATCH speaker-labels)")


class TranscriptOut(BaseModel):
    session_id: uuid.UUID
    title: str
    language: str
    detected_language: str | None
    language_probability: float | None
    duration_seconds: float | None
    speaker_roles: dict[str, SpeakerRoleOut]
    segments: list[SegmentOut]
    statistics: dict[str, Any]


class SpeakerRolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker_roles: dict[str, str] = Field(description='{"1": "coach", "2": "client"}; case-insensitive')


class SpeakerLabelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker_labels: dict[str, str | None] = Field(
        description='{"1": "Anna", "2": null}: one line, at most 40 characters; null or "" removes the label')


class SegmentRolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segment_roles: dict[str, str | None] = Field(description='{"<segment id>": "client"}; null removes it')


class SegmentContentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segment_content: dict[str, str] = Field(description='{"<segment id>": "new text"}')
    versions: dict[str, StrictInt] | None = Field(
        None, description='{"<segment id>": <the version you edited>}: 412 precondition_failed, and nothing '
                          "changed, if any of them was edited since")


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=4096)  # longer than any accepted password; refused as wrong


class SignedInOut(BaseModel):
    email: str
    csrf_token: str = Field(description="send it as X-CSRF-Token with every write made with the cookie")


class UploadLimitsOut(BaseModel):
    max_bytes: int = Field(description="the largest audio file accepted (MAX_UPLOAD_BYTES)")
    max_seconds: float = Field(description="the longest recording accepted (MAX_AUDIO_SECONDS)")
    formats: list[str] = Field(description="the file extensions accepted")


class MeOut(BaseModel):
    email: str
    has_password: bool
    has_api_key: bool
    api_key_prefix: str | None
    csrf_token: str | None = Field(description="for writes with the session cookie; null with an API key")
    upload_limits: UploadLimitsOut = Field(description="what an upload may be, so a client can refuse a file "
                                                       "before sending it")


class ApiKeyOut(BaseModel):
    api_key: str = Field(description="shown this once; only its hash is stored")
    prefix: str = Field(description="the key's first characters, as GET /api/v1/me shows them later")


class VoiceProfileOut(BaseModel):
    sessions: int = Field(description="sessions whose confirmed coach voice the profile holds (0: no profile)")
    seconds: float = Field(description="seconds of the coach's speech in those sessions")
    updated_at: datetime | None = Field(description="when the last session was added")
    learning: bool = Field(description="confirming roles adds the coach's voice (PATCH to turn it off)")


class VoiceProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    learning: bool = Field(description="false: confirming roles no longer adds to the profile")


WebhookEvent = Literal["session.completed", "session.failed", "session.cancelled"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description=(
        "http:// or https:// URL that receives a signed POST per event; its host must resolve to public "
        "addresses (422 webhook_url_not_allowed), unless the operator allows it (WEBHOOK_ALLOWED_HOSTS)"))
    events: list[WebhookEvent] = Field(min_length=1, max_length=3, description="the events to receive")


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description=(
        "the signing secret (whsec_…), shown this once: verify each delivery's webhook-signature with it"))


class WebhookDeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="the webhook-id header, the same on every attempt")
    event: str
    session_id: uuid.UUID | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None = Field(description="the receiver's last HTTP status; null if none answered")
    last_error: str | None = Field(description="why the last attempt failed")
    next_attempt_at: datetime | None = Field(description="when it is tried next (pending only)")
    created_at: datetime = Field(description="when the event happened")
    delivered_at: datetime | None


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliveryOut]
    total: int
    page: int
    page_size: int


class IcfRuleOut(BaseModel):
    rule: Literal["length", "two_speakers", "roles_labelled", "timestamps", "first_names_only"]
    passed: bool
    reason: str | None = Field(description="why it failed, and what to do")
    segment_ids: list[uuid.UUID] = Field(description="the segments at fault")
    severity: Literal["required", "warning"] = Field(description="a warning never fails the check")
    names: list[str] = Field(description="first_names_only: the likely surnames found")
    problem: str | None = Field(description=(
        "what failed, for a client that says it in its own language: too_short, too_long, one_voice, "
        "extra_voices, unlabelled, missing_role, bad_times, surnames"))
    details: dict[str, Any] = Field(description="the numbers in the reason: length, voices, count, role")


class IcfCheckOut(BaseModel):
    passed: bool = Field(description="every required rule passed")
    rules: list[IcfRuleOut]
