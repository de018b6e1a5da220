"""The coach's voice profile over HTTP: confirming roles teaches it, the setting and DELETE stop it,
sessions and users take their samples with them, and (with the real engine) a profile from one
session finds the coach of a mentoring session that the evidence of words gets the wrong way round."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import new_session
from coaching_assistant.models import CoachingSession, SpeakerVoice, User, VoiceSample
from coaching_assistant.services import transcription, voice_profiles
from tests.helpers import CONVERSATION, FIXTURES, true_speaker, turns_of
from tests.integration.test_pipeline import uploaded_session
from tests.integration.test_transcripts_api import imported

MENTORING = FIXTURES / "coaching_mentoring.mp3"  # the coach voice of CONVERSATION; the coach talks most


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=voice_profiles.DIMENSIONS)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def with_voices(sid: str, voices: dict[int, tuple[np.ndarray, float]]) -> None:
    """Store speakers' voices as a transcription would have."""
    with new_session() as db:
        db.add_all(SpeakerVoice(session_id=uuid.UUID(sid), speaker_id=speaker, embedding=voice_profiles.to_bytes(v),
                                seconds=seconds) for speaker, (v, seconds) in voices.items())
        db.commit()


def profile(client, headers) -> dict:
    response = client.get("/api/v1/me/voice-profile", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def stored_profile(user_id: uuid.UUID) -> np.ndarray | None:
    with new_session() as db:
        found = voice_profiles.profile_of(db, user_id)
        return None if found is None else found.embedding


def owner(sid: str) -> uuid.UUID:
    with new_session() as db:
        return db.get(CoachingSession, uuid.UUID(sid)).user_id


def test_no_profile_until_roles_are_confirmed(client, user_headers):
    assert profile(client, user_headers) == {"sessions": 0, "seconds": 0.0, "updated_at": None, "learning": True}
    sid, _ = imported(client, user_headers)
    with_voices(sid, {1: (unit(1), 4.5), 2: (unit(2), 16.0)})
    assert profile(client, user_headers)["sessions"] == 0  # roles from the file, not confirmed


def test_confirming_roles_adds_the_coach_voice(client, user_headers):
    sid, body = imported(client, user_headers)
    assert body["speaker_roles"]["1"]["role"] == "coach"
    with_voices(sid, {1: (unit(1), 4.5), 2: (unit(2), 16.0)})
    response = client.post(f"/api/v1/sessions/{sid}/confirm-roles", headers=user_headers)
    assert response.status_code == 200, response.text
    assert {s: (e["role"], e["source"], e["confidence"]) for s, e in response.json()["speaker_roles"].items()} == {
        "1": ("coach", "user", 1.0), "2": ("client", "user", 1.0)}
    held = profile(client, user_headers)
    assert held["sessions"] == 1 and held["seconds"] == 4.5 and held["updated_at"]
    user_id = owner(sid)
    assert np.allclose(stored_profile(user_id), unit(1), atol=1e-6)

    # Choosing the other speaker as coach replaces this session's sample; a second session adds one.
    client.patch(f"/api/v1/sessions/{sid}/speaker-roles", json={"speaker_roles": {"1": "client", "2": "coach"}},
                 headers=user_headers).raise_for_status()
    assert profile(client, user_headers)["seconds"] == 16.0
    assert np.allclose(stored_profile(user_id), unit(2), atol=1e-6)
    other, _ = imported(client, user_headers)
    with_voices(other, {1: (unit(2), 8.0), 2: (unit(3), 8.0)})
    client.post(f"/api/v1/sessions/{other}/confirm-roles", headers=user_headers).raise_for_status()
    held = profile(client, user_headers)
    assert held["sessions"] == 2 and held["seconds"] == 24.0
    assert np.allclose(stored_profile(user_id), unit(2), atol=1e-6)  # the same voice twice

    # Deleting a session takes its sample with it.
    assert client.delete(f"/api/v1/sessions/{other}", headers=user_headers).status_code == 204
    assert profile(client, user_headers)["sessions"] == 1


def test_a_session_with_no_confirmed_coach_adds_nothing(client, user_headers):
    sid, _ = imported(client, user_headers)
    with_voices(sid, {1: (unit(1), 4.5), 2: (unit(2), 16.0)})
    client.patch(f"/api/v1/sessions/{sid}/speaker-roles", json={"speaker_roles": {"2": "client"}},
                 headers=user_headers).raise_for_status()
    assert profile(client, user_headers)["sessions"] == 0  # speaker 1 is still the file's coach, not the user's
    client.patch(f"/api/v1/sessions/{sid}/speaker-roles", json={"speaker_roles": {"1": "coach"}},
                 headers=user_headers).raise_for_status()
    assert profile(client, user_headers)["sessions"] == 1
    client.patch(f"/api/v1/sessions/{sid}/speaker-roles", json={"speaker_roles": {"1": "unknown"}},
                 headers=user_headers).raise_for_status()
    assert profile(client, user_headers)["sessions"] == 0  # no coach left: the sample goes
    imported_only, _ = imported(client, user_headers)  # no stored voices (an imported transcript)
    client.post(f"/api/v1/sessions/{imported_only}/confirm-roles", headers=user_headers).raise_for_status()
    assert profile(client, user_headers)["sessions"] == 0


def test_learning_can_be_turned_off_and_the_profile_deleted(client, user_headers):
    sid, _ = imported(client, user_headers)
    with_voices(sid, {1: (unit(1), 4.5), 2: (unit(2), 16.0)})
    client.post(f"/api/v1/sessions/{sid}/confirm-roles", headers=user_headers).raise_for_status()
    response = client.patch("/api/v1/me/voice-profile", json={"learning": False}, headers=user_headers)
    assert response.status_code == 200 and response.json()["learning"] is False
    assert response.json()["sessions"] == 1  # what it holds stays
    other, _ = imported(client, user_headers)
    with_voices(other, {1: (unit(5), 4.5), 2: (unit(6), 16.0)})
    client.post(f"/api/v1/sessions/{other}/confirm-roles", headers=user_headers).raise_for_status()
    assert profile(client, user_headers) | {"updated_at": None} == {
        "sessions": 1, "seconds": 4.5, "updated_at": None, "learning": False}

    assert client.delete("/api/v1/me/voice-profile", headers=user_headers).status_code == 204
    assert profile(client, user_headers)["sessions"] == 0
    assert client.delete("/api/v1/me/voice-profile", headers=user_headers).status_code == 204  # none: still 204
    assert client.patch("/api/v1/me/voice-profile", json={"learning": "sometimes"},
                        headers=user_headers).status_code == 422
    assert client.patch("/api/v1/me/voice-profile", json={"learning": True, "extra": 1},
                        headers=user_headers).status_code == 422


def test_confirm_roles_refuses_other_users_and_unfinished_sessions(client, user_headers, other_headers):
    sid, _ = imported(client, user_headers)
    assert client.post(f"/api/v1/sessions/{sid}/confirm-roles", headers=other_headers).status_code == 404
    waiting = client.post("/api/v1/sessions", json={"title": "t", "language": "en-US"},
                          headers=user_headers).json()["id"]
    response = client.post(f"/api/v1/sessions/{waiting}/confirm-roles", headers=user_headers)
    assert response.status_code == 409 and response.json()["code"]
    assert client.get("/api/v1/me/voice-profile").status_code == 401


def test_deleting_the_user_deletes_the_profile(client, user_headers):
    sid, _ = imported(client, user_headers)
    with_voices(sid, {1: (unit(1), 4.5), 2: (unit(2), 16.0)})
    client.post(f"/api/v1/sessions/{sid}/confirm-roles", headers=user_headers).raise_for_status()
    user_id = owner(sid)
    with new_session() as db:
        assert db.scalar(select(func.count()).select_from(VoiceSample).where(VoiceSample.user_id == user_id)) == 1
        db.execute(delete(User).where(User.id == user_id))
        db.commit()
        assert db.scalar(select(func.count()).select_from(VoiceSample).where(VoiceSample.user_id == user_id)) == 0
        assert db.scalar(select(func.count()).select_from(SpeakerVoice)
                         .where(SpeakerVoice.session_id == uuid.UUID(sid))) == 0


def words_right(body: dict, turns: list[dict]) -> float:
    """The share of words whose segment's role is the role of the turn the word falls in."""
    pairs = [(true_speaker(turns, (w["start"] + w["end"]) / 2), s["role"])
             for s in body["segments"] for w in s["words"]]
    return sum(truth == role for truth, role in pairs) / len(pairs)


def transcribe(client, headers, settings, audio_path) -> dict:
    sid, uri, task = uploaded_session(client, headers, name=audio_path.name, content=audio_path.read_bytes())
    outcome = transcription.transcribe_session(settings=settings, session_id=sid, audio_uri=uri, language="en-US",
                                               task_id=task, publish=lambda meta: None)
    assert outcome.status == "completed"
    return client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()


@pytest.mark.slow
def test_a_profile_from_another_session_finds_the_coach_of_a_mentoring_session(client, user_headers, settings,
                                                                               empty_queue):
    real = Settings(**{**settings.model_dump(), "stt_provider": "whisper", "diarization_enabled": True})
    mentoring_turns = turns_of(MENTORING)

    # Without a profile the evidence points the wrong way (the coach talks most, the client asks),
    # and the confidence says it may.
    before = transcribe(client, user_headers, real, MENTORING)
    assert words_right(before, mentoring_turns) < 0.1
    assert all(e["source"] == "auto" and e["confidence"] <= 0.75 for e in before["speaker_roles"].values())

    # The coach confirms the roles of a different session, in the same voice.
    first = transcribe(client, user_headers, real, CONVERSATION)
    assert words_right(first, turns_of(CONVERSATION)) >= 0.95
    client.post(f"/api/v1/sessions/{first['session_id']}/confirm-roles", headers=user_headers).raise_for_status()
    held = profile(client, user_headers)
    assert held["sessions"] == 1 and held["seconds"] > 10

    after = transcribe(client, user_headers, real, MENTORING)
    assert words_right(after, mentoring_turns) >= 0.98
    coach = next(e for e in after["speaker_roles"].values() if e["role"] == "coach")
    assert coach["source"] == "voice" and coach["confidence"] >= 0.6

    # Deleted, the profile is no longer used: the evidence decides again.
    assert client.delete("/api/v1/me/voice-profile", headers=user_headers).status_code == 204
    again = transcribe(client, user_headers, real, MENTORING)
    assert all(e["source"] == "auto" for e in again["speaker_roles"].values())
    assert words_right(again, mentoring_turns) < 0.1
