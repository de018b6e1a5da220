"""GET /api/v1/sessions/{id}/audio: the stored audio back, whole or one byte range, to its owner only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import CONVERSATION, wav_bytes
from tests.integration.test_pipeline import uploaded_session

AUDIO = CONVERSATION.read_bytes()
SIZE = len(AUDIO)


@pytest.fixture
def uploaded(client, user_headers, empty_queue):
    sid, _uri, _task = uploaded_session(client, user_headers)
    return f"/api/v1/sessions/{sid}/audio"


def test_the_whole_file_is_the_upload(client, user_headers, uploaded):
    response = client.get(uploaded, headers=user_headers)
    assert response.status_code == 200
    assert response.content == AUDIO
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(SIZE)
    assert "content-encoding" not in response.headers  # audio is never gzipped (api/main.py)
    assert "content-range" not in response.headers


@pytest.mark.parametrize("range_header, first, last", [
    ("bytes=100-199", 100, 199),
    ("bytes=1000-", 1000, SIZE - 1),
    ("bytes=-500", SIZE - 500, SIZE - 1),
    ("bytes=0-0", 0, 0),
    (f"bytes={SIZE - 10}-{SIZE + 1000}", SIZE - 10, SIZE - 1),  # an end past the file is clipped
    (f"bytes=-{SIZE + 1000}", 0, SIZE - 1),  # more than the file: all of it, still partial
])
def test_one_range_answers_206_with_exactly_those_bytes(client, user_headers, uploaded, range_header, first, last):
    response = client.get(uploaded, headers={**user_headers, "Range": range_header})
    assert response.status_code == 206, response.text
    assert response.content == AUDIO[first:last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("range_header", [
    f"bytes={SIZE}-",  # starts just past the end
    f"bytes={SIZE + 5}-{SIZE + 10}",
    "bytes=-0",  # the last zero bytes
    "bytes=abc",  # malformed
    "bytes=-",
    "bytes=20-10",  # ends before it starts
    "items=0-10",  # not bytes
    "0-10",
])
def test_a_range_outside_the_file_or_unreadable_is_416_with_the_size(client, user_headers, uploaded,
                                                                      range_header):
    response = client.get(uploaded, headers={**user_headers, "Range": range_header})
    assert response.status_code == 416, response.text
    assert response.headers["content-range"] == f"bytes */{SIZE}"
    assert response.json()["code"] == "range_not_satisfiable"
    assert response.json()["message"]


def test_several_ranges_get_the_whole_file(client, user_headers, uploaded):
    response = client.get(uploaded, headers={**user_headers, "Range": "bytes=0-9, 100-199"})
    assert response.status_code == 200
    assert response.content == AUDIO


def test_the_media_type_follows_the_stored_format(client, user_headers, empty_queue):
    content = wav_bytes()
    sid, _uri, _task = uploaded_session(client, user_headers, name="take.WAV", content=content)
    response = client.get(f"/api/v1/sessions/{sid}/audio", headers=user_headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.content == content


def test_another_users_session_is_not_found(client, other_headers, uploaded):
    response = client.get(uploaded, headers=other_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "session_not_found"
    ranged = client.get(uploaded, headers={**other_headers, "Range": "bytes=0-10"})
    assert ranged.status_code == 404  # no size of another user's file either
    assert "content-range" not in ranged.headers


def test_no_key_is_401(client, uploaded):
    response = client.get(uploaded)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_session_without_audio_yet_is_404_audio_not_found(client, user_headers):
    sid = client.post("/api/v1/sessions", json={"title": "t", "language": "en-US"}, headers=user_headers).json()["id"]
    response = client.get(f"/api/v1/sessions/{sid}/audio", headers=user_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "audio_not_found"
    assert "uploaded" in response.json()["message"]


def test_audio_deleted_by_retention_is_404_audio_not_found(client, user_headers, empty_queue):
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    sid, uri, _task = uploaded_session(client, user_headers)
    Path(uri).unlink()
    with new_session() as db:  # what the sweeper's retention leaves behind
        row = db.get(CoachingSession, uuid.UUID(sid))
        row.audio_uri, row.audio_deleted_at = None, datetime.now(UTC)
        db.commit()
    response = client.get(f"/api/v1/sessions/{sid}/audio", headers=user_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "audio_not_found"
    assert "deleted" in response.json()["message"]


def test_audio_gone_from_disk_is_404_audio_not_found(client, user_headers, empty_queue):
    sid, uri, _task = uploaded_session(client, user_headers)
    Path(uri).unlink()
    response = client.get(f"/api/v1/sessions/{sid}/audio", headers={**user_headers, "Range": "bytes=0-1"})
    assert response.status_code == 404
    assert response.json()["code"] == "audio_not_found"


def test_audio_in_a_bucket_is_refused_with_its_own_code(client, user_headers, empty_queue):
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    sid, _uri, _task = uploaded_session(client, user_headers)
    with new_session() as db:
        db.get(CoachingSession, uuid.UUID(sid)).audio_uri = "gs://coach-audio/sessions/a.mp3"
        db.commit()
    response = client.get(f"/api/v1/sessions/{sid}/audio", headers=user_headers)
    assert response.status_code == 501
    assert response.json()["code"] == "audio_in_bucket"
