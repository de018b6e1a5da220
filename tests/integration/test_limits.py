"""Quotas and limits answer with a code (and Retry-After where waiting helps), and nothing is
stored or queued by a refused request (issue 16, items 3, 7 and 10)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout

from coaching_assistant.core.config import Settings, get_settings
from tests.helpers import wav_bytes
from tests.integration.test_upload import new_session, stored_files


@pytest.fixture
def limits(app):
    def apply(**values: object) -> None:
        app.dependency_overrides[get_settings] = lambda: Settings(**values)
    yield apply
    app.dependency_overrides.clear()


def multipart(boundary: str, *parts: tuple[str, str | None, bytes]) -> bytes:
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def test_every_form_part_counts_toward_the_upload_limit(client, user_headers, limits, settings, empty_queue):
    sid = new_session(client, user_headers)
    limits(max_upload_bytes=20_000)
    before = stored_files(settings)
    body = multipart("b", ("notes", None, b"n" * 200_000), ("file", "a.wav", wav_bytes(seconds=0.2)))
    response = client.post(f"/api/v1/sessions/{sid}/audio", content=body,
                           headers={**user_headers, "Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert stored_files(settings) == before and empty_queue.llen("celery") == 0
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["status"] == "uploading"


def test_a_boundary_too_long_to_parse_is_a_json_400(client, user_headers):
    sid = new_session(client, user_headers)
    boundary = "b" * 300
    response = client.post(f"/api/v1/sessions/{sid}/audio", content=multipart(boundary, ("file", "a.wav", b"x")),
                           headers={**user_headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 400 and response.json()["code"] == "malformed_multipart"
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["status"] == "uploading"


def test_sessions_per_hour(client, user_headers, other_headers, limits):
    limits(max_sessions_per_hour=3)
    for _ in range(3):
        assert client.post("/api/v1/sessions", json={"title": "t"}, headers=user_headers).status_code == 201
    refused = client.post("/api/v1/sessions", json={"title": "t"}, headers=user_headers)
    assert refused.status_code == 429 and refused.json()["code"] == "session_rate_limited"
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600
    assert client.get("/api/v1/sessions", headers=user_headers).json()["total"] == 3
    assert client.post("/api/v1/sessions", json={"title": "t"}, headers=other_headers).status_code == 201
    # Deleting sessions gives no allowance back (create-then-delete loops stay bounded).
    for session in client.get("/api/v1/sessions", headers=user_headers).json()["items"]:
        assert client.delete(f"/api/v1/sessions/{session['id']}", headers=user_headers).status_code == 204
    again = client.post("/api/v1/sessions", json={"title": "t"}, headers=user_headers)
    assert again.status_code == 429 and again.json()["code"] == "session_rate_limited"


def test_stored_audio_quota(client, user_headers, limits, settings, empty_queue):
    audio = wav_bytes(seconds=1)
    limits(max_stored_bytes_per_user=int(len(audio) * 1.5))
    first, second = new_session(client, user_headers), new_session(client, user_headers)
    assert client.post(f"/api/v1/sessions/{first}/audio", files={"file": ("a.wav", audio)},
                       headers=user_headers).status_code == 202
    before = stored_files(settings)
    refused = client.post(f"/api/v1/sessions/{second}/audio", files={"file": ("a.wav", audio)}, headers=user_headers)
    assert refused.status_code == 409 and refused.json()["code"] == "storage_quota_exceeded"
    assert stored_files(settings) == before and empty_queue.llen("celery") == 1
    assert client.get(f"/api/v1/sessions/{second}", headers=user_headers).json()["status"] == "uploading"
    # Deleting a session frees its share.
    assert client.delete(f"/api/v1/sessions/{first}", headers=user_headers).status_code == 204
    assert client.post(f"/api/v1/sessions/{second}/audio", files={"file": ("a.wav", audio)},
                       headers=user_headers).status_code == 202


@pytest.mark.parametrize(("error", "status", "code"), [
    (RuntimeError("a bug"), 500, "internal_error"),
    (PoolTimeout("QueuePool limit of size 5 overflow 30 reached"), 503, "database_busy"),
])
def test_unexpected_and_load_errors_are_json(app, user_headers, monkeypatch, error, status, code):
    from coaching_assistant.services import sessions

    def broken(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(sessions, "list_sessions", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/sessions", headers=user_headers)
    assert response.status_code == status and response.json()["code"] == code
    assert response.json()["message"]
    if status == 503:
        assert response.headers["Retry-After"] == "2"


def test_cancel_retry_loops_end(client, user_headers, limits, empty_queue, db, monkeypatch):
    """Each retry queues a message; MAX_RETRIES_PER_SESSION bounds them. A retry the broker
    refused costs nothing."""
    from kombu.exceptions import OperationalError

    from coaching_assistant.api.routers import sessions as routes
    from coaching_assistant.models import CoachingSession

    limits(max_retries_per_session=3)
    sid = new_session(client, user_headers)
    assert client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("a.wav", wav_bytes())},
                       headers=user_headers).status_code == 202
    for _ in range(3):
        assert client.post(f"/api/v1/sessions/{sid}/cancel", headers=user_headers).status_code == 200
        assert client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers).status_code == 202
    assert client.post(f"/api/v1/sessions/{sid}/cancel", headers=user_headers).status_code == 200
    refused = client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers)
    assert refused.status_code == 409 and refused.json()["code"] == "retry_limit_reached"
    assert empty_queue.llen("celery") == 4  # the upload and three retries
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["status"] == "cancelled"

    limits(max_retries_per_session=4)

    def broker_down(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(routes, "enqueue_transcription", broker_down)
    failed = client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers)
    assert failed.status_code == 503 and failed.json()["code"] == "broker_unavailable"
    row = db.get(CoachingSession, uuid.UUID(sid))
    assert row is not None and row.status == "cancelled" and row.retry_count == 3
