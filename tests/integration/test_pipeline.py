"""The pipeline service against the real database, with the fast fake engine (no Celery)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import PermanentError
from coaching_assistant.models import TranscriptSegment
from coaching_assistant.services import session_state, transcription
from coaching_assistant.stt.fake import FakeProvider
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
    assert text.text.splitlines()[:2] == ["Speaker 1 [00:00:00]", "segment 1"]  # one speaker, no role


def test_running_twice_gives_one_transcript(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    assert run(settings, sid, uri, task_id).status == "completed"
    late = run(settings, sid, uri, task_id)  # a late copy reports the finished result, writes nothing
    assert (late.status, late.segments_count) == ("completed", 10)
    assert segment_count(db, sid) == 10


def test_a_redelivered_message_waits_for_a_live_lease(client, user_headers, settings, db, empty_queue):
    from coaching_assistant.models import CoachingSession

    sid, uri, task_id = uploaded_session(client, user_headers)
    first = transcription.claim(uuid.UUID(sid), task_id=task_id, audio_uri=uri, settings=settings)
    assert isinstance(first, session_state.Claim) and first.attempt == 1
    # the same message again (say, after a worker crash): the holder's lease is still live
    again = run(settings, sid, uri, task_id)
    assert again.status == "busy" and 0 < again.retry_after <= settings.session_lease_seconds
    # once the lease has run out, the session can be taken over, and the attempt is counted
    db.execute(update(CoachingSession).where(CoachingSession.id == uuid.UUID(sid))
               .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()
    assert run(settings, sid, uri, task_id).status == "completed"
    db.expire_all()
    session = db.get(CoachingSession, uuid.UUID(sid))
    assert session.attempts == 2 and session.status == "completed" and session.lease_owner is None
    # the first holder, if it was only slow, can no longer write anything
    assert not transcription.save(uuid.UUID(sid), token=first.token, segments=[], duration=1.0)
    assert segment_count(db, sid) == 10


def test_two_copies_running_at_once_give_one_transcript(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    slow = FakeProvider(Settings(fake_stt_seconds_per_chunk=0.05))
    outcomes: list[str] = []

    def copy():
        outcomes.append(transcription.transcribe_session(
            settings=settings, session_id=sid, audio_uri=uri, language="en-US", task_id=task_id,
            publish=lambda _m: None, provider=slow).status)

    threads = [threading.Thread(target=copy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["busy", "completed"]
    assert segment_count(db, sid) == 10


def test_a_run_that_lost_its_lease_writes_nothing(client, user_headers, settings, db, empty_queue):
    from coaching_assistant.models import CoachingSession

    sid, uri, task_id = uploaded_session(client, user_headers)
    fast_lease = settings.model_copy(update={"session_lease_seconds": 0.4})
    slow = FakeProvider(Settings(fake_stt_seconds_per_chunk=0.1))
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(transcription.transcribe_session(
        settings=fast_lease, session_id=sid, audio_uri=uri, language="en-US", task_id=task_id,
        publish=lambda _m: None, provider=slow).status))
    thread.start()
    time.sleep(0.3)
    db.execute(update(CoachingSession).where(CoachingSession.id == uuid.UUID(sid))
               .values(lease_owner="someone-else"))  # another run took over
    db.commit()
    thread.join()
    assert result == ["discarded"]
    assert segment_count(db, sid) == 0
    db.expire_all()
    assert db.get(CoachingSession, uuid.UUID(sid)).status == "processing"


def test_undecodable_audio_fails_the_session_with_a_code(client, user_headers, settings, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes())
    with open(uri, "r+b") as handle:  # damage the stored file after it passed the upload probe
        handle.truncate(0)
        handle.write(b"garbage" * 10)
    with pytest.raises(PermanentError) as error:
        run(settings, sid, uri, task_id)
    assert error.value.code == "undecodable_audio"
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert session["status"] == "failed" and session["error_code"] == "undecodable_audio"
    assert session["error_message"]
    retry = client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers)
    assert retry.status_code == 202 and retry.json()["status"] == "pending"
    assert retry.json()["task_id"] != task_id
    assert empty_queue.llen("celery") == 2


@pytest.mark.parametrize("uri", ["/etc/passwd", "http://169.254.169.254/latest", "gs://someone-else/a.mp3",
                                 "file:///etc/passwd"])
def test_only_our_storage_is_read(client, user_headers, settings, db, empty_queue, uri):
    from coaching_assistant.models import CoachingSession

    sid, stored, task_id = uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes())
    with pytest.raises(PermanentError) as error:
        run(settings, sid, uri, task_id)
    assert error.value.code == "audio_location_rejected"
    session = db.get(CoachingSession, uuid.UUID(sid))
    assert session.audio_uri == stored and session.status == "pending" and session.attempts == 0


def test_the_stored_location_wins_over_the_message(client, user_headers, settings, db, empty_queue):
    sid, stored, task_id = uploaded_session(client, user_headers)
    decoy = settings.audio_dir / "decoy.wav"
    decoy.write_bytes(wav_bytes())
    try:
        assert run(settings, sid, str(decoy), task_id).segments_count == 10  # the stored 46 s file
    finally:
        decoy.unlink()


def test_exhausted_attempts_end_failed_not_pending(client, user_headers, settings, db, empty_queue):
    from coaching_assistant.models import CoachingSession

    sid, uri, task_id = uploaded_session(client, user_headers)
    db.execute(update(CoachingSession).where(CoachingSession.id == uuid.UUID(sid))
               .values(attempts=settings.task_max_attempts))
    db.commit()
    assert run(settings, sid, uri, task_id).status == "skipped"
    db.expire_all()
    session = db.get(CoachingSession, uuid.UUID(sid))
    assert session.status == "failed" and session.error_code == "retries_exhausted"


def test_delete_removes_audio_and_transcript(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = uploaded_session(client, user_headers)
    run(settings, sid, uri, task_id)
    assert segment_count(db, sid) == 10
    response = client.delete(f"/api/v1/sessions/{sid}", headers=user_headers)
    assert response.status_code == 204
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).status_code == 404
    assert segment_count(db, sid) == 0
    assert not (settings.audio_dir / sid).exists()


def test_a_run_past_its_time_limit_fails_with_a_code(client, user_headers, settings, empty_queue):
    """The threads pool ignores Celery's time limits; the pipeline enforces its own deadline."""
    sid, uri, task_id = uploaded_session(client, user_headers)
    # hard limit must stay above the soft one
    short = settings.model_copy(update={"task_soft_time_limit_seconds": 0.3})
    with pytest.raises(PermanentError) as raised:
        transcription.transcribe_session(settings=short, session_id=sid, audio_uri=uri, language="en-US",
                                         task_id=task_id, publish=lambda _m: None,
                                         provider=FakeProvider(Settings(fake_stt_seconds_per_chunk=0.1)))
    assert raised.value.code == "time_limit_exceeded"
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert session["status"] == "failed" and session["error_code"] == "time_limit_exceeded"


def test_a_run_the_heartbeat_fails_at_its_deadline_mid_write_fails_with_a_code(
        client, user_headers, settings, empty_queue, monkeypatch):
    """The heartbeat can fail the session between a progress step's deadline check and its write:
    the run still ends with the time-limit error, not as a run that was taken over."""
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    sid, uri, task_id = uploaded_session(client, user_headers)
    write_progress = session_state.write_progress

    def write_after_the_heartbeat_failed_it(db, session_id, **values):
        for _ in range(200):
            with new_session() as other:
                if other.get(CoachingSession, session_id).status == "failed":
                    break
            time.sleep(0.05)
        return write_progress(db, session_id, **values)

    monkeypatch.setattr(session_state, "write_progress", write_after_the_heartbeat_failed_it)
    short = settings.model_copy(update={"task_soft_time_limit_seconds": 0.3})
    with pytest.raises(PermanentError) as raised:
        run(short, sid, uri, task_id)
    assert raised.value.code == "time_limit_exceeded"
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert session["status"] == "failed" and session["error_code"] == "time_limit_exceeded"


def test_a_stored_location_no_longer_accepted_fails_the_session(client, user_headers, settings, db,
                                                                 empty_queue, tmp_path):
    """Storage settings changed under a queued session: it fails with a code instead of being
    queued again by the sweeper forever."""
    from coaching_assistant.models import CoachingSession

    sid, stored, task_id = uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes())
    moved = Settings(**{**settings.model_dump(), "storage_dir": tmp_path / "elsewhere"})
    with pytest.raises(PermanentError) as error:
        run(moved, sid, stored, task_id)
    assert error.value.code == "audio_location_rejected"
    db.expire_all()
    session = db.get(CoachingSession, uuid.UUID(sid))
    assert session.status == "failed" and session.error_code == "audio_location_rejected"


class OvershootingProvider(FakeProvider):
    """Reports progress a little past the end of the audio, as an engine whose last word is
    timed after the audio ends could."""

    def transcribe(self, audio, *, language, on_progress, hints=None):
        return super().transcribe(audio, language=language, on_progress=lambda seconds: on_progress(seconds + 0.3))


def test_progress_never_reports_more_audio_processed_than_there_is(client, user_headers, settings, empty_queue):
    # 16001 samples: a decoded length that is not a whole number of milliseconds
    sid, uri, task_id = uploaded_session(client, user_headers, name="odd.wav",
                                         content=wav_bytes(seconds=16001 / 16000))
    published: list[dict] = []
    seen: list[dict] = []

    def publish(meta: dict) -> None:  # the row is written before each publish: read it as a client would
        published.append(meta)
        seen.append(client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json())

    outcome = transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language="en-US",
                                               task_id=task_id, publish=publish,
                                               provider=OvershootingProvider(Settings()))
    assert outcome.status == "completed"
    seen.append(client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json())
    reports = [report for report in published + seen if report["duration_processed"] is not None]
    assert len(reports) >= 4
    assert all(report["duration_processed"] <= report["duration_total"] for report in reports), reports
    assert seen[-1]["duration_processed"] == seen[-1]["duration_total"] == pytest.approx(1.0, abs=0.001)


@pytest.mark.parametrize("language, model, expected", [
    ("en-US", None, "tiny.en"), ("zh-TW", None, "base"), ("es", "auto", "base"), ("en-US", "base", "base"),
])
def test_the_engine_gets_the_model_the_session_resolves_to(client, user_headers, settings, empty_queue,
                                                           monkeypatch, language, model, expected):
    asked: list[str | None] = []

    def engine(settings, model=None):
        asked.append(model)
        return FakeProvider(settings)

    monkeypatch.setattr(transcription, "get_provider", engine)
    payload = {"title": "t", "language": language, **({"model": model} if model else {})}
    sid = client.post("/api/v1/sessions", json=payload, headers=user_headers).json()["id"]
    assert client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", CONVERSATION.read_bytes())},
                       headers=user_headers).status_code == 202
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:
        row = db.get(CoachingSession, uuid.UUID(sid))
        uri, task_id = row.audio_uri, row.transcription_job_id
    outcome = transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language=language,
                                               task_id=task_id, publish=lambda _meta: None)
    assert outcome.status == "completed"
    assert asked == [expected]


def test_language_auto_is_detected_stored_and_used(client, user_headers, settings, empty_queue, monkeypatch):
    transcribed_as: list[str] = []

    class Detecting(FakeProvider):
        def transcribe(self, audio, *, language, on_progress, hints=None):
            transcribed_as.append(language)
            return super().transcribe(audio, language=language, on_progress=on_progress)

    asked: list[str | None] = []

    def engine(settings, model=None):
        asked.append(model)
        return Detecting(settings.model_copy(update={"fake_stt_detected_language": "zh"}))

    monkeypatch.setattr(transcription, "get_provider", engine)
    sid = client.post("/api/v1/sessions", json={"title": "t", "language": "auto"}, headers=user_headers).json()["id"]
    assert client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", CONVERSATION.read_bytes())},
                       headers=user_headers).status_code == 202
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:
        row = db.get(CoachingSession, uuid.UUID(sid))
        uri, task_id = row.audio_uri, row.transcription_job_id
    published: list[dict] = []
    outcome = transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language="auto",
                                               task_id=task_id, publish=published.append)
    assert outcome.status == "completed"
    assert asked == ["base", "base"]  # the detector, then the model for Chinese
    assert transcribed_as == ["zh-TW"]
    assert "Detected the language: zh (99%)" in [m["message"] for m in published]
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert (status["detected_language"], status["language_probability"]) == ("zh", 0.99)
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert (session["language"], session["detected_language"]) == ("auto", "zh")
    assert client.patch(f"/api/v1/sessions/{sid}/speaker-roles", json={"speaker_roles": {"1": "coach"}},
                        headers=user_headers).status_code == 200
    transcript = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()
    assert (transcript["detected_language"], transcript["language_probability"]) == ("zh", 0.99)
    assert transcript["speaker_roles"]["1"]["label"] == "教練"
    text = client.get(f"/api/v1/sessions/{sid}/transcript?format=txt", headers=user_headers).text
    assert text.startswith("教練 [00:00:00]")


def _session_with_audio(client, headers, **body):
    sid = client.post("/api/v1/sessions", json={"title": "t", **body}, headers=headers).json()["id"]
    assert client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", CONVERSATION.read_bytes())},
                       headers=headers).status_code == 202
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:
        row = db.get(CoachingSession, uuid.UUID(sid))
        return sid, row.audio_uri, row.transcription_job_id


def test_translate_adds_english_per_segment_within_the_progress(client, user_headers, settings, empty_queue):
    sid, uri, task_id = _session_with_audio(client, user_headers, language="zh-TW", translate=True)
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["translate"] is True
    published: list[dict] = []
    outcome = transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language="zh-TW",
                                               task_id=task_id, publish=published.append,
                                               provider=FakeProvider(settings))
    assert outcome.status == "completed"
    values = [m["progress"] for m in published]
    assert values == sorted(values) and values[-1] == 100
    translating = [m["progress"] for m in published if m["message"].startswith("Translating into English")]
    assert translating and all(72 <= p <= 90 for p in translating)
    assert any(m["message"] == f"Translating into English: {outcome.segments_count} of {outcome.segments_count} "
               "segments" for m in published)
    segments = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()["segments"]
    assert segments[0]["translation"] == "english of 5.0 seconds in zh-TW"
    assert all(s["translation"] for s in segments)
    text = client.get(f"/api/v1/sessions/{sid}/transcript?format=txt", headers=user_headers).text
    assert text.splitlines()[1:3] == ["segment 1", "[English] english of 5.0 seconds in zh-TW"]


def test_an_english_session_needs_no_translation(client, user_headers, settings, empty_queue):
    sid, uri, task_id = _session_with_audio(client, user_headers, language="en-US", translate=True)
    published: list[dict] = []
    transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language="en-US",
                                      task_id=task_id, publish=published.append, provider=FakeProvider(settings))
    assert not any(m["message"].startswith("Translating") for m in published)
    segments = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers).json()["segments"]
    assert {s["translation"] for s in segments} == {None}


def test_translate_must_be_a_boolean(client, user_headers):
    response = client.post("/api/v1/sessions", json={"title": "t", "translate": "yes"}, headers=user_headers)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_a_model_the_api_accepts_but_the_worker_lacks_fails_with_model_unavailable(
        client, user_headers, settings, empty_queue, monkeypatch, tmp_path):
    (tmp_path / "small").mkdir()
    monkeypatch.setattr(settings, "whisper_model_paths", {"small": str(tmp_path / "small")})  # the API's env
    sid, uri, task_id = _session_with_audio(client, user_headers, language="es", model="small")
    worker = settings.model_copy(update={"stt_provider": "whisper", "whisper_model_paths": {}})  # the worker's
    with pytest.raises(PermanentError) as error:
        transcription.transcribe_session(settings=worker, session_id=sid, audio_uri=uri, language="es",
                                         task_id=task_id, publish=lambda _meta: None)
    assert error.value.code == "model_unavailable"
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert (session["status"], session["error_code"]) == ("failed", "model_unavailable")
    assert session["error_message"] == ("This worker has no model 'small': set WHISPER_MODEL_PATH_SMALL on the "
                                        "workers as on the API (both need the same WHISPER_MODEL_PATH_<NAME> "
                                        "variables).")


def test_cancel_during_translation_stops_at_the_next_segment(client, user_headers, settings, db, empty_queue):
    sid, uri, task_id = _session_with_audio(client, user_headers, language="zh-TW", translate=True)
    translated: list[float] = []

    class SlowTranslator(FakeProvider):
        def translate(self, audio, *, language):
            translated.append(time.monotonic())
            time.sleep(0.3)  # 10 segments: 3 s in all
            return super().translate(audio, language=language)

    outcomes: list[transcription.Outcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(transcription.transcribe_session(
        settings=settings, session_id=sid, audio_uri=uri, language="zh-TW", task_id=task_id,
        publish=lambda _m: None, provider=SlowTranslator(settings))))
    thread.start()
    deadline = time.monotonic() + 20
    while not translated and time.monotonic() < deadline:
        time.sleep(0.02)
    assert translated, "translation never started"
    response = client.post(f"/api/v1/sessions/{sid}/cancel", headers=user_headers)
    assert response.status_code == 200, response.text
    cancelled_at = time.monotonic()
    thread.join(timeout=10)
    assert outcomes[0].status == "cancelled"
    assert len(translated) < 10 and time.monotonic() - cancelled_at < 1.5  # not every segment translated
    assert segment_count(db, sid) == 0
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert status["status"] == "cancelled"


def test_an_unsure_english_detection_is_transcribed_with_base(client, user_headers, settings, empty_queue,
                                                               monkeypatch):
    """Polish was heard as English with probability 0.34: tiny.en would write English words for it."""
    asked: list[str | None] = []

    class Unsure(FakeProvider):
        def detect_language(self, audio):
            return "en", 0.34

    def engine(settings, model=None):
        asked.append(model)
        return Unsure(settings)

    monkeypatch.setattr(transcription, "get_provider", engine)
    sid, uri, task_id = _session_with_audio(client, user_headers, language="auto")
    published: list[dict] = []
    outcome = transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language="auto",
                                               task_id=task_id, publish=published.append)
    assert outcome.status == "completed"
    assert asked == ["base", "base"]
    assert "Detected the language: en (34%, unsure)" in [m["message"] for m in published]
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert (status["detected_language"], status["language_probability"]) == ("en", 0.34)


def test_a_sessions_prompt_and_temperature_reach_the_engine_for_every_piece(client, user_headers, settings,
                                                                             empty_queue, monkeypatch):
    """Stored with the session (and shown), then given to the engine with each piece of audio."""
    from coaching_assistant.services import piecewise
    from coaching_assistant.stt.base import NO_HINTS, Hints

    created = client.post("/api/v1/sessions", headers=user_headers, json={
        "title": "hinted", "language": "en-US", "prompt": "  Anna, GROW model  ", "temperature": 0.2})
    assert created.status_code == 201, created.text
    assert (created.json()["prompt"], created.json()["temperature"]) == ("Anna, GROW model", 0.2)
    sid = created.json()["id"]
    assert client.post(f"/api/v1/sessions/{sid}/audio", headers=user_headers,
                       files={"file": ("c.mp3", CONVERSATION.read_bytes())}).status_code == 202

    class Recording(FakeProvider):
        hints: list[Hints] = []

        def transcribe(self, audio, *, language, on_progress, hints=NO_HINTS):
            self.hints.append(hints)
            return super().transcribe(audio, language=language, on_progress=on_progress, hints=hints)

    monkeypatch.setattr(piecewise, "PIECE_SECONDS", 20.0)  # the 46 s fixture in several pieces
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:
        row = db.get(CoachingSession, uuid.UUID(sid))
        uri, task_id = row.audio_uri, row.transcription_job_id
    outcome = transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language="en-US",
                                               task_id=task_id, publish=lambda _m: None,
                                               provider=Recording(settings))
    assert outcome.status == "completed"
    assert len(Recording.hints) >= 3
    assert set(Recording.hints) == {Hints(prompt="Anna, GROW model", temperature=0.2)}


@pytest.mark.parametrize("hints", [{"prompt": "x" * 1001}, {"temperature": 1.5}, {"temperature": -0.1}])
def test_hints_out_of_range_are_refused_and_nothing_is_created(client, user_headers, hints):
    before = client.get("/api/v1/sessions", headers=user_headers).json()["total"]
    response = client.post("/api/v1/sessions", headers=user_headers, json={"title": "t", **hints})
    assert response.status_code == 422 and response.json()["code"] == "validation_error"
    assert client.get("/api/v1/sessions", headers=user_headers).json()["total"] == before
