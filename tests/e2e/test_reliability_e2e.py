"""Faults injected into a running system: real worker and API processes, a Redis server of the
test's own (never the shared one) and a database of its own. Nothing may be lost or run twice.

The fake engine sleeps per 5 s chunk, so a transcription lasts a few seconds and a fault can be
injected in the middle of it. The lease is 3 s and each worker's sweeper looks every 0.5 s.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from celery import Celery
from sqlalchemy import select

from tests.e2e.conftest import SEED_WORKER, Process, db_session, start_api, start_worker
from tests.helpers import CONVERSATION

pytestmark = pytest.mark.e2e

FAST = {"STT_PROVIDER": "fake", "FAKE_STT_SECONDS_PER_CHUNK": "0.4", "SESSION_LEASE_SECONDS": "3",
        "SWEEPER_INTERVAL_SECONDS": "0.5", "SWEEPER_PENDING_GRACE_SECONDS": "2",
        "TASK_RETRY_BACKOFF_SECONDS": "0.3"}
ONE_THREAD = [*SEED_WORKER[1:-2], "--concurrency=1", "--pool=threads"]
FINAL = {"completed", "failed", "cancelled"}


class Stack:
    """An API process and any number of workers on the given database and broker."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str, **env: str):
        from coaching_assistant.services.users import create_user

        self.tmp_path, self.database_url = tmp_path, database_url
        self.env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, **FAST, **env}
        with db_session(database_url) as db:
            _, key = create_user(db, email=f"coach-{uuid.uuid4().hex[:6]}@example.com")
        self.api, url = start_api(tmp_path, **self.env)
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        self.workers: list[Process] = []

    def worker(self, name: str, args: list[str] | None = None, **env: str) -> Process:
        worker = start_worker(self.tmp_path, name, args=args, **{**self.env, **env})
        self.workers.append(worker)
        return worker

    def upload(self) -> tuple[str, httpx.Response]:
        sid = self.http.post("/api/v1/sessions", json={"title": "fault test"}).json()["id"]
        with CONVERSATION.open("rb") as handle:
            return sid, self.http.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", handle)})

    def status(self, sid: str) -> dict:
        try:
            return self.http.get(f"/api/v1/sessions/{sid}/status").json()
        except (httpx.HTTPError, ValueError):
            return {}  # the API may be briefly without its database

    def wait_until(self, sid: str, predicate, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(sid)
            if status and predicate(status):
                return status
            time.sleep(0.05)
        raise AssertionError(f"session {sid}: last status {self.status(sid)}\n" + self.logs()[-4000:])

    def wait_final(self, sids: list[str], timeout: float = 90) -> dict[str, str]:
        return {sid: self.wait_until(sid, lambda s: s.get("status") in FINAL, timeout)["status"] for sid in sids}

    def record(self, sid: str) -> tuple[object, list[int]]:
        """The session row and the positions of its stored segments."""
        from coaching_assistant.models import CoachingSession, TranscriptSegment

        with db_session(self.database_url) as db:
            row = db.get(CoachingSession, uuid.UUID(sid))
            positions = db.scalars(select(TranscriptSegment.position)
                                   .where(TranscriptSegment.session_id == uuid.UUID(sid))).all()
        return row, sorted(positions)

    def completions(self) -> Counter[str]:
        """How many times a worker reported finishing each session (the seed's log line)."""
        return Counter(re.findall(r"Transcription completed for session ([0-9a-f-]{36})", self.logs()))

    def logs(self) -> str:
        return "".join(worker.output() for worker in self.workers)

    def close(self) -> None:
        self.http.close()
        for process in [*self.workers, self.api]:
            process.stop()


def assert_each_transcribed_once(stack: Stack, sids: list[str]) -> list[int]:
    counts = stack.completions()
    sizes, attempts = set(), []
    for sid in sids:
        row, positions = stack.record(sid)
        assert row.status == "completed", (sid, row.status, row.error_code)
        assert positions == list(range(row.segments_count)) and row.segments_count > 0
        assert counts[sid] == 1, (sid, counts[sid])
        sizes.add(row.segments_count)
        attempts.append(row.attempts)
    assert len(sizes) == 1  # the same audio gives the same transcript, whatever happened on the way
    return attempts


@pytest.fixture
def stack_factory(tmp_path):
    stacks: list[Stack] = []

    def make(database_url: str, redis_url: str, **env: str) -> Stack:
        stacks.append(Stack(tmp_path, database_url, redis_url, **env))
        return stacks[-1]

    yield make
    for stack in stacks:
        stack.close()


def test_sigkill_mid_transcription_then_a_new_worker(stack_factory, private_database, private_redis):
    """Fault 1 and 5: a worker dies mid-task; its session is recovered within about a lease."""
    stack = stack_factory(private_database, private_redis.url)
    doomed = stack.worker("worker-a")
    sid, response = stack.upload()
    assert response.status_code == 202
    stack.wait_until(sid, lambda s: s["status"] == "processing" and s["progress"] >= 30)
    os.kill(doomed.popen.pid, signal.SIGKILL)
    doomed.popen.wait()
    killed = time.monotonic()
    # the dead worker's message stays unacknowledged until the visibility timeout (hours)
    assert private_redis.client().hlen("unacked") == 1

    stack.worker("worker-b")
    assert stack.wait_final([sid]) == {sid: "completed"}
    recovery = time.monotonic() - killed
    assert assert_each_transcribed_once(stack, [sid]) == [2]  # the killed attempt is counted
    assert f"Sweeper: session {sid} lost its worker" in stack.logs()
    assert "Transcription completed" not in doomed.output()
    # lease 3 s + sweep 0.5 s + worker start + a 4 s transcription, not the 3 h visibility timeout
    assert recovery < 30, recovery
    print(f"\nSIGKILL: 1 session, 1 fault, recovered in {recovery:.1f}s, attempts 2, 0 duplicated, 0 lost")


def test_redis_lost_while_sessions_are_queued_and_running(stack_factory, private_database, private_redis):
    """Fault 2: Redis dies (losing every queued message) while one session runs and three wait.
    New uploads get 503 during the outage; after the restart every session completes once."""
    stack = stack_factory(private_database, private_redis.url)
    stack.worker("worker", args=ONE_THREAD)
    sids = []
    for _ in range(4):
        sid, response = stack.upload()
        assert response.status_code == 202
        sids.append(sid)
    stack.wait_until(sids[0], lambda s: s["status"] == "processing" and s["progress"] >= 20)
    assert private_redis.client().llen("celery") == 3

    private_redis.kill()
    refused_sid, refused = stack.upload()
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "broker_unavailable" and refused.json()["message"]
    assert stack.status(refused_sid)["status"] == "uploading"  # nothing half-stored
    time.sleep(2)
    private_redis.start()  # same port, empty: the three queued messages are gone

    sid, response = stack.upload()  # the user tries again
    assert response.status_code == 202, response.text
    sids.append(sid)
    assert stack.wait_final(sids, timeout=120) == {s: "completed" for s in sids}
    attempts = assert_each_transcribed_once(stack, sids)
    assert attempts == [1] * len(sids)  # the running one was not run again either
    requeued = set(re.findall(r"pending session ([0-9a-f-]{36}) had no message", stack.logs()))
    assert set(sids[1:4]) <= requeued  # recovered from the database, not from the broker
    print(f"\nRedis outage: {len(sids) + 1} uploads, 1 refused with 503, {len(sids)} completed, "
          f"attempts {attempts}, 0 duplicated, 0 lost")


def test_postgresql_restart_while_a_task_runs(stack_factory, private_postgres, private_redis):
    """Fault 3: the database goes away mid-task; the task retries and completes once."""
    from coaching_assistant.core.database import migrate

    migrate(private_postgres.url.replace("postgresql://", "postgresql+psycopg://"))
    # a lease longer than the outage: the task's own retry, not the sweeper, must finish the work
    stack = stack_factory(private_postgres.url, private_redis.url, SESSION_LEASE_SECONDS="30")
    worker = stack.worker("worker")
    sid, response = stack.upload()
    assert response.status_code == 202
    stack.wait_until(sid, lambda s: s["status"] == "processing" and s["progress"] >= 20)
    private_postgres.stop()
    time.sleep(3)
    private_postgres.start()
    assert stack.wait_final([sid], timeout=120) == {sid: "completed"}
    attempts = assert_each_transcribed_once(stack, [sid])
    assert attempts[0] >= 2
    assert "database_unavailable" in worker.output()
    # the task itself retried and finished: no other task id took the session over
    assert "lost its worker" not in worker.output()
    assert stack.record(sid)[0].transcription_job_id == response.json()["task_id"]
    print(f"\nPostgreSQL restart: 1 session, attempts {attempts[0]}, completed once")


def celery_client(redis_url: str) -> Celery:
    """A Celery client of the test's own for the private broker (JSON only, like the app)."""
    client = Celery(broker=redis_url, backend=redis_url)
    client.conf.update(accept_content=["json"], result_accept_content=["json"], task_serializer="json")
    return client


def follow_states(client: Celery, task_id: str, timeout: float = 60) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.AsyncResult(task_id).state
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("SUCCESS", "FAILURE"):
            return seen
        time.sleep(0.01)
    raise AssertionError(seen)


@pytest.mark.parametrize("case, env, status, code, attempts", [
    ("transient twice, then fine", {"FAKE_STT_TRANSIENT_FAILURES": "2"}, "completed", None, 3),
    ("transient every time", {"FAKE_STT_TRANSIENT_FAILURES": "1000"}, "failed", "retries_exhausted", 3),
    ("permanent", {"MAX_AUDIO_SECONDS": "10"}, "failed", "audio_too_long", 1),
])
def test_transient_errors_retry_with_backoff_permanent_ones_do_not(stack_factory, private_database,
                                                                   private_redis, case, env, status,
                                                                   code, attempts):
    """Fault 4: retries only for transient errors, with growing jittered backoff, capped by
    TASK_MAX_ATTEMPTS; no session is ever left `processing`."""
    stack = stack_factory(private_database, private_redis.url, TASK_MAX_ATTEMPTS="3")
    worker = stack.worker("worker", **env)
    sid, response = stack.upload()
    assert response.status_code == 202
    states = follow_states(celery_client(private_redis.url), response.json()["task_id"])
    final = stack.wait_final([sid])
    row, positions = stack.record(sid)
    assert final == {sid: status} and row.error_code == code and row.attempts == attempts
    assert states[-1] == ("SUCCESS" if status == "completed" else "FAILURE")
    delays = [float(d) for d in re.findall(r"retrying in ([0-9.]+)s", worker.output())]
    assert len(delays) == attempts - 1
    if attempts > 1:
        assert "RETRY" in states
        # jittered within [base * 2**n / 2, base * 2**n]
        assert 0.15 <= delays[0] <= 0.31 and 0.3 <= delays[1] <= 0.61
    else:
        assert "RETRY" not in states
    assert bool(positions) == (status == "completed")


def test_the_worker_refuses_pickle(stack_factory, private_database, private_redis):
    """Celery accepts JSON only: a pickled message is rejected, never deserialized."""
    stack = stack_factory(private_database, private_redis.url)
    worker = stack.worker("worker")
    client = Celery(broker=private_redis.url)
    client.conf.update(task_serializer="pickle", accept_content=["pickle", "json"])
    client.send_task("coaching_assistant.tasks.transcription_tasks.transcribe_audio",
                     args=[str(uuid.uuid4()), "/etc/passwd", "en-US"], serializer="pickle")
    worker.wait_for("Refusing to deserialize", timeout=30)
    assert "Starting transcription" not in worker.output()
