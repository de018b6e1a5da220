"""Following one session's status as it changes, without polling: `status_changes` yields the
status (what GET …/status answers) now and each time it changes, until a final state, woken by
the worker's publications on the result backend (api/task_events.py). The event stream
(api/session_events.py) and the OpenAI-compatible request, which waits for its transcript
(api/routers/openai_audio.py), both follow a session this way. Each state comes with an id that
names it, so a client can say which one it saw last.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from coaching_assistant.api.schemas import StatusOut
from coaching_assistant.api.task_events import TaskWatch
from coaching_assistant.core.database import new_session
from coaching_assistant.core.task_queue import session_task_state
from coaching_assistant.models import User
from coaching_assistant.services import sessions
from coaching_assistant.services.session_state import FINAL

# The database is read again at least this often: some changes come with no publication to wake
# the watch (a pending session cancelled, or given up on by the sweeper).
RECHECK_SECONDS = 5.0


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
