"""The speech-to-text provider interface and the result types every provider returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from coaching_assistant.services.languages import base_language

__all__ = ["ProgressCallback", "Segment", "SpeechToTextProvider", "Word", "base_language"]

# Called with the number of audio seconds transcribed so far.
ProgressCallback = Callable[[float], None]


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    confidence: float | None = None
    words: list[Word] = field(default_factory=list)
    speaker_id: int = 1
    translation: str | None = None  # English, when the session asked for a translation


class SpeechToTextProvider(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, *, language: str,
                   on_progress: ProgressCallback) -> list[Segment]:
        """Transcribe 16 kHz mono float32 audio; call `on_progress` as audio seconds are done."""
        ...

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        """The language spoken in the audio (Whisper's code, e.g. `zh`) and its probability."""
        ...

    def translate(self, audio: np.ndarray, *, language: str) -> str:
        """An English translation of what is said in a short piece of audio in `language`."""
        ...
