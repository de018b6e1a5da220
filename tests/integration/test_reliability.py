"""Sweeper, cancel, deadline, retention and duration limits against the real database and broker."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, update

from coaching_assistant.core.config import Settings, get_settings
from coaching_assistant.core.errors import PermanentError
from coaching_assistant.core.task_queue import enqueue_transcription, queued_task_ids
from coaching_assistant.models import CoachingSession
from coaching_assistant.services import session_state, sweeper, transcription
from coaching_assistant.stt.fake import FakeProvider
from tests.helpers import wav_bytes
from tests.integration.test_pipeline import run, segment_count, uploaded_session
from tests.integration.test_upload import stored_files


@pytest.fixture(autouse=True)
def only_this_tests_sessions(db):
    """The sweeper looks at every session; start each test without other tests' leftovers."""
    db.execute(delete(CoachingSession))
    db.commit()


def row(db, sid) -> CoachingSession:
    db.expire_all()
    return db.get(CoachingSession, uuid.UUID(sid))


def set_row(db, sid, **values) -> None:
    db.execute(update(CoachingSession).where(CoachingSession.id == uuid.UUID(sid)).values(**values))
    db.commit()


def queued_ids(redis_client) -> list[str]:
    return [json.loads(raw)["headers"]["id"] for raw in redis_client.lrange("celery", 0, -1)]


def sweep(settings, **overrides):
    return sweeper.sweep(settings.model_copy(update=overrides), enqueue=enqueue_transcription,
                         queued_task_ids=queued_task_ids)


def crashed_mid_run(db, settings, sid, task_id, *, attempts: int = 1) -> None:
    """What a SIGKILLed worker leaves behind: claimed, lease in the past, message unacked."""
    claimed = transcription.claim(uuid.UUID(sid), task_id=task_id, audio_uri="", settings=settings)
    assert isinstance(claimed, session_state.Claim)
    set_row(db, sid, attempts=attempts, lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))


# --- sweeper -----------------------------------------------------------------------------------

def test_sweeper_requeues_a_session_whose_worker_died(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    empty_queue.delete("celery")  # the message is with the dead worker, unacked
    crashed_mid_run(db, settings, sid, task_id)

    report = sweep(settings)
    assert report.requeued == [sid] and report.failed == []
    session = row(db, sid)
    assert session.status == "pending" and session.lease_owner is None
    new_task_id = session.transcription_job_id
    assert new_task_id != task_id and queued_ids(empty_queue) == [new_task_id]
    assert sweep(settings).requeued == []  # nothing left to do, the new message is in the queue

    outcome = run(settings, sid, uri, new_task_id)
    assert outcome.status == "completed"
    session = row(db, sid)
    assert session.status == "completed" and session.attempts == 2
    assert segment_count(db, sid) == outcome.segments_count > 0


def test_a_live_lease_is_left_alone(client, user_headers, settings, db, empty_queue):
    sid, _, task_id = uploaded_session(client, user_headers)
    empty_queue.delete("celery")
    transcription.claim(uuid.UUID(sid), task_id=task_id, audio_uri="", settings=settings)
    assert sweep(settings, sweeper_pending_grace_seconds=0).requeued == []
    assert row(db, sid).status == "processing"


def test_sweeper_fails_a_lost_session_out_of_attempts(client, user_headers, settings, db, empty_queue):
    sid, _, task_id = uploaded_session(client, user_headers)
    empty_queue.delete("celery")
    crashed_mid_run(db, settings, sid, task_id, attempts=settings.task_max_attempts)
    report = sweep(settings)
    assert report.failed == [sid] and report.requeued == []
    session = row(db, sid)
    assert session.status == "failed" and session.error_code == "retries_exhausted"
    assert "stopped responding" in session.error_message
    assert empty_queue.llen("celery") == 0
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert status["status"] == "failed" and status["error_code"] == "retries_exhausted"


def test_sweeper_requeues_pending_sessions_whose_message_was_lost(client, user_headers, settings, db,
                                                                  empty_queue):
    lost, _, lost_task = uploaded_session(client, user_headers)
    queued, _, queued_task = uploaded_session(client, user_headers)
    fresh, _, fresh_task = uploaded_session(client, user_headers)
    for raw in empty_queue.lrange("celery", 0, -1):
        if json.loads(raw)["headers"]["id"] in (lost_task, fresh_task):
            empty_queue.lrem("celery", 1, raw)  # e.g. Redis restarted without persistence
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    set_row(db, lost, updated_at=an_hour_ago)
    set_row(db, queued, updated_at=an_hour_ago)  # old, but its message is still queued

    report = sweep(settings)
    assert report.requeued == [lost]
    assert row(db, queued).transcription_job_id == queued_task
    assert row(db, fresh).transcription_job_id == fresh_task  # within the grace period: untouched
    new_task = row(db, lost).transcription_job_id
    assert new_task != lost_task and sorted(queued_ids(empty_queue)) == sorted([queued_task, new_task])


def test_a_reserved_message_counts_as_queued(client, user_headers, settings, db, empty_queue):
    """A message a worker has taken but not acked (prefetched, or waiting out a retry countdown)
    lives in kombu's `unacked` hash; the sweeper must not queue a second copy of it."""
    sid, _, task_id = uploaded_session(client, user_headers)
    raw = empty_queue.rpop("celery")
    empty_queue.hset("unacked", "tag-1", json.dumps([json.loads(raw), "", "celery"]))
    try:
        set_row(db, sid, updated_at=datetime.now(UTC) - timedelta(hours=1))
        assert sweep(settings).requeued == []
        assert row(db, sid).transcription_job_id == task_id
    finally:
        empty_queue.delete("unacked")


def test_broker_down_means_the_sweeper_waits(client, user_headers, settings, db, empty_queue):
    sid, _, task_id = uploaded_session(client, user_headers)
    empty_queue.delete("celery")
    set_row(db, sid, updated_at=datetime.now(UTC) - timedelta(hours=1))

    def unreachable() -> set[str]:
        raise ConnectionError("broker down")

    report = sweeper.sweep(settings, enqueue=enqueue_transcription, queued_task_ids=unreachable)
    assert report.requeued == [] and row(db, sid).transcription_job_id == task_id


def test_several_sweepers_requeue_a_session_once(client, user_headers, settings, db, empty_queue):
    sessions = [uploaded_session(client, user_headers) for _ in range(3)]
    empty_queue.delete("celery")
    for sid, _, task_id in sessions:
        crashed_mid_run(db, settings, sid, task_id)
    reports: list[sweeper.SweepReport] = []
    threads = [threading.Thread(target=lambda: reports.append(sweep(settings))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    requeued = [sid for report in reports for sid in report.requeued]
    assert sorted(requeued) == sorted(sid for sid, _, _ in sessions)  # each exactly once
    assert sorted(queued_ids(empty_queue)) == sorted(row(db, sid).transcription_job_id for sid, _, _ in sessions)


# --- cancel ------------------------------------------------------------------------------------

def test_cancel_a_pending_session(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    response = client.post(f"/api/v1/sessions/{sid}/cancel", headers=user_headers)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    # the queued message runs later and finds nothing to do
    assert run(settings, sid, uri, task_id).status == "skipped"
    assert segment_count(db, sid) == 0
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert status["status"] == "cancelled" and status["message"] == "Cancelled by the user"
    assert sweep(settings, sweeper_pending_grace_seconds=0).requeued == []


def test_cancel_stops_a_running_transcription_at_its_next_step(client, user_headers, settings, db,
                                                               empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    slow = FakeProvider(Settings(fake_stt_seconds_per_chunk=0.3))  # 10 chunks: 3 s in all
    outcomes: list[transcription.Outcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(transcription.transcribe_session(
        settings=settings, session_id=sid, audio_uri=uri, language="en-US", task_id=task_id,
        publish=lambda _m: None, provider=slow)))
    started = time.monotonic()
    thread.start()
    while client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()["progress"] <= 5:
        time.sleep(0.05)
    response = client.post(f"/api/v1/sessions/{sid}/cancel", headers=user_headers)
    assert response.status_code == 200, response.text
    thread.join(timeout=10)
    assert outcomes[0].status == "cancelled"
    assert time.monotonic() - started < 2.5  # stopped well before the 3 s the engine needed
    assert segment_count(db, sid) == 0
    assert row(db, sid).status == "cancelled"


def test_a_cancelled_sessions_task_is_reported_revoked(client, user_headers, db, empty_queue):
    from coaching_assistant.tasks.transcription_tasks import transcribe_audio

    sid, uri, task_id = uploaded_session(client, user_headers)
    assert client.post(f"/api/v1/sessions/{sid}/cancel", headers=user_headers).status_code == 200
    # The queued message runs later, finds nothing to claim and returns normally: SUCCESS to Celery.
    returned = transcribe_audio.apply(args=[sid, uri, "en-US"], task_id=task_id).get()
    transcribe_audio.backend.mark_as_done(task_id, returned)
    assert transcribe_audio.AsyncResult(task_id).state == "SUCCESS"
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert (status["status"], status["task_state"]) == ("cancelled", "REVOKED")


def test_a_session_handed_back_to_pending_is_not_reported_in_progress(client, user_headers, empty_queue):
    from coaching_assistant.core.celery_app import celery_app

    sid, _, task_id = uploaded_session(client, user_headers)
    # A run that released the session (a transient error) leaves PROGRESS until its retry is recorded.
    celery_app.backend.store_result(task_id, {"progress": 40}, "PROGRESS")
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert (status["status"], status["task_state"]) == ("pending", "PENDING")
    celery_app.backend.store_result(task_id, None, "RETRY")
    assert client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()["task_state"] == "RETRY"


@pytest.mark.parametrize("state", ["uploading", "completed", "failed", "cancelled"])
def test_only_pending_or_processing_can_be_cancelled(client, user_headers, db, state):
    sid = client.post("/api/v1/sessions", json={"title": "t"}, headers=user_headers).json()["id"]
    set_row(db, sid, status=state)
    response = client.post(f"/api/v1/sessions/{sid}/cancel", headers=user_headers)
    assert response.status_code == 409 and response.json()["code"] == "invalid_session_status"
    assert row(db, sid).status == state


def test_a_cancelled_session_can_be_retried(client, user_headers, settings, db, empty_queue):
    sid, uri, _ = uploaded_session(client, user_headers)
    client.post(f"/api/v1/sessions/{sid}/cancel", headers=user_headers)
    response = client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers)
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert run(settings, sid, uri, response.json()["task_id"]).status == "completed"


def test_a_retry_the_broker_refuses_leaves_the_session_as_it_was(client, user_headers, settings, db,
                                                                  empty_queue, monkeypatch):
    from kombu.exceptions import OperationalError

    from coaching_assistant.api.routers import sessions as routes
    from coaching_assistant.models import ProcessingStatus

    def rows() -> tuple[dict, dict]:
        db.expire_all()
        session, progress = db.get(CoachingSession, uuid.UUID(sid)), db.get(ProcessingStatus, progress_id)
        return ({c: getattr(session, c) for c in ("status", "error_code", "error_message", "attempts",
                                                   "retry_count", "transcription_job_id", "audio_uri")},
                {c: getattr(progress, c) for c in ("status", "progress", "message", "duration_processed",
                                                    "duration_total", "processing_speed", "started_at")})

    sid, uri, task_id = uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes())
    Path(uri).write_bytes(b"garbage" * 10)  # damaged after the upload probe: the run fails while decoding
    with pytest.raises(PermanentError):
        run(settings, sid, uri, task_id)
    progress_id = row(db, sid).processing_status.id
    before = rows()
    assert before[0]["status"] == "failed" and before[0]["attempts"] == 1 and before[1]["progress"] > 0
    status_before = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()

    def broker_down(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(routes, "enqueue_transcription", broker_down)
    refused = client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers)
    assert refused.status_code == 503 and refused.json()["code"] == "broker_unavailable"
    assert rows() == before
    assert client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json() == status_before
    monkeypatch.undo()  # the broker is back: the refused retry cost nothing
    retried = client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers)
    assert retried.status_code == 202 and row(db, sid).retry_count == 1 and empty_queue.llen("celery") == 2


# --- deadline ----------------------------------------------------------------------------------

class HangingProvider:
    """An engine stuck in native code: no progress callbacks until it returns."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def transcribe(self, audio, *, language, on_progress, hints=None):
        time.sleep(self.seconds)
        return []


def test_a_hung_stage_is_failed_by_the_heartbeat(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    short = settings.model_copy(update={"task_soft_time_limit_seconds": 0.5, "session_lease_seconds": 2})
    errors: list[Exception] = []

    def work() -> None:
        try:
            transcription.transcribe_session(settings=short, session_id=sid, audio_uri=uri, language="en-US",
                                             task_id=task_id, publish=lambda _m: None,
                                             provider=HangingProvider(3))
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(1.5)
    assert thread.is_alive()  # the engine is still stuck…
    session = row(db, sid)  # …but the session already says why it ended
    assert session.status == "failed" and session.error_code == "time_limit_exceeded"
    thread.join()
    assert isinstance(errors[0], PermanentError) and errors[0].code == "time_limit_exceeded"
    assert segment_count(db, sid) == 0


# --- retention ---------------------------------------------------------------------------------

def test_retention_deletes_old_audio_and_keeps_the_transcript(client, user_headers, settings, db,
                                                              empty_queue):
    old, old_uri, old_task = uploaded_session(client, user_headers)
    recent, recent_uri, recent_task = uploaded_session(client, user_headers)
    run(settings, old, old_uri, old_task)
    run(settings, recent, recent_uri, recent_task)
    set_row(db, old, completed_at=datetime.now(UTC) - timedelta(days=8))

    assert sweep(settings).audio_deleted == []  # off by default
    assert Path(old_uri).exists()
    report = sweep(settings, audio_retention_days=7)
    assert report.audio_deleted == [old]
    assert not Path(old_uri).exists() and Path(recent_uri).exists()
    session = row(db, old)
    assert session.audio_uri is None and session.audio_deleted_at is not None
    transcript = client.get(f"/api/v1/sessions/{old}/transcript", headers=user_headers)
    assert transcript.status_code == 200 and transcript.json()["segments"]
    retried = client.post(f"/api/v1/sessions/{old}/retry-transcription", headers=user_headers)
    assert retried.status_code == 409  # completed; and without audio there is nothing to redo


# --- duration limits ---------------------------------------------------------------------------

def silent_flac(path: Path, seconds: int) -> Path:
    """A small file that expands to a lot of audio: digital silence compresses to almost nothing."""
    import av

    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=8000)
        stream.layout = "mono"
        block = np.zeros((1, 8000), dtype=np.int16)
        for second in range(seconds):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = 8000, second * 8000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_audio_longer_than_the_maximum_is_refused_after_probing(app, client, user_headers, settings,
                                                                 empty_queue, tmp_path):
    bomb = silent_flac(tmp_path / "bomb.flac", seconds=2 * 3600)
    assert bomb.stat().st_size < 2_000_000  # two hours of audio in a small upload
    sid = client.post("/api/v1/sessions", json={"title": "t"}, headers=user_headers).json()["id"]
    before = stored_files(settings)
    app.dependency_overrides[get_settings] = lambda: Settings(max_audio_seconds=3600)
    try:
        with bomb.open("rb") as handle:
            response = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("bomb.flac", handle)},
                                   headers=user_headers)
    finally:
        app.dependency_overrides.clear()
    assert response.status_code == 422 and response.json()["code"] == "audio_too_long"
    assert "3600" in response.json()["message"]
    assert stored_files(settings) == before and empty_queue.llen("celery") == 0
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["status"] == "uploading"


def test_the_worker_stops_decoding_past_the_maximum(client, user_headers, settings, db, empty_queue):
    """Whatever the header said, decoding stops once the audio passes MAX_AUDIO_SECONDS."""
    sid, uri, task_id = uploaded_session(client, user_headers)
    with pytest.raises(PermanentError) as raised:
        run(settings.model_copy(update={"max_audio_seconds": 10}), sid, uri, task_id)
    assert raised.value.code == "audio_too_long"
    session = row(db, sid)
    assert session.status == "failed" and session.error_code == "audio_too_long"
