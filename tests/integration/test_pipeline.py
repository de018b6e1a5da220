"""The pipeline service against the real database, with the fast fake engine (no Celery)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from coaching_assistant.core.errors import PermanentError
from coaching_assistant.models import TranscriptSegment
from coaching_assistant.services import transcription
from tests.helpers import CONVERSATION, wav_bytes


def uploaded_session(client, headers, name="c.mp3", content=None):
    sid = client.post("/api/v1/sessions", json={"title": "t", "language": "en-US"},
                      headers=headers).json()["id"]
    content = content if content is not None else CONVERSATION.read_bytes()
    response = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": (name, content)}, headers=headers)
    assert response.status_code == 202, response.text
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:
        row = db.get(CoachingSession, uuid.UUID(sid))
        return sid, row.audio_uri, row.transcription_job_id


def run(settings, sid, uri, task_id, published=None):
    return transcription.transcribe_session(
        settings=settings, session_id=sid, audio_uri=uri, language="en-US", task_id=task_id,
        publish=(published.append if published is not None else lambda _meta: None))


def segment_count(db, sid):
    return db.scalar(select(func.count()).select_from(TranscriptSegment)
                     .where(TranscriptSegment.session_id == uuid.UUID(sid)))


def test_pipeline_reports_rising_progress_and_saves_segments(client, user_headers, settings, db,
                                                             empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    published: list[dict] = []
    outcome = run(settings, sid, uri, task_id, published)
    assert outcome.status == "completed" and outcome.segments_count == 10
    values = [m["progress"] for m in published]
    assert values == sorted(values)
    assert len({v for v in values if 0 < v < 100}) >= 5  # real intermediate values
    assert values[-1] == 100
    assert any("Transcribing audio:" in m["message"] for m in published)
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["duration_total"] == pytest.approx(46.44, abs=0.05)
    transcript = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()
    assert len(transcript["segments"]) == 10
    first = transcript["segments"][0]
    assert first["content"] == "segment 1" and first["speaker_id"] == 1
    assert first["words"][0] == {"word": "segment", "start": 0.0, "end": 0.5, "probability": 0.99}
    text = client.get(f"/api/v1/sessions/{sid}/transcript?format=txt", headers=user_headers)
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.splitlines()[0] == "segment 1"


def test_running_twice_gives_one_transcript(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    assert run(settings, sid, uri, task_id).status == "completed"
    assert run(settings, sid, uri, task_id).status == "skipped"
    assert segment_count(db, sid) == 10


def test_a_session_owned_by_a_live_task_is_not_taken(client, user_headers, settings, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    assert transcription.claim(uuid.UUID(sid), task_id=task_id, audio_uri=uri, max_attempts=3)
    assert run(settings, sid, uri, "another-task").status == "skipped"


def test_undecodable_audio_fails_the_session_with_a_code(client, user_headers, settings, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes())
    with open(uri, "r+b") as handle:  # damage the stored file after it passed the upload probe
        handle.truncate(0)
        handle.write(b"garbage" * 10)
    with pytest.raises(PermanentError) as error:
        run(settings, sid, uri, task_id)
    assert error.value.code == "audio_decode_failed"
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert session["status"] == "failed" and session["error_code"] == "audio_decode_failed"
    assert session["error_message"]
    retry = client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers)
    assert retry.status_code == 202 and retry.json()["status"] == "pending"
    assert retry.json()["task_id"] != task_id
    assert empty_queue.llen("celery") == 2


@pytest.mark.parametrize("uri", ["/etc/passwd", "http://169.254.169.254/latest", "gs://someone-else/a.mp3"])
def test_only_our_storage_is_read(client, user_headers, settings, empty_queue, uri):
    sid, _stored, task_id = uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes())
    with pytest.raises(PermanentError) as error:
        run(settings, sid, uri, task_id)
    assert error.value.code == "audio_location_rejected"


def test_delete_removes_audio_and_transcript(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    run(settings, sid, uri, task_id)
    assert segment_count(db, sid) == 10
    response = client.delete(f"/api/v1/sessions/{sid}", headers=user_headers)
    assert response.status_code == 204
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).status_code == 404
    assert segment_count(db, sid) == 0
    assert not (settings.audio_dir / sid).exists()
