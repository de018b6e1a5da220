"""Recordings made up by the tests: odd WAV headers, long FLAC files, FLAC headers that lie."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 16000


def wav_file(path: Path, *, rate: int = RATE, channels: int = 1, seconds: float = 2.0) -> Path:
    """A 16-bit WAV of a quiet tone at any sample rate and channel count the format can state."""
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.3 * np.sin(2 * np.pi * min(220.0, rate / 4) * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.repeat(tone[:, None], channels, axis=1).tobytes())
    return path


def bursts(seconds: float, *, on: float = 7.0, period: float = 10.0, amplitude: float = 0.3) -> np.ndarray:
    """A tone `on` seconds of every `period`, digital silence in between: float32 at 16 kHz."""
    t = np.arange(int(seconds * RATE), dtype=np.float64) / RATE
    tone = amplitude * np.sin(2 * np.pi * 220 * t)
    tone[(t % period) >= on] = 0.0
    return tone.astype(np.float32)


def long_flac(path: Path, seconds: int, *, on: float = 7.0, period: float = 10.0,
              amplitude: float = 0.3) -> Path:
    """Tone bursts (see `bursts`) as 16 kHz mono FLAC, encoded ten seconds at a time, so an hour
    costs a second and about 15 MB, and never an hour in memory."""
    import av

    block = int(period * RATE)
    pattern = (bursts(period, on=on, period=period, amplitude=amplitude) * 32767).astype(np.int16)
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=RATE)
        stream.layout = "mono"
        for first in range(0, seconds * RATE, block):
            samples = pattern[:min(block, seconds * RATE - first)]
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
            frame.sample_rate, frame.pts = RATE, first
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def hide_flac_length(path: Path) -> Path:
    """Zero the total-samples field of the FLAC STREAMINFO block ("unknown"), as the issue's file
    had: FFmpeg then reports the length of the first frames it reads, about one second."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
    # STREAMINFO starts at byte 8: block and frame sizes (10 bytes), then 64 bits holding sample
    # rate (20), channels (3), bits per sample (5) and the total number of samples (36).
    packed = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)
    data[18:26] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path
