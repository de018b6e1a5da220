"""A coach's voice profile: their voice, learnt from sessions whose roles they confirmed, finds the
coach in the next recording where the evidence of words cannot (a mentoring session, where the
coach talks most and the client asks).

Every transcribed speaker's voice is stored with the transcript (`speaker_voice`: the mean of its
speech windows' embeddings, diarization.Voice). When the user confirms a session's roles (POST
…/confirm-roles, or choosing a coach with PATCH …/speaker-roles), the voice of the speaker they
confirmed as coach becomes that session's sample (`voice_sample`; a later confirmation replaces
it), unless they turned learning off. The profile is the mean of the samples, weighted by their
seconds of speech. It goes with its sessions and with the user; DELETE /api/v1/me/voice-profile
removes it at once.

When a session is saved and its user has a profile, the speaker whose voice is nearest the
profile is the coach if the cosine similarity is at least MATCH_THRESHOLD; the confidence grows
with the margin over the next nearest speaker (roles.VoiceMatch). Otherwise the evidence of words
decides (services/roles.py). The numbers are measured on the generated conversation set
(bench/roles_accuracy.py; see MATCH_THRESHOLD).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coaching_assistant.models import CoachingSession, SpeakerVoice, User, VoiceSample
from coaching_assistant.services.roles import EVIDENCE_CONFIDENCE, VoiceMatch

DIMENSIONS = 256
# Measured on the generated set (bench/roles_accuracy.py), the profile built from other sessions:
# the coach's own voice scored 0.91–0.99, other voices 0.68–0.92 (espeak voices are alike; the
# nearest, 0.92, beside a coach at 0.99). Under the threshold is not the coach.
MATCH_THRESHOLD = 0.80
# Confidence 0.5 + margin / FULL_MARGIN × (MAX_CONFIDENCE - 0.5): a margin this wide is as sure as
# a voice match gets. Right matches had margins of 0.04–0.26 and none was wrong; before diarization
# averaged neighbouring windows, a profile built from a badly diarized session gave a wrong match
# with a margin of 0.09, which gives 0.78.
FULL_MARGIN = 0.15
MAX_CONFIDENCE = 0.98
MIN_SECONDS = 2.0  # a speaker with less speech than this has too few windows to be matched


def to_bytes(embedding: np.ndarray) -> bytes:
    return np.asarray(embedding, dtype="<f4").reshape(DIMENSIONS).tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def mean_voice(parts: Iterable[tuple[np.ndarray, float]]) -> np.ndarray | None:
    """The unit vector of the voices' mean, each weighted by its seconds; None for no speech."""
    pairs = [(vector, seconds) for vector, seconds in parts if seconds > 0]
    if not pairs:
        return None
    mean = np.sum([vector * seconds for vector, seconds in pairs], axis=0) / sum(s for _, s in pairs)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 1e-8 else None


def match(voices: Mapping[int, tuple[np.ndarray, float]], profile: np.ndarray) -> VoiceMatch | None:
    """The coach among a recording's speakers ({speaker id: (voice, seconds)}), and the others as
    clients; None when no speaker with MIN_SECONDS of speech is at least MATCH_THRESHOLD similar
    to the profile. Each role's confidence comes from a margin (see `_sure`): the coach's over the
    next nearest speaker, a client's from the coach's similarity down to its own."""
    similarity = {speaker: float(np.dot(vector, profile)) for speaker, (vector, seconds) in voices.items()
                  if seconds >= MIN_SECONDS}
    if not similarity:
        return None
    best = max(similarity, key=lambda speaker: similarity[speaker])
    if similarity[best] < MATCH_THRESHOLD:
        return None
    # One speaker found may be two voices diarization did not tell apart (measured: two of the
    # set's two-voice sessions), and the profile cannot see that: no more sure than evidence is.
    most = MAX_CONFIDENCE if len(similarity) > 1 else EVIDENCE_CONFIDENCE
    others = {speaker: value for speaker, value in similarity.items() if speaker != best}
    return VoiceMatch(best, similarity[best], _sure(similarity[best], max(others.values(), default=0.0), most),
                      {speaker: _sure(similarity[best], value, most) for speaker, value in others.items()})


def _sure(coach: float, other: float, most: float) -> float:
    """0.5 plus the share of FULL_MARGIN that the coach's similarity is above the other's (a
    similarity under the threshold counts as the threshold: a weak match is not a sure one)."""
    margin = coach - max(other, MATCH_THRESHOLD)
    return round(0.5 + (most - 0.5) * min(1.0, max(0.0, margin) / FULL_MARGIN), 2)


@dataclass(frozen=True)
class Profile:
    embedding: np.ndarray
    sessions: int
    seconds: float
    updated_at: datetime


def profile_of(db: Session, user_id: uuid.UUID) -> Profile | None:
    """The user's voice profile, or None while they have none."""
    samples = db.execute(select(VoiceSample.embedding, VoiceSample.seconds, VoiceSample.created_at)
                         .where(VoiceSample.user_id == user_id)).all()
    embedding = mean_voice((from_bytes(row.embedding), row.seconds) for row in samples)
    if embedding is None:
        return None
    return Profile(embedding, len(samples), round(sum(row.seconds for row in samples), 1),
                   max(row.created_at for row in samples))


def stored_voices(db: Session, session_id: uuid.UUID) -> dict[int, tuple[np.ndarray, float]]:
    return {row.speaker_id: (from_bytes(row.embedding), row.seconds) for row in db.execute(
        select(SpeakerVoice.speaker_id, SpeakerVoice.embedding, SpeakerVoice.seconds)
        .where(SpeakerVoice.session_id == session_id))}


def match_for(db: Session, user_id: uuid.UUID, voices: Mapping[int, tuple[np.ndarray, float]]) -> VoiceMatch | None:
    """The coach among `voices` by the user's profile, if they have one and a speaker matches."""
    profile = profile_of(db, user_id)
    return None if profile is None or not voices else match(voices, profile.embedding)


def learn(db: Session, session: CoachingSession) -> bool:
    """Make the voice of the session's confirmed coach (role coach chosen by the user) the
    session's sample of its user's profile; no confirmed coach removes the sample. Nothing when
    the user turned learning off. Commits. True when a sample was written."""
    if not is_learning(db, session.user_id):
        return False
    db.refresh(session, ["speaker_roles"])
    coaches = {int(speaker) for speaker, entry in (session.speaker_roles or {}).items()
               if entry.get("role") == "coach" and entry.get("source") == "user"}
    voices = stored_voices(db, session.id)
    chosen = [voices[speaker] for speaker in coaches if speaker in voices]
    embedding = mean_voice(chosen)
    db.execute(delete(VoiceSample).where(VoiceSample.session_id == session.id))
    if embedding is not None:
        db.add(VoiceSample(session_id=session.id, user_id=session.user_id, embedding=to_bytes(embedding),
                           seconds=round(sum(seconds for _, seconds in chosen), 2)))
    try:
        db.commit()
    except IntegrityError:  # a concurrent confirmation of the same session wrote its sample first
        db.rollback()
    return embedding is not None


def forget(db: Session, user_id: uuid.UUID) -> int:
    """Delete the user's voice profile (every sample); the number of sessions it held."""
    removed = db.scalar(select(func.count()).select_from(VoiceSample).where(VoiceSample.user_id == user_id)) or 0
    db.execute(delete(VoiceSample).where(VoiceSample.user_id == user_id))
    db.commit()
    return int(removed)


def is_learning(db: Session, user_id: uuid.UUID) -> bool:
    return bool(db.scalar(select(User.voice_learning).where(User.id == user_id)))


def set_learning(db: Session, user_id: uuid.UUID, learning: bool) -> None:
    db.execute(update(User).where(User.id == user_id).values(voice_learning=learning))
    db.commit()
