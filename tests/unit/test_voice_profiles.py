"""The voice profile's maths: storage, weighted means, matching and the confidence of a match."""

from __future__ import annotations

import numpy as np
import pytest

from coaching_assistant.services import roles, voice_profiles
from coaching_assistant.services.voice_profiles import FULL_MARGIN, MATCH_THRESHOLD, match, mean_voice


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def at(similarity: float) -> np.ndarray:
    """A unit vector whose cosine similarity with e0 is `similarity`."""
    vector = np.zeros(voice_profiles.DIMENSIONS)
    vector[0], vector[1] = similarity, np.sqrt(1 - similarity ** 2)
    return vector.astype(np.float32)


PROFILE = unit(np.eye(voice_profiles.DIMENSIONS)[0])


def test_embeddings_are_stored_as_little_endian_float32():
    vector = unit(np.arange(1, voice_profiles.DIMENSIONS + 1))
    data = voice_profiles.to_bytes(vector)
    assert len(data) == 4 * voice_profiles.DIMENSIONS
    assert np.array_equal(voice_profiles.from_bytes(data), vector)
    with pytest.raises(ValueError):
        voice_profiles.to_bytes(np.ones(3))


def test_the_profile_is_the_seconds_weighted_mean_direction():
    a, b = at(1.0), at(0.0)
    assert np.allclose(mean_voice([(a, 30.0), (b, 10.0)]), unit(0.75 * a + 0.25 * b))
    assert np.linalg.norm(mean_voice([(a, 1.0), (b, 1.0)])) == pytest.approx(1.0)
    assert mean_voice([]) is None and mean_voice([(a, 0.0)]) is None
    assert mean_voice([(a, 1.0), (-a, 1.0)]) is None  # opposite voices cancel: no direction


def test_the_nearest_speaker_over_the_threshold_is_the_coach():
    found = match({1: (at(0.70), 20.0), 2: (at(0.97), 30.0)}, PROFILE)
    assert found == roles.VoiceMatch(2, pytest.approx(0.97, abs=1e-6), voice_profiles.MAX_CONFIDENCE,
                                     {1: voice_profiles.MAX_CONFIDENCE})
    assert match({1: (at(0.70), 20.0), 2: (at(MATCH_THRESHOLD - 0.01), 30.0)}, PROFILE) is None
    assert match({}, PROFILE) is None


def test_confidence_grows_with_the_margin_over_the_next_speaker():
    def confidence(best: float, other: float) -> float:
        found = match({1: (at(best), 20.0), 2: (at(other), 20.0)}, PROFILE)
        assert found is not None and found.speaker_id == 1
        return found.confidence

    assert confidence(0.95, 0.95 - FULL_MARGIN / 2) == pytest.approx(0.5 + (voice_profiles.MAX_CONFIDENCE - 0.5) / 2,
                                                                     abs=0.01)
    assert confidence(0.95, 0.949) < 0.51  # two speakers alike: barely more than a coin
    assert confidence(0.99, 0.5) == voice_profiles.MAX_CONFIDENCE
    # A runner-up under the threshold counts as the threshold: a weak match is not a sure one.
    assert confidence(MATCH_THRESHOLD + 0.01, 0.1) < 0.6

    # Each client is as sure as the coach's similarity is above its own.
    three = match({1: (at(0.97), 20.0), 2: (at(0.95), 20.0), 3: (at(0.5), 20.0)}, PROFILE)
    assert three is not None and three.speaker_id == 1
    assert three.clients[2] == three.confidence < 0.65 and three.clients[3] == voice_profiles.MAX_CONFIDENCE


def test_one_speaker_or_a_short_one_is_never_surer_than_evidence():
    alone = match({1: (at(0.99), 60.0)}, PROFILE)
    assert alone is not None and alone.confidence == roles.EVIDENCE_CONFIDENCE
    short = match({1: (at(0.99), voice_profiles.MIN_SECONDS / 2), 2: (at(0.6), 60.0)}, PROFILE)
    assert short is None  # too little speech to tell


def test_a_voice_match_decides_the_roles_whatever_the_evidence():
    lines = [roles.Line(1, 0, 2, "What would you like to focus on? How does that feel?"),
             roles.Line(2, 2, 30, "I explain at length."),
             roles.Line(3, 30, 32, "Me too."),
             roles.Line(4, 32, 33, "Hm.")]
    assert roles.assign_roles(lines)["1"]["role"] == "coach"
    by_voice = roles.assign_roles(lines, roles.VoiceMatch(2, 0.93, 0.9, {1: 0.9, 3: 0.98}))
    assert {s: (e["role"], e["source"], e["confidence"]) for s, e in by_voice.items()} == {
        "1": ("client", "voice", 0.9), "2": ("coach", "voice", 0.9), "3": ("client", "voice", 0.98),
        "4": ("unknown", "auto", None)}  # too short to judge
    assert by_voice["2"]["evidence"]["voice_similarity"] == 0.93
    assert roles.assign_roles(lines, roles.VoiceMatch(7, 0.93, 0.9)) == roles.assign_roles(lines)  # not a speaker
    monologue = roles.assign_roles(lines[:1], roles.VoiceMatch(1, 0.95, 0.75))
    assert monologue["1"] | {"evidence": None} == {"role": "coach", "confidence": 0.75, "source": "voice",
                                                   "evidence": None}
