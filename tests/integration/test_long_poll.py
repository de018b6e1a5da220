"""GET …/status?wait=N returns as soon as the worker publishes progress, not after N seconds."""

from __future__ import annotations

import threading
import time
import uuid

from coaching_assistant.services import transcription
from tests.integration.test_pipeline import uploaded_session


def test_long_poll_wakes_on_progress_and_on_completion(client, user_headers, settings, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    from coaching_assistant.tasks.transcription_tasks import transcribe_audio

    def publish(meta):  # what the task does: database first, then the result backend
        transcribe_audio.backend.store_result(task_id, meta, "PROGRESS")

    def work():
        time.sleep(1.0)
        transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language="en-US",
                                         task_id=task_id, publish=publish)

    worker = threading.Thread(target=work)
    worker.start()
    started = time.monotonic()
    first = client.get(f"/api/v1/sessions/{sid}/status", params={"wait": 20}, headers=user_headers).json()
    waited = time.monotonic() - started
    assert 0.8 < waited < 10, waited  # blocked until the first progress, not the full 20 s
    assert first["progress"] > 0 or first["status"] != "pending"
    seen, rounds = first["progress"], 0
    while first["status"] != "completed" and rounds < 50:
        first = client.get(f"/api/v1/sessions/{sid}/status", params={"wait": 20, "after": seen},
                           headers=user_headers).json()
        assert first["progress"] >= seen
        seen, rounds = first["progress"], rounds + 1
    worker.join()
    assert first["status"] == "completed" and first["progress"] == 100
    assert time.monotonic() - started < 15


def test_long_poll_times_out_when_nothing_happens(client, user_headers, empty_queue):
    sid, _uri, _task = uploaded_session(client, user_headers)
    started = time.monotonic()
    body = client.get(f"/api/v1/sessions/{sid}/status", params={"wait": 1}, headers=user_headers).json()
    assert 0.9 < time.monotonic() - started < 5
    assert body["status"] == "pending" and uuid.UUID(body["session_id"])
