"""Speech-to-text on a long recording, one bounded piece at a time.

An engine holds all the audio it is given and more (faster-whisper builds a log-mel spectrogram of
the whole input, several times the audio's own size), so handing it a four-hour recording at once
makes the worker's memory grow with the recording. Here the engine gets pieces of at most
PIECE_SECONDS, each read, transcribed and dropped before the next. Every cut falls at the quietest
moment of the CUT_SEARCH_SECONDS before the nominal boundary, so a word is not cut in two; segment
and word times are shifted by the piece's offset, and progress counts audio seconds across pieces.
A recording no longer than one piece goes to the engine whole, exactly as before.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from itertools import pairwise
from typing import Protocol

import numpy as np

from coaching_assistant.services.audio import SAMPLE_RATE
from coaching_assistant.stt.base import NO_HINTS, Hints, ProgressCallback, Segment, SpeechToTextProvider

PIECE_SECONDS = 600.0
CUT_SEARCH_SECONDS = 30.0  # conversations pause for breath far more often than this
QUIET_WINDOW_SECONDS = 0.3  # the loudness of a candidate cut is measured over this much audio around it


class Samples(Protocol):
    """16 kHz mono audio read by slices as float32: an ndarray, or `audio.DecodedAudio` on disk."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice, /) -> np.ndarray: ...


def cut_points(samples: Samples, *, piece_seconds: float | None = None,
               search_seconds: float = CUT_SEARCH_SECONDS) -> list[int]:
    """Sample offsets where the pieces start and end: [0, …, len(samples)], no piece longer than
    `piece_seconds` (PIECE_SECONDS when None, read at call time)."""
    piece = int((piece_seconds or PIECE_SECONDS) * SAMPLE_RATE)
    search = min(int(search_seconds * SAMPLE_RATE), piece // 2)  # every piece keeps at least half its length
    total = len(samples)
    bounds = [0]
    while total - bounds[-1] > piece:
        end = bounds[-1] + piece
        bounds.append(end - search + quietest(samples[end - search:end]))
    bounds.append(total)
    return bounds


def quietest(block: np.ndarray, window_seconds: float = QUIET_WINDOW_SECONDS) -> int:
    """Index in `block` at the centre of its quietest `window_seconds`. In digital silence, where
    many windows tie, the middle of the last silent stretch (the pause nearest the boundary)."""
    window = int(window_seconds * SAMPLE_RATE)
    if len(block) <= window:
        return len(block) // 2
    energy = np.concatenate(([0.0], np.cumsum(np.square(block, dtype=np.float64))))
    sums = energy[window:] - energy[:-window]  # sums[i]: the energy of block[i:i + window]
    quiet = np.flatnonzero(sums == sums.min())
    breaks = np.flatnonzero(np.diff(quiet) > 1)
    first = int(quiet[breaks[-1] + 1]) if len(breaks) else int(quiet[0])
    return (first + int(quiet[-1])) // 2 + window // 2


def transcribe_in_pieces(engine: SpeechToTextProvider, samples: Samples, *, language: str,
                         on_progress: ProgressCallback, piece_seconds: float | None = None,
                         hints: Hints = NO_HINTS) -> list[Segment]:
    """The engine's segments for the whole recording, transcribed piece by piece (see module doc);
    every piece gets the same `hints`."""
    segments: list[Segment] = []
    for start, stop in pairwise(cut_points(samples, piece_seconds=piece_seconds)):
        offset = start / SAMPLE_RATE
        found = engine.transcribe(samples[start:stop], language=language, hints=hints,
                                  on_progress=partial(_from_offset, on_progress, offset))
        segments.extend(shifted(segment, offset) for segment in found)
    return segments


def _from_offset(on_progress: ProgressCallback, offset: float, seconds: float) -> None:
    on_progress(offset + seconds)


def shifted(segment: Segment, offset: float) -> Segment:
    """The segment with its own and its words' times moved `offset` seconds later."""
    if not offset:
        return segment
    return replace(segment, start=round(segment.start + offset, 3), end=round(segment.end + offset, 3),
                   words=[replace(word, start=round(word.start + offset, 3), end=round(word.end + offset, 3))
                          for word in segment.words])
