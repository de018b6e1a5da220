"""A session's status as server-sent events (GET /api/v1/sessions/{id}/events).

The stream sends the status (the fields of GET …/status) whenever what the database holds for it
changes, woken by the worker's publications on the result backend (api/task_events.py), and ends
after a final state. Each event's `id` names the state it carries, so a client that reconnects
with `Last-Event-ID` is sent the current state only if it differs from the one it saw: nothing
repeated, and the final state never missed. A client that already saw the final state gets 204,
which tells an EventSource to stop reconnecting.

A stream holds a connection, a Redis subscription and one of its user's concurrent requests
(api/guard.py) for as long as it is open, so a user may hold USER_MAX_EVENT_STREAMS at once, and
each is closed after EVENT_STREAM_MAX_SECONDS: the client reconnects with Last-Event-ID, and its
key or cookie is checked again. A client that goes away ends its stream at once (Starlette
cancels the response on the disconnect), which gives its slots back.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import ServerSentEvent

from coaching_assistant.api.deps import CurrentUser
from coaching_assistant.api.errors import NoContent
from coaching_assistant.api.limits import PerUserLimit
from coaching_assistant.api.schemas import StatusOut
from coaching_assistant.api.task_events import TaskWatch
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.database import new_session
from coaching_assistant.core.errors import ErrorCode, NotFound
from coaching_assistant.core.task_queue import session_task_state
from coaching_assistant.models import SessionStatus, User
from coaching_assistant.services import sessions

FINAL = (SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED)
# How long an EventSource waits before it reconnects (the stream's `retry:` field).
RETRY_MILLISECONDS = 3000
# The database is read again at least this often: some changes come with no publication to wake
# the stream (a pending session cancelled, or given up on by the sweeper).
RECHECK_SECONDS = 5.0

event_streams = PerUserLimit(get_settings().user_max_event_streams, what="session event streams",
                             code=ErrorCode.TOO_MANY_EVENT_STREAMS, retry_after=5)


@dataclass(frozen=True)
class Snapshot:
    status: StatusOut
    event_id: str
    task_id: str | None

    @property
    def final(self) -> bool:
        return self.status.status in FINAL


def event_id(status: StatusOut, *, retry_count: int, attempts: int) -> str:
    """The id of the event that carries `status`: its status and progress, readable, and a digest
    of everything stored that an event shows, with the run it belongs to (a retry's "processing
    0 %" is not the first run's). The estimate and the speed are left out: they are computed from
    the stored values (the estimate from the clock, too)."""
    stored = (retry_count, attempts, status.status, status.progress, status.message, status.duration_processed,
              status.duration_total, status.error_code, status.detected_language)
    digest = hashlib.blake2s(repr(stored).encode(), digest_size=6).hexdigest()
    return f"{status.status}.{status.progress}.{digest}"


def read_snapshot(user: User, session_id: uuid.UUID) -> Snapshot:
    """The user's session's status now (NotFound if it has none such), in a short transaction of
    its own: the stream holds no database connection while it waits."""
    with new_session() as db:
        session = sessions.get_session(db, user=user, session_id=session_id, with_progress=True)
        found = sessions.status_of(session)
        task_id, retry_count, attempts = session.transcription_job_id, session.retry_count, session.attempts
    found["task_state"] = session_task_state(found["status"], task_id)
    status = StatusOut(**found)
    return Snapshot(status, event_id(status, retry_count=retry_count, attempts=attempts), task_id)


async def opened_stream(session_id: uuid.UUID, user: CurrentUser,
                        last_event_id: Annotated[str | None, Header()] = None) -> AsyncIterator[str | None]:
    """Checks before the stream starts (its answer is then 200): the session is the user's (404),
    there is something left to send (204), and the user has a stream slot free (429), held until
    the stream ends. Gives the Last-Event-ID the stream continues from."""
    first = await run_in_threadpool(read_snapshot, user, session_id)
    if first.final and first.event_id == last_event_id:
        raise NoContent
    with event_streams.slot(user.id):
        yield last_event_id


async def status_changes(*, user: User, session_id: uuid.UUID, lifetime: float) -> AsyncGenerator[Snapshot]:
    """The session's status now, then each time it changes, until a final state or `lifetime`
    seconds; NotFound if it is not the user's (or is deleted meanwhile). Holds no database
    connection while it waits."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + lifetime
    seen = None
    watch = TaskWatch()
    try:
        snapshot = await run_in_threadpool(read_snapshot, user, session_id)
        while True:
            if snapshot.task_id != watch.task_id:
                # Listen first, then read: a change between the two is not missed.
                await watch.follow(snapshot.task_id)
                snapshot = await run_in_threadpool(read_snapshot, user, session_id)
                continue
            if snapshot.event_id != seen:
                seen = snapshot.event_id
                yield snapshot
            left = ends - loop.time()
            if snapshot.final or left <= 0:
                return
            await watch.changed(timeout=min(left, RECHECK_SECONDS))
            snapshot = await run_in_threadpool(read_snapshot, user, session_id)
    finally:
        await watch.aclose()


async def status_events(*, user: User, session_id: uuid.UUID, last_event_id: str | None,
                        lifetime: float) -> AsyncIterator[ServerSentEvent]:
    """The stream's events: the retry hint, then the status each time it changes, until a final
    state or `lifetime` seconds. FastAPI adds a keep-alive comment when nothing was sent for 15 s."""
    yield ServerSentEvent(comment="status of the session as it changes", retry=RETRY_MILLISECONDS)
    try:
        async for snapshot in status_changes(user=user, session_id=session_id, lifetime=lifetime):
            if snapshot.event_id != last_event_id:
                yield ServerSentEvent(event="status", id=snapshot.event_id, data=snapshot.status)
    except NotFound:
        return  # deleted while streaming: a reconnect gets its 404
