"""Speech-to-text in bounded pieces: cuts in silence, times shifted, short audio untouched."""

from __future__ import annotations

import numpy as np
import pytest

from coaching_assistant.core.config import Settings
from coaching_assistant.services import audio, piecewise
from coaching_assistant.stt.base import Segment, Word
from tests.generated_audio import RATE, bursts
from tests.helpers import CONVERSATION


class RecordingEngine:
    """Says one word one second into every piece it is given, and remembers the pieces."""

    name = "recording"

    def __init__(self) -> None:
        self.pieces: list[np.ndarray] = []

    def transcribe(self, samples, *, language, on_progress, hints=None):
        self.pieces.append(samples)
        seconds = len(samples) / RATE
        on_progress(seconds / 2)
        on_progress(seconds)
        return [Segment(start=1.0, end=1.5, text="word", confidence=0.9,
                        words=[Word("word", 1.0, 1.5, 0.9)])]


def test_cuts_fall_in_silence_and_pieces_stay_short():
    samples = bursts(95)  # sound 0-7 s of every 10 s
    bounds = piecewise.cut_points(samples, piece_seconds=25, search_seconds=6)
    assert bounds[0] == 0 and bounds[-1] == len(samples)
    assert len(bounds) == 6  # each cut in the pause before its 25 s boundary: five pieces of 19-20 s
    for cut in bounds[1:-1]:
        assert 7.0 < (cut / RATE) % 10 < 10.0, f"cut at {cut / RATE} s is not in a pause"
        assert not samples[cut - 800:cut + 800].any()  # 50 ms either side: silence
    assert all(0 < b - a <= 25 * RATE for a, b in zip(bounds, bounds[1:], strict=False))


def test_in_digital_silence_the_cut_is_the_middle_of_the_pause_nearest_the_boundary():
    block = np.ones(10 * RATE, np.float32) * 0.2
    block[2 * RATE:4 * RATE] = 0  # a 2 s pause
    block[7 * RATE:9 * RATE] = 0  # another one, nearer the end of the search window
    assert piecewise.quietest(block) == 8 * RATE


def test_times_in_later_pieces_are_shifted_by_their_offset():
    samples = bursts(95)
    engine = RecordingEngine()
    progress: list[float] = []
    segments = piecewise.transcribe_in_pieces(engine, samples, language="en", on_progress=progress.append,
                                              piece_seconds=25)
    bounds = piecewise.cut_points(samples, piece_seconds=25)
    assert [len(p) for p in engine.pieces] == [b - a for a, b in zip(bounds, bounds[1:], strict=False)]
    offsets = [a / RATE for a in bounds[:-1]]
    assert [s.start for s in segments] == [round(o + 1.0, 3) for o in offsets]
    assert [s.words[0].end for s in segments] == [round(o + 1.5, 3) for o in offsets]
    assert segments[0] == Segment(start=1.0, end=1.5, text="word", confidence=0.9,
                                  words=[Word("word", 1.0, 1.5, 0.9)])
    assert segments[1].text == "word" and segments[1].confidence == 0.9
    # progress counts audio seconds across the pieces, never going back
    assert progress == sorted(progress) and progress[-1] == pytest.approx(95.0)


def test_a_recording_shorter_than_a_piece_goes_to_the_engine_whole():
    samples = bursts(60)
    engine = RecordingEngine()
    segments = piecewise.transcribe_in_pieces(engine, samples, language="en", on_progress=lambda s: None)
    assert len(engine.pieces) == 1 and np.shares_memory(engine.pieces[0], samples)
    assert len(engine.pieces[0]) == len(samples)
    assert segments[0].start == 1.0


@pytest.mark.slow
def test_the_real_engine_transcribes_a_short_recording_exactly_as_before():
    from coaching_assistant.stt.whisper import WhisperProvider

    engine = WhisperProvider(Settings(stt_provider="whisper"))
    whole = engine.transcribe(audio.decode(CONVERSATION), language="en-US", on_progress=lambda s: None)
    with audio.decode_to_file(CONVERSATION) as decoded:
        pieced = piecewise.transcribe_in_pieces(engine, decoded, language="en-US", on_progress=lambda s: None)
    assert pieced == whole and len(whole) > 3
