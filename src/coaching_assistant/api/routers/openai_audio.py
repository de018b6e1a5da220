"""/v1: OpenAI's audio transcription API, so tools written for it use this server unchanged
(`OpenAI(base_url="http://host:8000/v1", api_key=<our API key>)`).

POST /v1/audio/transcriptions is an ordinary session underneath: created with the file's name as
its title, its audio stored and queued for the same workers, visible in the user's list. The
request waits for the transcript (woken by the worker's progress, api/session_watch.py) and
answers in the format asked for (services/openai_transcripts.py). After
OPENAI_REQUEST_TIMEOUT_SECONDS it answers 504 `transcription_timeout` with the session's id
instead, and the work goes on: GET /api/v1/sessions/{id}/transcript fetches it later. Every
answer after the session exists says `x-should-retry: false`, since OpenAI's client retries a 5xx
by itself, and a retry would transcribe the recording again. A client that goes away leaves the
session running.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from coaching_assistant.api.deps import AppSettings, CurrentUser, DbSession
from coaching_assistant.api.errors import error_response
from coaching_assistant.api.limits import long_polls, uploads
from coaching_assistant.api.session_watch import Snapshot, status_changes
from coaching_assistant.api.task_events import unless_disconnected
from coaching_assistant.api.upload import receive_checked
from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import new_session
from coaching_assistant.core.errors import HTTP_STATUS, CoachingError, ErrorCode, NotFound
from coaching_assistant.core.task_queue import enqueue_transcription
from coaching_assistant.models import SessionStatus, User
from coaching_assistant.services import openai_transcripts, sessions
from coaching_assistant.services.openai_transcripts import TranscriptionForm
from coaching_assistant.services.sessions import ReceivedFile

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

NO_RETRY = {"x-should-retry": "false"}

_FORM = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file", "model"],
            "properties": {
                "file": {"type": "string", "format": "binary", "description": "wav, mp3, m4a, ogg, flac or webm"},
                "model": {"type": "string", "description": "whisper-1 (WHISPER_MODEL) or a name GET /v1/models lists"},
                "language": {"type": "string", "description": "ISO-639-1 (en, zh) or a BCP-47 tag; omitted: detected"},
                "prompt": {"type": "string", "description": "Whisper's initial prompt (names, terms)"},
                "temperature": {"type": "number", "description": "0–1; 0: greedy with fallback"},
                "response_format": {"type": "string", "enum": list(openai_transcripts.RESPONSE_FORMATS)},
                "timestamp_granularities[]": {"type": "array", "items": {
                    "type": "string", "enum": list(openai_transcripts.GRANULARITIES)}},
            }}}},
    }
}


@router.get("/models")
def list_models(_user: CurrentUser, settings: AppSettings) -> dict[str, Any]:
    models = openai_transcripts.model_ids(settings)
    return {"object": "list", "data": [openai_transcripts.model_entry(model) for model in models]}


@router.get("/models/{model_id}")
def get_model(model_id: str, _user: CurrentUser, settings: AppSettings) -> dict[str, Any]:
    if model_id not in openai_transcripts.model_ids(settings):
        raise CoachingError(f"The model {model_id!r} does not exist; GET /v1/models lists them.",
                            ErrorCode.UNKNOWN_MODEL, status_code=404, param="model")
    return openai_transcripts.model_entry(model_id)


@router.post("/audio/transcriptions", openapi_extra=_FORM,
             responses={200: {"content": {"application/json": {}, "text/plain": {}, "text/vtt": {},
                                          "application/x-subrip": {}}},
                        504: {"description": "not ready within OPENAI_REQUEST_TIMEOUT_SECONDS "
                                             "(transcription_timeout, with session_id); the work goes on"}})
async def create_transcription(request: Request, db: DbSession, user: CurrentUser,
                               settings: AppSettings) -> Response:
    """Transcribe the uploaded file and answer with the transcript, as OpenAI's endpoint does."""
    with long_polls.slot(user.id):
        with uploads.slot(user.id):
            received = await receive_checked(
                request, db, settings, max_bytes=settings.max_upload_bytes,
                check=lambda: sessions.check_storage_quota(db, settings=settings, user=user))
        try:
            form = openai_transcripts.read_form(settings, received.fields)
            session_id = await run_in_threadpool(_create_and_queue, db, settings, user, form, received)
        finally:
            received.temp_path.unlink(missing_ok=True)  # stored (moved) on success; else never kept
        try:
            response = await _answer_when_done(request, user, session_id, form,
                                               settings.openai_request_timeout_seconds)
        except CoachingError as exc:
            response = error_response(exc, request.url.path)
        except Exception:  # a database down, a bug: still an answer the client must not retry
            logger.exception("OpenAI transcription request for session %s failed", session_id)
            response = error_response(CoachingError("An unexpected error occurred; it has been logged. The "
                                                    f"session {session_id} may still complete.",
                                                    ErrorCode.INTERNAL_ERROR, session_id=str(session_id)),
                                      request.url.path)
        response.headers.update({**NO_RETRY, "x-session-id": str(session_id)})
        return response


def _create_and_queue(db: Session, settings: Settings, user: User, form: TranscriptionForm,
                      received: ReceivedFile) -> uuid.UUID:
    """A session for the file, its audio stored and queued. The file is checked before the
    session is created (a refused file costs none of MAX_SESSIONS_PER_HOUR); if storing or
    queueing it fails after all, the session is deleted again."""
    try:
        sessions.check_file(db, settings=settings, user=user, received=received)
        session = sessions.create_session(db, settings=settings, user=user,
                                          title=sessions.display_name(received.filename), language=form.language,
                                          num_speakers=2, model=form.model, prompt=form.prompt,
                                          temperature=form.temperature)
        session_id = session.id  # read now: after the rollback below it would open a new transaction
        try:
            sessions.attach_audio(db, settings=settings, user=user, session_id=session_id, received=received,
                                  enqueue=enqueue_transcription)
        except BaseException:
            db.rollback()
            try:
                sessions.delete_session(db, settings=settings, user=user, session_id=session_id)
            except Exception:  # the refusal above is the answer; the session is left for the user to delete
                logger.exception("Could not delete session %s after its upload was refused", session_id)
            raise
    finally:
        db.rollback()  # the connection goes back to the pool before the long wait
    return session_id


async def _answer_when_done(request: Request, user: User, session_id: uuid.UUID, form: TranscriptionForm,
                            timeout: float) -> Response:
    last: Snapshot | None = None

    async def until_final() -> None:
        nonlocal last
        async with aclosing(status_changes(user=user, session_id=session_id, lifetime=timeout)) as changes:
            async for snapshot in changes:
                last = snapshot

    # A client that leaves ends the wait (its answer goes nowhere); the session goes on.
    await unless_disconnected(request, until_final())
    if last is None or not last.final:
        raise CoachingError(f"The transcript was not ready within {timeout:g} seconds "
                            "(OPENAI_REQUEST_TIMEOUT_SECONDS); the transcription goes on. Fetch it from "
                            f"GET /api/v1/sessions/{session_id}/transcript.", ErrorCode.TRANSCRIPTION_TIMEOUT,
                            session_id=str(session_id))
    status = last.status
    if status.status == SessionStatus.CANCELLED:
        raise CoachingError("The session was cancelled before its transcript was ready.",
                            ErrorCode.SESSION_CANCELLED, session_id=str(session_id))
    if status.status == SessionStatus.FAILED:
        try:
            code = ErrorCode(status.error_code or ErrorCode.TRANSCRIPTION_FAILED)
        except ValueError:
            code = ErrorCode.TRANSCRIPTION_FAILED
        # The audio's own faults answer as the upload would have (400); a worker's failure is 500.
        raise CoachingError(status.message or "The transcription failed.", code,
                            status_code=HTTP_STATUS.get(code, 500), session_id=str(session_id))
    body, media_type = await run_in_threadpool(_render, user, session_id, form)
    return Response(body, media_type=media_type, headers={**NO_RETRY, "x-session-id": str(session_id)})


def _render(user: User, session_id: uuid.UUID, form: TranscriptionForm) -> tuple[bytes, str]:
    with new_session() as db:
        try:
            session = sessions.get_session(db, user=user, session_id=session_id)
        except NotFound:
            raise CoachingError("The session was deleted before its transcript could be sent.",
                                ErrorCode.SESSION_NOT_FOUND, session_id=str(session_id)) from None
        return openai_transcripts.render(session, form)
