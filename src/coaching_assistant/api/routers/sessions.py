"""/api/v1/sessions: thin HTTP adapters over services.sessions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from coaching_assistant.api.deps import AppSettings, CurrentUser, DbSession
from coaching_assistant.api.lanes import ThreadLane
from coaching_assistant.api.limits import PerUserLimit, long_polls, uploads
from coaching_assistant.api.schemas import (
    IcfCheckOut,
    QueuedOut,
    SegmentContentIn,
    SegmentRolesIn,
    SessionCreate,
    SessionOut,
    SessionPage,
    SpeakerLabelsIn,
    SpeakerRolesIn,
    StatusOut,
    TranscriptOut,
)
from coaching_assistant.api.session_events import opened_stream, status_events
from coaching_assistant.api.task_events import unless_disconnected, wait_for_change
from coaching_assistant.api.upload import receive_checked
from coaching_assistant.core.errors import ErrorCode
from coaching_assistant.core.task_queue import enqueue_transcription, forget, session_task_state
from coaching_assistant.models import SessionStatus
from coaching_assistant.services import (
    audio_download,
    icf_check,
    sessions,
    transcript_edits,
    transcript_export,
    transcript_import,
    transcripts,
    voice_profiles,
)

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"])

# Reading, rendering, importing or editing a whole transcript can take a second of CPU for a long
# one: these run on two threads per process (api/lanes.py), at most two at a time per user.
transcript_work = ThreadLane(2)
transcript_jobs = PerUserLimit(2, what="transcript reads, exports or edits", code=ErrorCode.TOO_MANY_REQUESTS)


T = TypeVar("T")
# The export formats are the registry's (services/transcript_export.py); the type checker sees a str.
if TYPE_CHECKING:
    TranscriptFormat = str
else:
    TranscriptFormat = Literal[transcript_export.TRANSCRIPT_FORMATS]


async def _transcript_job(user: Any, work: Callable[[], T]) -> T:
    with transcript_jobs.slot(user.id):
        return await transcript_work.run(work)

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": "wav, mp3, m4a, ogg, flac or webm"}}}}},
    }
}


@router.post("", status_code=201, response_model=SessionOut)
def create_session(body: SessionCreate, db: DbSession, user: CurrentUser, settings: AppSettings) -> SessionOut:
    session = sessions.create_session(db, settings=settings, user=user, title=body.title, language=body.language,
                                      num_speakers=None if body.num_speakers == "auto" else body.num_speakers,
                                      model=body.model, translate=body.translate, prompt=body.prompt,
                                      temperature=body.temperature)
    return SessionOut.model_validate(session)


@router.get("", response_model=SessionPage)
def list_sessions(db: DbSession, user: CurrentUser,
                  status: Annotated[SessionStatus | None, Query()] = None,
                  q: Annotated[str | None, Query(max_length=255, description=(
                      "only sessions whose title contains this, ignoring case (% and _ are literal)"))] = None,
                  page: Annotated[int, Query(ge=1)] = 1,
                  page_size: Annotated[int, Query(ge=1, le=100)] = 20) -> SessionPage:
    rows, total = sessions.list_sessions(db, user=user, status=status, page=page, page_size=page_size,
                                         title_contains=q)
    return SessionPage(items=[SessionOut.model_validate(r) for r in rows], total=total, page=page,
                       page_size=page_size)


@router.get("/{session_id}", response_model=SessionOut)
def get_session(session_id: uuid.UUID, db: DbSession, user: CurrentUser) -> SessionOut:
    return SessionOut.model_validate(sessions.get_session(db, user=user, session_id=session_id))


@router.delete("/{session_id}", status_code=204)
def delete_session(session_id: uuid.UUID, db: DbSession, user: CurrentUser,
                   settings: AppSettings) -> Response:
    forget(sessions.delete_session(db, settings=settings, user=user, session_id=session_id))
    return Response(status_code=204)


@router.post("/{session_id}/audio", status_code=202, response_model=QueuedOut,
             openapi_extra=_UPLOAD_BODY)
async def upload_audio(session_id: uuid.UUID, request: Request, db: DbSession, user: CurrentUser,
                       settings: AppSettings) -> QueuedOut:
    def check() -> None:  # the session is waiting for audio and its owner is within the quota
        sessions.check_can_upload(sessions.get_session(db, user=user, session_id=session_id))
        sessions.check_storage_quota(db, settings=settings, user=user)

    with uploads.slot(user.id):
        received = await receive_checked(request, db, settings, check=check, max_bytes=settings.max_upload_bytes)
        try:
            session = await run_in_threadpool(sessions.attach_audio, db, settings=settings, user=user,
                                              session_id=session_id, received=received,
                                              enqueue=enqueue_transcription)
        finally:
            received.temp_path.unlink(missing_ok=True)  # stored (moved) on success; else never kept
    return QueuedOut(session_id=session.id, status=session.status,
                     task_id=session.transcription_job_id or "")


@router.get("/{session_id}/audio", response_class=StreamingResponse,
            responses={200: {"content": {media_type: {} for media_type in audio_download.MEDIA_TYPES.values()},
                             "description": "the whole file; 206 with one `Range` (Content-Range)"},
                       404: {"description": "no such session (session_not_found), or no stored audio: not "
                                            "uploaded yet, imported, or deleted by retention (audio_not_found)"},
                       416: {"description": "a Range that cannot be read or starts past the end "
                                            "(range_not_satisfiable, Content-Range: bytes */size)"},
                       501: {"description": "the audio is in a gs:// bucket (audio_in_bucket)"}})
async def download_audio(session_id: uuid.UUID, request: Request, db: DbSession, user: CurrentUser,
                         settings: AppSettings) -> Response:
    """The session's stored audio, for a player that seeks: `Accept-Ranges: bytes`, and one
    `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` answers 206 with just those bytes. A Range with
    several ranges gets the whole file (200)."""
    def read() -> audio_download.AudioBytes:
        try:
            session = sessions.get_session(db, user=user, session_id=session_id)
            return audio_download.read_audio(settings, session, range_header=request.headers.get("range"))
        finally:
            db.rollback()  # the connection goes back before the file is streamed

    served = await run_in_threadpool(read)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(served.length)}
    if served.partial:
        headers["Content-Range"] = f"bytes {served.first}-{served.last}/{served.size}"
    return StreamingResponse(served.chunks, status_code=206 if served.partial else 200,
                             media_type=served.media_type, headers=headers)


@router.post("/{session_id}/retry-transcription", status_code=202, response_model=QueuedOut)
def retry_transcription(session_id: uuid.UUID, db: DbSession, user: CurrentUser,
                        settings: AppSettings) -> QueuedOut:
    session = sessions.retry(db, settings=settings, user=user, session_id=session_id,
                             enqueue=enqueue_transcription)
    return QueuedOut(session_id=session.id, status=session.status,
                     task_id=session.transcription_job_id or "")


@router.post("/{session_id}/cancel", response_model=SessionOut)
def cancel_transcription(session_id: uuid.UUID, db: DbSession, user: CurrentUser) -> SessionOut:
    """Cancel a pending or processing transcription; the worker stops at its next progress step."""
    return SessionOut.model_validate(sessions.cancel(db, user=user, session_id=session_id))


@router.get("/{session_id}/status", response_model=StatusOut)
async def session_status(
    session_id: uuid.UUID, request: Request, db: DbSession, user: CurrentUser,
    wait: Annotated[float, Query(ge=0, le=60, description=(
        "Long-poll: wait up to this many seconds for progress beyond `after` or a final status"))] = 0,
    after: Annotated[int, Query(ge=0, le=100, description="the progress the client has already seen")] = 0,
) -> StatusOut:
    def read() -> tuple[dict[str, Any], str | None]:
        """The status as plain data, in one thread call that gives its connection back."""
        try:
            session = sessions.get_session(db, user=user, session_id=session_id, with_progress=True)
            return sessions.status_of(session), session.transcription_job_id
        finally:
            db.rollback()

    found, job_id = await run_in_threadpool(read)
    if wait and job_id and found["status"] in (SessionStatus.PENDING, SessionStatus.PROCESSING):
        async def changed() -> bool:
            status, progress = await run_in_threadpool(sessions.progress_of, session_id)
            return status not in (SessionStatus.PENDING, SessionStatus.PROCESSING) or progress > after

        with long_polls.slot(user.id):
            await unless_disconnected(request, wait_for_change(job_id, timeout=wait, changed=changed))
        found, job_id = await run_in_threadpool(read)
    found["task_state"] = await run_in_threadpool(session_task_state, found["status"], job_id)
    return StatusOut(**found)


@router.get("/{session_id}/events", response_class=EventSourceResponse,
            responses={200: {"description": "`event: status` with a StatusOut as `data` and an `id` for "
                                            "Last-Event-ID, each time the status changes; ends after "
                                            "completed, failed or cancelled"},
                       204: {"description": "the Last-Event-ID is the session's final state: nothing left"},
                       404: {"description": "no such session (session_not_found)"},
                       429: {"description": "USER_MAX_EVENT_STREAMS already open (too_many_event_streams)"}})
async def session_events(
    session_id: uuid.UUID, user: CurrentUser, settings: AppSettings,
    last_event_id: Annotated[str | None, Depends(opened_stream)],
) -> AsyncIterator[ServerSentEvent]:
    """The session's status as server-sent events: what GET …/status answers, sent as it changes,
    until the session is completed, failed or cancelled. Reconnecting with `Last-Event-ID`
    continues without repeats; the server closes a stream after EVENT_STREAM_MAX_SECONDS."""
    async for event in status_events(user=user, session_id=session_id, last_event_id=last_event_id,
                                     lifetime=settings.event_stream_max_seconds):
        yield event


@router.get("/{session_id}/transcript", response_model=TranscriptOut,
            responses={200: {"content": {"application/json": {}, **{export.media_type: {} for export
                                                                     in transcript_export.EXPORTS.values()}}},
                       404: {"description": "no such session, or a transcript without segments"},
                       409: {"description": "the session is not completed (transcript_not_ready)"}})
async def transcript(session_id: uuid.UUID, db: DbSession, user: CurrentUser,
                     format: Annotated[TranscriptFormat, Query()] = "json") -> Response:
    """The transcript as JSON (segments with speaker, role, words, edit history; speaker roles;
    statistics) or as a VTT, SRT, TXT, XLSX or DOCX download named after the session's title. The
    DOCX is laid out as ICF's credential transcripts ask: a timestamp and a label at every change of
    speaker, coach and client in separate paragraphs."""
    def build() -> Response:
        session = sessions.get_session(db, user=user, session_id=session_id)
        if format == "json":
            return _transcript_response(session, headers=_download_named(session.title, "json"))
        export = transcript_export.EXPORTS[format]
        return Response(export.write(transcripts.rows(session), transcripts.header(session)),
                        media_type=export.media_type,
                        headers=_download_named(session.title, export.extension))

    return await _transcript_job(user, build)


@router.post("/{session_id}/transcript", status_code=201, response_model=TranscriptOut,
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"],
                 "properties": {"file": {"type": "string", "format": "binary",
                                         "description": "a WebVTT or SRT transcript"}}}}}}})
async def import_transcript(session_id: uuid.UUID, request: Request, db: DbSession, user: CurrentUser,
                            settings: AppSettings) -> Response:
    """Make a session that has no audio yet a completed one from an existing VTT or SRT file.
    Speaker names Coach/Client/教練/客戶 (voice tags or `Name:` prefixes) become roles."""
    def check() -> None:
        transcript_import.check_can_import(sessions.get_session(db, user=user, session_id=session_id))

    with uploads.slot(user.id):  # a streamed body, like an audio upload
        received = await receive_checked(request, db, settings, check=check,
                                         max_bytes=transcript_import.MAX_IMPORT_BYTES)

    # Reading and parsing the file are blocking work: never on the event loop (which also answers
    # /api/health), and in the transcript lane, so a large import competes with few other jobs.
    def finish() -> Response:
        imported = transcript_import.import_transcript(db, session_id, received.temp_path.read_bytes(),
                                                       received.filename)
        return _transcript_response(imported, status_code=201)

    try:
        return await _transcript_job(user, finish)
    finally:
        received.temp_path.unlink(missing_ok=True)


@router.get("/{session_id}/icf-check", response_model=IcfCheckOut)
async def check_for_icf(session_id: uuid.UUID, db: DbSession, user: CurrentUser) -> dict[str, Any]:
    """The transcript against ICF's rules for credential evaluations: length 20–60 minutes, two
    speakers, every segment coach or client, a time at every change of speaker (each rule with
    `passed`, a `reason` and the `segment_ids` at fault); likely surnames as a warning."""
    return await _transcript_job(
        user, lambda: icf_check.check(sessions.get_session(db, user=user, session_id=session_id)))


@router.get("/{session_id}/stats")
async def stats(session_id: uuid.UUID, db: DbSession, user: CurrentUser) -> dict[str, Any]:
    """Talk time and share, turns and questions per role, longest monologue, average client
    turn, total silence."""
    return await _transcript_job(
        user, lambda: transcripts.statistics(sessions.get_session(db, user=user, session_id=session_id)))


def _transcript_response(session: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(TranscriptOut(**transcripts.transcript_json(session)).model_dump_json(), status_code=status_code,
                    media_type="application/json", headers=headers)


def _download_named(title: str, extension: str) -> dict[str, str]:
    return {"Content-Disposition": transcript_export.content_disposition(title, extension)}


async def _edit(db: DbSession, user: Any, session_id: uuid.UUID, apply: Callable[[Any], None]) -> Response:
    """Apply one edit to the user's session in the transcript lane and answer with the transcript."""
    def edit() -> Response:
        session = sessions.get_session(db, user=user, session_id=session_id)
        apply(session)
        # The edits wrote with UPDATE statements, not through these objects: load everything again.
        db.expire_all()
        return _transcript_response(session)

    return await _transcript_job(user, edit)


@router.patch("/{session_id}/speaker-roles", response_model=TranscriptOut)
async def speaker_roles(session_id: uuid.UUID, body: SpeakerRolesIn, db: DbSession, user: CurrentUser) -> Response:
    """Choose speakers' roles. The voice of the speaker chosen as coach joins the user's voice
    profile (GET /api/v1/me/voice-profile), unless they turned learning off."""
    def apply(session: Any) -> None:
        transcript_edits.set_speaker_roles(db, session, body.speaker_roles)
        voice_profiles.learn(db, session)

    return await _edit(db, user, session_id, apply)


@router.post("/{session_id}/confirm-roles", response_model=TranscriptOut)
async def confirm_roles(session_id: uuid.UUID, db: DbSession, user: CurrentUser) -> Response:
    """Accept the roles as they are (each coach and client becomes the user's choice); the coach's
    voice joins the user's voice profile, unless they turned learning off."""
    def apply(session: Any) -> None:
        transcript_edits.confirm_speaker_roles(db, session)
        voice_profiles.learn(db, session)

    return await _edit(db, user, session_id, apply)


@router.patch("/{session_id}/speaker-labels", response_model=TranscriptOut)
async def speaker_labels(session_id: uuid.UUID, body: SpeakerLabelsIn, db: DbSession, user: CurrentUser) -> Response:
    """Name speakers ("Anna"): the name replaces Coach/Client in the transcript and every export;
    null or "" gives the speaker its role's label back."""
    return await _edit(db, user, session_id, lambda session: transcript_edits.set_speaker_labels(db, session,
                                                                                          body.speaker_labels))


@router.patch("/{session_id}/segment-roles", response_model=TranscriptOut)
async def segment_roles(session_id: uuid.UUID, body: SegmentRolesIn, db: DbSession, user: CurrentUser) -> Response:
    return await _edit(db, user, session_id, lambda session: transcript_edits.set_segment_roles(db, session,
                                                                                         body.segment_roles))


@router.patch("/{session_id}/segment-content", response_model=TranscriptOut)
async def segment_content(session_id: uuid.UUID, body: SegmentContentIn, db: DbSession, user: CurrentUser,
                          settings: AppSettings) -> Response:
    """New text per segment, all or nothing; the old text goes to the segment's history (at most
    MAX_EDIT_HISTORY entries). Concurrent edits never lose a text; with `versions`, an edit of a
    segment that changed since is refused with 412."""
    return await _edit(db, user, session_id, lambda session: transcript_edits.set_segment_content(
        db, session, body.segment_content, max_history=settings.max_edit_history, versions=body.versions))
