"""Audio probing (API side, cheap) and decoding (worker side) through PyAV's bundled FFmpeg."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from coaching_assistant.core.errors import PermanentError

SAMPLE_RATE = 16000

# Extension -> the FFmpeg demuxer names we accept for it.
SUPPORTED_FORMATS: dict[str, set[str]] = {
    "wav": {"wav"},
    "mp3": {"mp3"},
    "m4a": {"mov,mp4,m4a,3gp,3g2,mj2"},
    "ogg": {"ogg"},
    "flac": {"flac"},
    "webm": {"matroska,webm"},
}

# Only these demuxers may run, and only on local files: a playlist or concat script disguised as
# audio never gets to open other files or URLs.
OPEN_OPTIONS = {"format_whitelist": "wav,mp3,mov,ogg,flac,matroska", "protocol_whitelist": "file"}


@dataclass(frozen=True)
class AudioInfo:
    format: str
    codec: str
    duration_seconds: float


def extension_of(filename: str) -> str:
    return Path(filename).suffix.lower().lstrip(".")


def probe(path: Path, extension: str) -> AudioInfo:
    """Check that the file is audio of the kind its name claims, and that it decodes.

    Decodes up to the first second of audio, so a text file renamed `.mp3` or a header with no
    audio after it is refused here rather than in the worker.
    """
    unsupported = PermanentError(
        f"The file is not valid {extension.upper()} audio or could not be decoded.",
        code="undecodable_audio", status_code=422,
    )
    try:
        with av.open(str(path), options=OPEN_OPTIONS) as container:
            if container.format.name not in SUPPORTED_FORMATS.get(extension, set()):
                raise unsupported
            if not container.streams.audio:
                raise unsupported
            stream = container.streams.audio[0]
            decoded = 0.0
            for frame in container.decode(stream):
                decoded += frame.samples / (frame.sample_rate or 1)
                if decoded >= 1.0:
                    break
            if decoded <= 0:
                raise unsupported
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = decoded
            return AudioInfo(format=container.format.name, codec=stream.codec_context.name,
                             duration_seconds=round(float(duration), 3))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise unsupported from exc


def decode(path: Path, *, max_seconds: float | None = None) -> np.ndarray:
    """16 kHz mono float32, the input every provider takes.

    Stops as soon as the decoded audio passes `max_seconds`: a small file that expands to hours
    of audio (a decompression bomb, or a header that lies about its length) is refused before it
    fills memory or reaches the engine.
    """
    limit = int(max_seconds * SAMPLE_RATE) if max_seconds else None
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(str(path), options=OPEN_OPTIONS, metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise PermanentError("The file has no audio stream.", code="audio_decode_failed")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if limit is not None and total > limit:
                    raise PermanentError(
                        f"The audio is longer than the maximum of {max_seconds:.0f} seconds.",
                        code="audio_too_long")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.FFmpegError, ValueError, IndexError) as exc:
        raise PermanentError(f"The audio could not be decoded: {exc}", code="audio_decode_failed") from exc
    if not chunks or total == 0:
        raise PermanentError("The audio contains no samples.", code="audio_decode_failed")
    return (np.concatenate(chunks).astype(np.float32) / 32768.0)
