"""Concurrent edits at the service level, with the race forced instead of hoped for.

The API runs transcript edits in a lane of one thread (or a few) per process, so edits sent to one
API process hardly overlap and a lost update there is down to luck. Here each writer is a thread of its own with
its own database session calling the service directly, and every writer is held at its first
UPDATE of the edited table until all writers have got there: every writer has read the row (the
same version) before any writer writes. Only a compare-and-set keeps every text then; a plain
read-modify-write keeps one.

The hold is on the connection (SQLAlchemy's before_cursor_execute), not on a helper of the service,
so any implementation that reads and then writes is raced the same way.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from coaching_assistant.core.database import new_session
from coaching_assistant.core.errors import EditConflict, StaleVersion
from coaching_assistant.models import CoachingSession, TranscriptSegment
from coaching_assistant.services import transcript_edits
from tests.integration.test_transcripts_api import imported

pytestmark = pytest.mark.timeout(120)

WRITERS = 8
MAX_HISTORY = 50
# A writer holding a lock while it waits (an implementation that serialises with SELECT … FOR UPDATE)
# stops the others from reaching the barrier: it then breaks after this long and everyone goes on.
HOLD_SECONDS = 20
ORIGINAL = "original text"


class Race:
    """Writers, each on a thread and a database session of its own, held at their first UPDATE of
    `table` until every writer has reached one."""

    def __init__(self, table: str, writers: int):
        self.barrier = threading.Barrier(writers, timeout=HOLD_SECONDS)
        self.update = re.compile(rf'\s*UPDATE\s+"?{table}"?\s', re.IGNORECASE)
        self.local = threading.local()
        self.reached = 0
        self.lock = threading.Lock()

    def _hold(self, _conn, _cursor, statement: str, *_args: object) -> None:
        if not getattr(self.local, "writer", False) or getattr(self.local, "held", False):
            return
        if self.update.match(statement):
            self.local.held = True
            with self.lock:
                self.reached += 1
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                pass

    @contextmanager
    def holding(self) -> Iterator[None]:
        with new_session() as db:
            engine = db.get_bind()
        event.listen(engine, "before_cursor_execute", self._hold)
        try:
            yield
        finally:
            event.remove(engine, "before_cursor_execute", self._hold)

    def run(self, jobs: list[Callable[[Session], object]]) -> list[BaseException | None]:
        """Run each job on its own thread and session: None where it returned, else its exception."""
        outcomes: list[BaseException | None] = [None] * len(jobs)

        def writer(i: int) -> None:
            self.local.writer = True
            try:
                with new_session() as db:
                    jobs[i](db)
            except BaseException as exc:  # noqa: BLE001 - the outcome is what the test checks
                outcomes[i] = exc
            finally:
                if not getattr(self.local, "held", False):
                    self.barrier.abort()  # it will never write: do not keep the others waiting

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(jobs))]
        with self.holding():
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=HOLD_SECONDS * 4)
        assert not any(thread.is_alive() for thread in threads), "a writer never finished"
        return outcomes


def load(db: Session, sid: str) -> CoachingSession:
    session = db.get(CoachingSession, uuid.UUID(sid))
    assert session is not None
    return session


def segment_row(db: Session, segment_id: str):
    return db.execute(select(TranscriptSegment.content, TranscriptSegment.history, TranscriptSegment.version)
                      .where(TranscriptSegment.id == uuid.UUID(segment_id))).one()


def one_segment(client, headers) -> tuple[str, str]:
    sid, body = imported(client, headers, f"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Coach>{ORIGINAL}\n")
    segment = body["segments"][0]
    assert segment["version"] == 1 and segment["content"] == ORIGINAL
    return sid, segment["id"]


def edit_job(sid: str, segment_id: str, text: str, versions: dict[str, int] | None = None):
    def job(db: Session) -> None:
        transcript_edits.set_segment_content(db, load(db, sid), {segment_id: text}, max_history=MAX_HISTORY,
                                        versions=versions)
    return job


def test_racing_text_edits_of_one_segment_lose_no_text(client, user_headers, db):
    sid, segment_id = one_segment(client, user_headers)
    texts = [f"edit number {i}" for i in range(WRITERS)]
    race = Race("transcript_segment", WRITERS)
    outcomes = race.run([edit_job(sid, segment_id, text) for text in texts])

    assert race.reached == WRITERS, "a writer did not write"
    refused = [exc for exc in outcomes if exc is not None]
    assert all(isinstance(exc, EditConflict) and exc.code == "edit_conflict" for exc in refused), refused
    accepted = [text for text, exc in zip(texts, outcomes, strict=True) if exc is None]
    assert accepted, "every edit was refused"

    after = segment_row(db, segment_id)
    history = [entry["content"] for entry in after.history]
    assert history[0] == ORIGINAL and ORIGINAL not in [after.content, *history[1:]]
    assert after.content in accepted
    # every accepted text is the content or in the history, once, and nothing else is there
    assert sorted([after.content, *history[1:]]) == sorted(accepted), (after.content, history, accepted)
    assert after.version == 1 + len(accepted)
    assert len(after.history) == len(accepted)


def test_racing_edits_that_name_the_version_read_accept_exactly_one(client, user_headers, db):
    """Every writer read version 1 and says so: the first write makes the others stale (412)."""
    sid, segment_id = one_segment(client, user_headers)
    texts = [f"checked edit {i}" for i in range(WRITERS)]
    race = Race("transcript_segment", WRITERS)
    outcomes = race.run([edit_job(sid, segment_id, text, versions={segment_id: 1}) for text in texts])

    assert race.reached == WRITERS
    accepted = [text for text, exc in zip(texts, outcomes, strict=True) if exc is None]
    stale = [exc for exc in outcomes if exc is not None]
    assert len(accepted) == 1, (accepted, stale)
    assert all(isinstance(exc, StaleVersion) and exc.status_code == 412 for exc in stale), stale
    after = segment_row(db, segment_id)
    assert after.content == accepted[0]
    assert [entry["content"] for entry in after.history] == [ORIGINAL]
    assert after.version == 2


def test_racing_speaker_role_edits_both_land(client, user_headers, db):
    vtt = ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ann>Hello.\n\n"
           "00:00:01.000 --> 00:00:02.000\n<v Bob>Hi there.\n")
    sid, body = imported(client, user_headers, vtt)
    assert {key: entry["role"] for key, entry in body["speaker_roles"].items()} == {"1": "unknown", "2": "unknown"}
    before = db.scalar(select(CoachingSession.speaker_roles_version).where(CoachingSession.id == uuid.UUID(sid)))
    wanted = {"1": "coach", "2": "client"}

    def job(speaker: str, role: str):
        return lambda session_db: transcript_edits.set_speaker_roles(session_db, load(session_db, sid), {speaker: role})

    race = Race("session", len(wanted))
    outcomes = race.run([job(speaker, role) for speaker, role in wanted.items()])

    assert race.reached == len(wanted)
    assert outcomes == [None] * len(wanted), outcomes
    after = db.execute(select(CoachingSession.speaker_roles, CoachingSession.speaker_roles_version)
                       .where(CoachingSession.id == uuid.UUID(sid))).one()
    assert {key: entry["role"] for key, entry in after.speaker_roles.items()} == wanted  # neither edit lost
    assert {key: entry["source"] for key, entry in after.speaker_roles.items()} == {"1": "user", "2": "user"}
    assert {key: entry["name"] for key, entry in after.speaker_roles.items()} == {"1": "Ann", "2": "Bob"}
    assert after.speaker_roles_version == before + len(wanted)


def test_racing_label_and_role_edits_of_one_speaker_both_land(client, user_headers, db):
    """A label and a role live in one speaker_roles entry: the label's write re-reads on a lost
    compare-and-set, so neither edit undoes the other."""
    vtt = ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Ann>Hello.\n\n"
           "00:00:01.000 --> 00:00:02.000\n<v Bob>Hi there.\n")
    sid, _ = imported(client, user_headers, vtt)
    jobs = [lambda session_db: transcript_edits.set_speaker_roles(session_db, load(session_db, sid), {"1": "coach"}),
            lambda session_db: transcript_edits.set_speaker_labels(session_db, load(session_db, sid), {"1": "Anna"})]
    race = Race("session", len(jobs))
    outcomes = race.run(jobs)

    assert race.reached == len(jobs)
    assert outcomes == [None] * len(jobs), outcomes
    after = db.scalar(select(CoachingSession.speaker_roles).where(CoachingSession.id == uuid.UUID(sid)))
    assert after["1"] == {"role": "coach", "confidence": 1.0, "source": "user", "name": "Ann", "label": "Anna"}
