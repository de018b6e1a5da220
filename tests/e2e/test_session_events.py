"""GET …/events read by a real client (httpx streaming) from a real API process, while a real
worker process transcribes (the fake engine, slowed down so that a run has a middle)."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from tests.conftest import BIN, ROOT, base_env, make_user
from tests.e2e.conftest import start_api, start_worker
from tests.helpers import wav_bytes

pytestmark = pytest.mark.e2e

FINAL = ("completed", "failed", "cancelled")
STREAMS_PER_USER = 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    import redis

    from tests.conftest import REDIS_URL

    redis.Redis.from_url(REDIS_URL).delete("celery")
    tmp = tmp_path_factory.mktemp("events")
    # 4 chunks of 5 s, 0.7 s each: a run of about 3 s with a progress step every 0.7 s
    worker = start_worker(tmp, FAKE_STT_SECONDS_PER_CHUNK="0.7")
    api, url = start_api(tmp, USER_MAX_EVENT_STREAMS=str(STREAMS_PER_USER))
    yield url, api
    api.stop()
    worker.stop()


@pytest.fixture
def client(stack) -> Iterator[httpx.Client]:
    url, _ = stack
    _, key = make_user()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        yield client


def new_session(client: httpx.Client, language: str = "en-US") -> str:
    return client.post("/api/v1/sessions", json={"title": "events", "language": language}).json()["id"]


def upload(client: httpx.Client, sid: str, seconds: float = 20) -> None:
    queued = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("talk.wav", wav_bytes(seconds))})
    assert queued.status_code == 202, queued.text


def failed_session(client: httpx.Client) -> str:
    """A session of the client's user that ended failed: queued without a message in the broker
    (so no worker takes it), then given up on, as a task out of retries does."""
    from coaching_assistant.core.database import session_scope
    from coaching_assistant.core.errors import ErrorCode
    from coaching_assistant.models import CoachingSession
    from coaching_assistant.services import session_state

    sid = new_session(client)
    with session_scope() as db:
        assert session_state.queue_upload(db, uuid.UUID(sid), audio_uri="/nowhere/talk.wav", audio_filename="talk.wav",
                                          audio_size_bytes=1, duration_seconds=5.0)
    with session_scope() as db:
        task_id = db.get(CoachingSession, uuid.UUID(sid)).transcription_job_id
        assert session_state.give_up(db, uuid.UUID(sid), task_id=task_id, code=ErrorCode.AUDIO_MISSING,
                                     message="The audio file is gone.")
    return sid


def status_events(client: httpx.Client, sid: str, *, last_event_id: str | None = None,
                  stop_when=lambda event: False) -> tuple[list[ServerSentEvent], list[ServerSentEvent]]:
    """(every event, the status events) of one connection, read to its end or until `stop_when`."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    everything: list[ServerSentEvent] = []
    with connect_sse(client, "GET", f"/api/v1/sessions/{sid}/events", headers=headers) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for event in source.iter_sse():
            everything.append(event)
            if event.event == "status" and stop_when(event):
                break
    return everything, [event for event in everything if event.event == "status"]


def wait_until(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_transcription_streams_in_order_with_rising_progress_and_the_stream_ends(client):
    sid = new_session(client)
    upload(client, sid)
    started = time.monotonic()
    everything, events = status_events(client, sid)
    assert time.monotonic() - started < 30
    assert everything[0].retry == 3000  # the reconnection hint comes first
    statuses = [event.json() for event in events]
    assert statuses[-1]["status"] == "completed" and statuses[-1]["progress"] == 100
    assert all(status["status"] in ("pending", "processing") for status in statuses[:-1])
    assert all(status["session_id"] == sid for status in statuses)
    progress = [status["progress"] for status in statuses]
    assert progress == sorted(progress)
    assert len({p for p in progress if 0 < p < 100}) >= 3, progress  # live, not just start and end
    ids = [event.id for event in events]
    assert len(set(ids)) == len(ids) and all(ids)
    # the same fields as GET …/status
    assert set(statuses[-1]) == set(client.get(f"/api/v1/sessions/{sid}/status").json())


def test_reconnecting_with_last_event_id_repeats_nothing_and_reaches_the_end(client):
    sid = new_session(client)
    upload(client, sid)
    # stop just after a chunk: the next step is a chunk's time (0.7 s) away
    _, first = status_events(client, sid, stop_when=lambda event: "Transcribing audio: 5 of" in event.json()["message"])
    assert first[-1].json()["status"] == "processing"
    seen = {event.id for event in first}
    # at once, while the worker is still between two steps: nothing new yet, so nothing is sent
    _, rest = status_events(client, sid, last_event_id=first[-1].id)
    assert rest, "the final state was not sent"
    assert not seen & {event.id for event in rest}
    assert rest[0].json()["progress"] >= first[-1].json()["progress"]
    assert rest[-1].json()["status"] == "completed"


def test_a_finished_session_sends_its_final_state_once_then_nothing(client):
    done = new_session(client)
    upload(client, done, seconds=5)
    cancelled = new_session(client)
    upload(client, cancelled, seconds=5)
    assert client.post(f"/api/v1/sessions/{cancelled}/cancel").status_code == 200
    failed = failed_session(client)
    wait_until(lambda: client.get(f"/api/v1/sessions/{done}/status").json()["status"] in FINAL)
    _, events = status_events(client, done)
    assert [event.json()["status"] for event in events] == ["completed"]
    _, events = status_events(client, cancelled)
    assert [event.json()["status"] for event in events] == ["cancelled"]
    _, events = status_events(client, failed)
    assert [(e.json()["status"], e.json()["error_code"]) for e in events] == [("failed", "audio_missing")]
    # a client that saw the final state and reconnects is told to stop (204), not sent it again
    again = client.get(f"/api/v1/sessions/{failed}/events", headers={"Last-Event-ID": events[0].id})
    assert again.status_code == 204 and again.content == b""
    # an id from before the end: the final state, once
    _, events = status_events(client, failed, last_event_id="processing.40.000000000000")
    assert [event.json()["status"] for event in events] == ["failed"]


def test_another_users_session_is_not_found(client, stack):
    url, _ = stack
    sid = new_session(client)
    _, other_key = make_user()
    answer = httpx.get(f"{url}/api/v1/sessions/{sid}/events", headers={"Authorization": f"Bearer {other_key}"})
    assert answer.status_code == 404 and answer.json()["code"] == "session_not_found"
    assert httpx.get(f"{url}/api/v1/sessions/{sid}/events").status_code == 401


def test_streams_per_user_are_limited_and_a_dropped_client_frees_its_slot(client, stack):
    url, _ = stack
    sid = new_session(client)  # stays uploading: its streams stay open
    path = f"/api/v1/sessions/{sid}/events"
    opened = [client.stream("GET", path) for _ in range(STREAMS_PER_USER)]
    responses = [stream.__enter__() for stream in opened]
    try:
        assert [response.status_code for response in responses] == [200] * STREAMS_PER_USER
        refused = client.get(path)
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_event_streams"
        assert int(refused.headers["Retry-After"]) >= 1
        # other users and the user's other requests are not held up
        assert client.get(f"/api/v1/sessions/{sid}/status").status_code == 200
        _, other_key = make_user()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {other_key}"}) as other:
            with other.stream("GET", f"/api/v1/sessions/{new_session(other)}/events") as response:
                assert response.status_code == 200

        opened.pop().__exit__(None, None, None)  # the client goes away: the connection closes
        dropped = time.monotonic()
        wait_until(lambda: _opens(client, path), timeout=10)
        assert time.monotonic() - dropped < 5
    finally:
        for stream in opened:
            stream.__exit__(None, None, None)


def _opens(client: httpx.Client, path: str) -> bool:
    """Whether a stream opens now (200), closed again at once."""
    with client.stream("GET", path) as response:
        return response.status_code == 200


def test_the_server_closes_a_long_stream_and_the_client_continues(tmp_path, stack):
    _, key = make_user()
    api, url = start_api(tmp_path, EVENT_STREAM_MAX_SECONDS="1")
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            sid = new_session(client)
            started = time.monotonic()
            _, events = status_events(client, sid)
            assert 0.9 < time.monotonic() - started < 5  # closed by the server, not the end of the session
            assert [event.json()["status"] for event in events] == ["uploading"]
            _, events = status_events(client, sid, last_event_id=events[0].id)
            assert events == []  # nothing changed: nothing repeated
    finally:
        api.stop()


def test_cli_transcribe_follows_the_event_stream_across_reconnections(tmp_path, stack):
    _, key = make_user()
    # streams closed every second: the CLI reconnects with Last-Event-ID several times in one run
    api, url = start_api(tmp_path, EVENT_STREAM_MAX_SECONDS="1")
    try:
        result = subprocess.run([str(BIN / "coaching-assistant"), "transcribe", "--server", url, "--api-key", key,
                                 str(_wav_file(tmp_path))], env=base_env(), capture_output=True, text=True,
                                timeout=120)
    finally:
        api.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["Speaker 1 [00:00:00]", "segment 1"]
    assert "100%" in result.stderr
    log = api.output()
    assert log.count("/events HTTP/1.1\" 200") >= 2, log[-3000:]
    assert "/status?wait=" not in log


def _wav_file(tmp_path):
    path = tmp_path / "talk.wav"
    path.write_bytes(wav_bytes(20))
    return path


def test_the_readmes_curl_command_streams_to_the_end(client, stack):
    url, _ = stack
    command = re.search(r'^curl -N -H "Authorization: Bearer \$KEY" http://127\.0\.0\.1:8000(/api/v1/sessions/\$SID/events)$',
                        (ROOT / "README.md").read_text(), re.M)
    assert command, "the README's curl example is gone"
    sid = new_session(client)
    upload(client, sid)
    shown = subprocess.run(["bash", "-c", command.group(0).replace("http://127.0.0.1:8000", url)],
                           env={**base_env(), "KEY": client.headers["Authorization"].split()[1], "SID": sid},
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "retry: 3000" in shown.stdout and "event: status" in shown.stdout
    data = [json.loads(line.removeprefix("data: ")) for line in shown.stdout.splitlines() if line.startswith("data: ")]
    assert data[-1]["status"] == "completed" and len(data) >= 3
