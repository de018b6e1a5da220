"""The clustering steps of diarization on made-up embeddings (no audio, no encoder)."""

from __future__ import annotations

import numpy as np

from coaching_assistant.diarization import (
    CONTEXT_SECONDS,
    MIN_RUN_SECONDS,
    STEP_SECONDS,
    _steady,
    cluster,
    estimate_speakers,
    in_context,
)
from coaching_assistant.stt.base import Word


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def voices(rng: np.random.Generator, centres: list[int], windows: int, spread: float) -> np.ndarray:
    """`windows` noisy windows of each voice in turn; voice i points along axis centres[i]."""
    rows = []
    for axis in centres:
        centre = np.zeros(256)
        centre[axis] = 1.0
        rows.append(centre + rng.normal(0, spread, (windows, 256)))
    return unit(np.vstack(rows))


def test_a_window_is_averaged_with_its_neighbours_only():
    times = np.array([0.0, 0.25, 0.5, 3.0, 3.25])
    embeddings = unit(np.eye(256)[[0, 1, 2, 3, 4]])
    context = in_context(times, embeddings)
    assert CONTEXT_SECONDS < 2.5  # the two groups are further apart than the context
    first = unit(np.eye(256)[[0, 1, 2]].sum(axis=0, keepdims=True))[0]
    assert np.allclose(context[1], first, atol=1e-6)  # 0.25 s hears 0, 0.25 and 0.5
    assert np.allclose(context[3], unit(np.eye(256)[[3, 4]].sum(axis=0, keepdims=True))[0], atol=1e-6)
    assert np.allclose(np.linalg.norm(context, axis=1), 1.0, atol=1e-6)


def test_one_voice_is_counted_once_and_two_twice():
    rng = np.random.default_rng(7)
    one = voices(rng, [0], 120, spread=0.015)
    two = voices(rng, [0, 1], 120, spread=0.015)
    assert estimate_speakers(one) == 1
    assert estimate_speakers(two) == 2


def test_a_voice_too_short_to_be_a_speaker_is_not_counted():
    rng = np.random.default_rng(8)
    minimum = int(2.0 / STEP_SECONDS)  # AUTO_MIN_SECONDS of windows
    long, short = voices(rng, [0], 40, spread=0.015), voices(rng, [1], minimum - 1, spread=0.015)
    assert (minimum - 1) / (40 + minimum - 1) > 0.12  # a share big enough: the seconds decide
    assert estimate_speakers(np.vstack([long, short])) == 1
    assert estimate_speakers(np.vstack([long, voices(rng, [1], minimum, spread=0.015)])) == 2


def test_clusters_are_the_voices_and_a_sample_agrees():
    rng = np.random.default_rng(9)
    embeddings = voices(rng, [0, 1, 2], 200, spread=0.015)
    truth = np.repeat([0, 1, 2], 200)
    for labels in (cluster(embeddings, 3), cluster(embeddings, None), cluster(embeddings, 3, max_windows=150)):
        assert len(set(labels)) == 3
        mapping = {int(found): int(np.bincount(truth[labels == found]).argmax()) for found in set(labels)}
        assert np.mean([mapping[int(found)] for found in labels] == truth) == 1.0


def words_every(seconds: float, count: int) -> list[Word]:
    return [Word(f" w{i}", i * seconds, (i + 1) * seconds) for i in range(count)]


def test_a_run_shorter_than_a_window_inside_a_segment_goes_to_the_longer_run_beside_it():
    words = words_every(0.3, 12)  # 3.6 s
    # 0.9 s of speaker 2 inside speaker 1's segment: the window heard the turn beside it
    assert _steady(words, [1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1]) == [1] * 12
    # a short run at the start joins the longer run after it, whichever speaker that is
    assert _steady(words_every(0.3, 14), [3, 3] + [2] * 6 + [1] * 6) == [2] * 8 + [1] * 6
    # runs of MIN_RUN_SECONDS and more are turns: kept
    assert MIN_RUN_SECONDS <= 1.5
    assert _steady(words, [1] * 6 + [2] * 6) == [1] * 6 + [2] * 6
    assert _steady(words[:2], [1, 2]) in ([1, 1], [2, 2])  # two short runs become one speaker
