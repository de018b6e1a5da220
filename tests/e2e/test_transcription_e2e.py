"""The whole service with the real engine: API process → Redis → seed-command worker → database."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.conftest import make_user
from tests.e2e.conftest import start_api, start_worker, stored_session
from tests.helpers import CONVERSATION, reference_text, word_error_rate

pytestmark = pytest.mark.e2e
TASK = "coaching_assistant.tasks.transcription_tasks.transcribe_audio"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    import redis

    from tests.conftest import REDIS_URL

    redis.Redis.from_url(REDIS_URL).delete("celery")
    tmp = tmp_path_factory.mktemp("stack")
    worker = start_worker(tmp, STT_PROVIDER="whisper", DIARIZATION_ENABLED="true")
    api, url = start_api(tmp)
    yield worker, url
    api.stop()
    worker.stop()


def test_seed_worker_command_lists_the_task(stack):
    worker, _ = stack
    output = worker.output()
    assert "[tasks]" in output and f". {TASK}" in output
    assert "concurrency: 2 (thread)" in output


def test_upload_progress_and_accurate_transcript(stack):
    worker, url = stack
    _, key = make_user()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        sid = client.post("/api/v1/sessions", json={"title": "E2E", "language": "en-US"}).json()["id"]
        with CONVERSATION.open("rb") as handle:
            queued = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("talk.mp3", handle)})
        assert queued.status_code == 202, queued.text
        task_id = queued.json()["task_id"]
        samples, states, messages = [], set(), set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = client.get(f"/api/v1/sessions/{sid}/status").json()
            samples.append(status["progress"])
            states.add(status["task_state"])
            messages.add(status["message"])
            if status["status"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        assert status["status"] == "completed", status
        assert samples == sorted(samples), samples
        # Decoding and saving last a few ms, so a 50 ms poll may miss them; speech-to-text lasts
        # long enough that its own progress (between 5 and 90) must be seen. Every step is
        # recorded in test_task_states_seen_through_the_result_backend.
        intermediate = {p for p in samples if 0 < p < 100}
        assert len(intermediate) >= 2, samples
        assert any(5 < p < 90 for p in intermediate), samples
        assert "PROGRESS" in states
        assert client.get(f"/api/v1/sessions/{sid}/status").json()["task_state"] == "SUCCESS"
        transcript = client.get(f"/api/v1/sessions/{sid}/transcript").json()
    hypothesis = " ".join(s["content"] for s in transcript["segments"])
    assert word_error_rate(reference_text(), hypothesis) <= 0.10, hypothesis
    assert all(s["words"] for s in transcript["segments"])
    # The worker separated the two voices and named the coach (asks the questions, opens).
    assert {s["speaker_id"] for s in transcript["segments"]} == {1, 2}
    assert transcript["speaker_roles"]["1"]["role"] == "coach"
    assert transcript["speaker_roles"]["2"]["role"] == "client"
    assert "Separating speakers" in messages
    output = worker.output()
    assert f"Starting transcription for session {sid} (task {task_id}," in output
    assert f"Transcription completed for session {sid} (task {task_id}," in output


def test_delay_from_python_as_in_the_seed(stack):
    from coaching_assistant.tasks.transcription_tasks import transcribe_audio

    sid, path = stored_session(CONVERSATION.read_bytes(), "c.mp3")
    result = transcribe_audio.delay(sid, path, "en-US", original_filename="c.mp3")
    outcome = result.get(timeout=120)
    assert outcome["status"] == "completed" and outcome["segments_count"] > 5
    assert result.state == "SUCCESS"


def test_task_states_seen_through_the_result_backend(stack):
    """Every state the worker stores is published on the result key's channel: record them all."""
    import json

    import redis

    from coaching_assistant.tasks.transcription_tasks import transcribe_audio
    from tests.conftest import REDIS_URL

    sid, path = stored_session(CONVERSATION.read_bytes(), "c.mp3")
    task_id = str(uuid.uuid4())
    pubsub = redis.Redis.from_url(REDIS_URL).pubsub()
    pubsub.subscribe(f"celery-task-meta-{task_id}")
    transcribe_audio.apply_async(args=[sid, path, "en-US"], task_id=task_id)
    states, progress = [], []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not states or states[-1] not in ("SUCCESS", "FAILURE")):
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        if message:
            meta = json.loads(message["data"])
            states.append(meta["status"])
            if meta["status"] == "PROGRESS":
                progress.append(meta["result"]["progress"])
    pubsub.close()
    assert states[0] == "STARTED" and states[-1] == "SUCCESS", states
    assert set(states[1:-1]) == {"PROGRESS"}
    assert progress == sorted(progress) and len(set(progress)) >= 4 and progress[-1] == 100, progress


def test_undecodable_audio_ends_failed_with_a_code(stack):
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession
    from coaching_assistant.tasks.transcription_tasks import transcribe_audio

    sid, path = stored_session(b"not audio at all" * 100, "x.mp3")
    result = transcribe_audio.delay(sid, path, "en-US", original_filename="x.mp3")
    with pytest.raises(Exception, match="decoded"):
        result.get(timeout=60)
    assert result.state == "FAILURE"
    with new_session() as db:
        session = db.get(CoachingSession, uuid.UUID(sid))
        assert session.status == "failed" and session.error_code == "undecodable_audio"

