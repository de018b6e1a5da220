"""The speech-to-text provider interface and the result types every provider returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from coaching_assistant.services.languages import base_language

__all__ = ["NO_HINTS", "Hints", "ProgressCallback", "Segment", "SpeechToTextProvider", "Word", "base_language",
           "join_words"]

# Called with the number of audio seconds transcribed so far.
ProgressCallback = Callable[[float], None]


@dataclass(frozen=True)
class Word:
    """One token with its times. `word` is the token as the engine gave it, with a leading space
    where a new word starts (Whisper's tokens are sub-word pieces: " GROW" may come as " GR", "OW";
    Chinese characters come without spaces). Providers that give whole words (Google, fake) put a
    space before each. The text of a run of tokens is `join_words`; the stored words are stripped."""

    word: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True)
class Hints:
    """What a session may tell the engine about its audio, as OpenAI's API names them. `prompt`:
    text in the style and vocabulary of the recording (names, terms), Whisper's initial prompt.
    `temperature`: where sampling starts (0–1); None or 0 is the engine's default (greedy, raised
    step by step only where the text fails its checks). Providers without such options ignore them."""

    prompt: str | None = None
    temperature: float | None = None


NO_HINTS = Hints()


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

    def transcribe(self, audio: np.ndarray, *, language: str, on_progress: ProgressCallback,
                   hints: Hints = NO_HINTS) -> list[Segment]:
        """Transcribe 16 kHz mono float32 audio; call `on_progress` as audio seconds are done."""
        ...

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        """The language spoken in the audio (Whisper's code, e.g. `zh`) and its probability."""
        ...

    def translate(self, audio: np.ndarray, *, language: str) -> str:
        """An English translation of what is said in a short piece of audio in `language`."""
        ...


def join_words(words: list[Word]) -> str:
    """The text of a run of tokens: joined as they are, each carrying its own leading space."""
    return "".join(w.word for w in words).strip()
