"""Uploading audio: validation before anything is stored, then commit, then enqueue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coaching_assistant.core.config import Settings, get_settings
from tests.helpers import CONVERSATION, wav_bytes


def new_session(client, headers):
    response = client.post("/api/v1/sessions", json={"title": "t", "language": "en-US"}, headers=headers)
    return response.json()["id"]


def stored_files(settings) -> list:
    if not settings.audio_dir.exists():
        return []
    return [p for p in settings.audio_dir.rglob("*") if p.is_file()]


def test_upload_commits_then_queues_the_task(client, user_headers, empty_queue, settings):
    sid = new_session(client, user_headers)
    with CONVERSATION.open("rb") as handle:
        response = client.post(f"/api/v1/sessions/{sid}/audio",
                               files={"file": ("../../etc/My Session.mp3", handle, "audio/mpeg")},
                               headers=user_headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending" and body["session_id"] == sid
    # one message on the seed's queue, for the seed's task name, carrying the stored path
    assert empty_queue.llen("celery") == 1
    message = json.loads(empty_queue.lindex("celery", 0))
    assert message["headers"]["task"] == "coaching_assistant.tasks.transcription_tasks.transcribe_audio"
    assert message["headers"]["id"] == body["task_id"]
    args, kwargs, _ = json.loads(__import__("base64").b64decode(message["body"]))
    assert args[0] == sid and args[2] == "en-US"
    assert kwargs == {"original_filename": "My Session.mp3"}
    stored = args[1]
    assert stored.startswith(str(settings.audio_dir)) and ".." not in stored and "My Session" not in stored
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert session["status"] == "pending"
    assert session["audio_filename"] == "My Session.mp3"
    assert session["duration_seconds"] == pytest.approx(46.4, abs=0.2)
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert status["task_state"] == "PENDING" and status["status"] == "pending"


@pytest.mark.parametrize("name, content, status, code", [
    ("notes.txt", b"hello", 415, "unsupported_format"),
    ("audio", wav_bytes(), 415, "unsupported_format"),
    ("fake.mp3", b"This is a text file, not audio.\n" * 50, 422, "undecodable_audio"),
    ("empty.wav", b"", 400, "empty_file"),
    ("wav-named.mp3", wav_bytes(), 422, "undecodable_audio"),
    ("truncated.mp3", CONVERSATION.read_bytes()[:300], 422, "undecodable_audio"),
])
def test_bad_files_are_refused_and_nothing_is_kept(client, user_headers, empty_queue, settings,
                                                   name, content, status, code):
    from tests.integration.test_pipeline import uploaded_session

    bystander, bystander_audio, _ = uploaded_session(client, user_headers)
    empty_queue.delete("celery")
    sid = new_session(client, user_headers)
    before = stored_files(settings)
    response = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": (name, content)},
                           headers=user_headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert stored_files(settings) == before
    assert empty_queue.llen("celery") == 0
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["status"] == "uploading"
    # another session of the same user is untouched
    assert client.get(f"/api/v1/sessions/{bystander}", headers=user_headers).json()["status"] == "pending"
    assert Path(bystander_audio).is_file()


def test_size_limit_counts_received_bytes(app, client, user_headers, empty_queue, settings):
    sid = new_session(client, user_headers)
    app.dependency_overrides[get_settings] = lambda: Settings(max_upload_bytes=10_000)
    try:
        before = stored_files(settings)
        response = client.post(f"/api/v1/sessions/{sid}/audio",
                               files={"file": ("big.wav", wav_bytes(seconds=2))}, headers=user_headers)
        assert response.status_code == 413
        assert response.json()["code"] == "file_too_large"
        # a body that lies about its size is counted, not believed
        boundary = "xyz"
        payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                   f"Content-Type: audio/wav\r\n\r\n").encode() + wav_bytes(seconds=2) + \
            f"\r\n--{boundary}--\r\n".encode()

        def body():
            yield payload

        lying = client.post(f"/api/v1/sessions/{sid}/audio", content=body(), headers={
            **user_headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert lying.status_code == 413
        assert stored_files(settings) == before
    finally:
        app.dependency_overrides.clear()
    assert empty_queue.llen("celery") == 0


def test_missing_file_field_and_wrong_content_type(client, user_headers):
    sid = new_session(client, user_headers)
    no_file = client.post(f"/api/v1/sessions/{sid}/audio", files={"other": ("a.wav", wav_bytes())},
                          headers=user_headers)
    assert no_file.status_code == 422 and no_file.json()["code"] == "missing_file"
    raw = client.post(f"/api/v1/sessions/{sid}/audio", content=wav_bytes(),
                      headers={**user_headers, "Content-Type": "audio/wav"})
    assert raw.status_code == 415 and raw.json()["code"] == "multipart_required"


def test_second_upload_is_a_conflict(client, user_headers, empty_queue):
    sid = new_session(client, user_headers)
    first = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("a.wav", wav_bytes())},
                        headers=user_headers)
    assert first.status_code == 202
    second = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("a.wav", wav_bytes())},
                         headers=user_headers)
    assert second.status_code == 409 and second.json()["code"] == "invalid_session_status"
    assert empty_queue.llen("celery") == 1


def test_broker_down_means_503_and_nothing_half_stored(client, user_headers, settings, monkeypatch):
    from kombu.exceptions import OperationalError

    from coaching_assistant.api.routers import sessions as routes

    def broker_down(*_args, **_kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(routes, "enqueue_transcription", broker_down)
    sid = new_session(client, user_headers)
    before = stored_files(settings)
    response = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("a.wav", wav_bytes())},
                           headers=user_headers)
    assert response.status_code == 503
    assert response.json()["code"] == "broker_unavailable"
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert session["status"] == "uploading" and session["audio_filename"] is None
    assert stored_files(settings) == before


def test_concurrent_uploads_cannot_both_win(client, user_headers, empty_queue, settings, db):
    """Compare-and-set on `uploading`: a request that read the session before another upload
    committed gets 409 and leaves nothing behind."""
    import uuid as uuid_module

    from coaching_assistant.core.errors import CoachingError
    from coaching_assistant.models import User
    from coaching_assistant.services import sessions as service
    from coaching_assistant.services.storage import incoming_dir

    sid = new_session(client, user_headers)
    session = db.get(service.CoachingSession, uuid_module.UUID(sid))  # db now holds it as 'uploading'
    user = db.get(User, session.user_id)
    assert client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("a.wav", wav_bytes())},
                       headers=user_headers).status_code == 202
    before = stored_files(settings)
    temp = incoming_dir(settings) / "late.part"
    temp.write_bytes(wav_bytes())
    received = service.ReceivedFile(temp_path=temp, filename="b.wav", size=temp.stat().st_size)
    with pytest.raises(CoachingError) as raised:
        service.attach_audio(db, settings=settings, user=user, session_id=session.id, received=received,
                             enqueue=lambda *args: None)
    assert raised.value.status_code == 409
    assert stored_files(settings) == before and not temp.exists()
    assert empty_queue.llen("celery") == 1


def test_text_fields_beside_the_file_are_capped(client, user_headers, empty_queue, settings):
    """The form's other parts are kept as text (the OpenAI form's options), so they have a cap of
    their own: 64 KiB in all, past which nothing is stored."""
    from coaching_assistant.api.upload import FORM_OVERHEAD_BYTES

    sid = new_session(client, user_headers)
    before = stored_files(settings)
    response = client.post(f"/api/v1/sessions/{sid}/audio", headers=user_headers,
                           data={"a": "x" * (FORM_OVERHEAD_BYTES // 2), "b": "y" * (FORM_OVERHEAD_BYTES // 2 + 1)},
                           files={"file": ("tone.wav", wav_bytes())})
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"
    assert stored_files(settings) == before and empty_queue.llen("celery") == 0
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["status"] == "uploading"
