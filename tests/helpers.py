"""Small helpers shared by the tests."""

from __future__ import annotations

import re
from pathlib import Path

import jiwer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONVERSATION = FIXTURES / "coaching_conversation.mp3"


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


def reference_text() -> str:
    return (FIXTURES / "coaching_conversation.txt").read_text()


def wav_bytes(seconds: float = 2.0, rate: int = 16000, silent: bool = False) -> bytes:
    """A valid mono 16-bit WAV with a tone (or silence)."""
    import io
    import wave

    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    samples = np.zeros_like(t) if silent else 0.3 * np.sin(2 * np.pi * 220 * t)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return buffer.getvalue()
