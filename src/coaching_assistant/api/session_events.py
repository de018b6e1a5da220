"""A session's status as server-sent events (GET /api/v1/sessions/{id}/events).

The stream sends the status (the fields of GET …/status) whenever what the database holds for it
changes (api/session_watch.py), and ends after a final state. Each event's `id` names the state it
carries, so a client that reconnects
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

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import ServerSentEvent

from coaching_assistant.api.deps import CurrentUser
from coaching_assistant.api.errors import NoContent
from coaching_assistant.api.limits import PerUserLimit
from coaching_assistant.api.session_watch import read_snapshot, status_changes
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.errors import ErrorCode, NotFound
from coaching_assistant.models import User

# How long an EventSource waits before it reconnects (the stream's `retry:` field).
RETRY_MILLISECONDS = 3000

event_streams = PerUserLimit(get_settings().user_max_event_streams, what="session event streams",
                             code=ErrorCode.TOO_MANY_EVENT_STREAMS, retry_after=5)


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
