"""A fast, deterministic provider for pipeline tests: one segment per 5 s of audio with sound."""

from __future__ import annotations

import threading
import time

import numpy as np

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import ErrorCode, PermanentError, TransientError
from coaching_assistant.services.audio import SAMPLE_RATE
from coaching_assistant.stt.base import NO_HINTS, Hints, ProgressCallback, Segment, Word

CHUNK_SECONDS = 5.0


class FakeProvider:
    name = "fake"

    def __init__(self, settings: Settings):
        self.delay = settings.fake_stt_seconds_per_chunk
        self.failures_left = settings.fake_stt_transient_failures
        self.detected_language = settings.fake_stt_detected_language
        self._lock = threading.Lock()

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        return self.detected_language, 0.99

    def translate(self, audio: np.ndarray, *, language: str) -> str:
        return f"english of {len(audio) / SAMPLE_RATE:.1f} seconds in {language}"

    def transcribe(self, audio: np.ndarray, *, language: str, on_progress: ProgressCallback,
                   hints: Hints = NO_HINTS) -> list[Segment]:
        # Test hooks: languages that make the fake fail the way a real provider can.
        if language == "x-permanent-error":
            raise PermanentError("fake provider refused the audio", code=ErrorCode.STT_REJECTED)
        if language == "x-transient-error":
            raise TransientError("fake provider unavailable", code=ErrorCode.STT_UNAVAILABLE)
        with self._lock:
            fail, self.failures_left = self.failures_left > 0, max(0, self.failures_left - 1)
        if fail:
            raise TransientError("fake provider briefly unavailable", code=ErrorCode.STT_UNAVAILABLE)
        total = len(audio) / SAMPLE_RATE
        segments: list[Segment] = []
        start = 0.0
        while start < total:
            end = min(start + CHUNK_SECONDS, total)
            chunk = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
            if self.delay:
                time.sleep(self.delay)
            if chunk.size and float(np.abs(chunk).max()) > 0.01:
                n = len(segments) + 1
                words = [Word(" segment", start, start + 0.5, 0.99), Word(f" {n}", start + 0.5, end, 0.98)]
                segments.append(Segment(start=round(start, 3), end=round(end, 3), text=f"segment {n}",
                                        confidence=0.985, words=words))
            on_progress(end)
            start = end
        return segments
