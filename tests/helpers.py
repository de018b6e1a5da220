"""Small helpers shared by the tests."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import jiwer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONVERSATION = FIXTURES / "coaching_conversation.mp3"  # a male coach, a female client
TWO_MEN = FIXTURES / "coaching_two_men.mp3"  # two male voices
SPEECH = FIXTURES / "speech"  # short clips in nine languages, with reference texts


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


def speech_samples(language: str) -> list[Path]:
    """Real recorded speech (a few seconds each, Ogg Opus, with the reference text beside it as
    .txt) for zh, ja, en, es, fr, hi, it, pl and pt: tests/fixtures/speech, copied from the
    pytest-audioeval package (see its README)."""
    return sorted((SPEECH / language).glob("*.ogg"))


def chinese_characters(text: str) -> str:
    """Only the letters and digits of a Chinese text, in Traditional characters (OpenCC s2twp, as the
    service writes Taiwan's Chinese), so a Simplified reference and a Traditional transcript compare
    character by character, punctuation and spaces aside."""
    import opencc

    return "".join(ch for ch in opencc.OpenCC("s2twp").convert(text) if ch.isalnum())


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Character error rate of a Chinese transcript against its reference (see chinese_characters)."""
    return float(jiwer.cer(chinese_characters(reference), chinese_characters(hypothesis)))


def reference_text(fixture: Path = CONVERSATION) -> str:
    return fixture.with_suffix(".txt").read_text()


def turns_of(fixture: Path) -> list[dict]:
    """The fixture's turns: speaker (coach/client), text, start and end seconds."""
    return json.loads(fixture.with_suffix(".json").read_text())["turns"]


def true_speaker(turns: list[dict], seconds: float) -> str:
    """Who spoke at this moment: the turn containing it, else the nearest turn."""
    def distance(turn: dict) -> float:
        return 0.0 if turn["start"] <= seconds <= turn["end"] else min(abs(seconds - turn["start"]),
                                                                        abs(seconds - turn["end"]))
    return min(turns, key=distance)["speaker"]


def speaker_accuracy(segments: list, turns: list[dict]) -> tuple[float, int, dict[int, str]]:
    """Share of words whose speaker is right, under the best matching of speaker ids to the
    fixture's speakers; also the word count and that matching."""
    pairs = [(true_speaker(turns, (w.start + w.end) / 2), s.speaker_id) for s in segments for w in s.words]
    truth = sorted({t for t, _ in pairs})
    found = sorted({p for _, p in pairs})
    best, matching = -1, {}
    for chosen in itertools.permutations(truth, min(len(truth), len(found))):
        candidate = dict(zip(found, chosen, strict=False))
        right = sum(candidate.get(p) == t for t, p in pairs)
        if right > best:
            best, matching = right, candidate
    return best / len(pairs), len(pairs), matching


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


def reencode(source: Path, target: Path, *, codec: str, rate: int, sample_format: str,
             container: str | None = None) -> Path:
    """`source` written again as mono `codec` at `rate` Hz (with PyAV, the project's own audio
    library): the same recording in another container or sample rate."""
    import av

    with av.open(str(source)) as reader, av.open(str(target), "w", format=container) as writer:
        stream = writer.add_stream(codec, rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=sample_format, layout="mono", rate=rate)
        for frame in reader.decode(audio=0):
            for converted in resampler.resample(frame):
                writer.mux(stream.encode(converted))
        for converted in resampler.resample(None):
            writer.mux(stream.encode(converted))
        writer.mux(stream.encode(None))
    return target

