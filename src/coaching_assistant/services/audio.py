"""Audio probing (API side, cheap) and decoding (worker side) through PyAV's bundled FFmpeg.

Decoding never holds the whole recording in memory: it streams 16 kHz mono int16 into an unnamed
temporary file, and readers take float32 blocks of it (`DecodedAudio`). A four-hour recording is
460 MB of int16 on disk instead of several gigabytes of float32 copies in the worker.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import av
import numpy as np

from coaching_assistant.core.errors import ErrorCode, PermanentError

SAMPLE_RATE = 16000  # what every decoded file holds, mono; the engines and the speaker encoder expect it
# Below telephone quality there is no speech to transcribe, and resampling a 1 Hz file to 16 kHz
# turns a few kilobytes into gigabytes (a 28 KB WAV at 1 Hz is 14,000 s of audio).
MIN_SAMPLE_RATE = 8000
# A conversation recorder has one or two channels, a multitrack one a few; hundreds of channels
# are a malformed or hostile file that FFmpeg's downmix refuses later anyway.
MAX_CHANNELS = 8

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


def check_format(sample_rate: int, channels: int) -> None:
    """Refuse sample rates and channel counts no recording of a conversation has (see
    MIN_SAMPLE_RATE, MAX_CHANNELS). 0 means "not known yet" and passes: the frames are checked too."""
    if 0 < sample_rate < MIN_SAMPLE_RATE:
        raise PermanentError(
            f"The audio's sample rate is {sample_rate} Hz; the minimum is {MIN_SAMPLE_RATE} Hz.",
            code=ErrorCode.SAMPLE_RATE_TOO_LOW)
    if channels > MAX_CHANNELS:
        raise PermanentError(
            f"The audio has {channels} channels; the maximum is {MAX_CHANNELS}.",
            code=ErrorCode.TOO_MANY_CHANNELS)


def probe(path: Path, extension: str) -> AudioInfo:
    """Check that the file is audio of the kind its name claims, that it decodes, and that its
    sample rate and channel count are plausible (422 `sample_rate_too_low`, `too_many_channels`).

    Decodes up to the first second of audio, so a text file renamed `.mp3` or a header with no
    audio after it is refused here rather than in the worker. The duration is the header's, and
    headers lie: the worker counts decoded samples again.
    """
    unsupported = PermanentError(
        f"The file is not valid {extension.upper()} audio or could not be decoded.",
        code=ErrorCode.UNDECODABLE_AUDIO,
    )
    try:
        with av.open(str(path), options=OPEN_OPTIONS) as container:
            if container.format.name not in SUPPORTED_FORMATS.get(extension, set()):
                raise unsupported
            if not container.streams.audio:
                raise unsupported
            stream = container.streams.audio[0]
            check_format(stream.codec_context.sample_rate, stream.codec_context.channels)
            decoded = 0.0
            for frame in container.decode(stream):
                check_format(frame.sample_rate, len(frame.layout.channels))
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


class DecodedAudio:
    """A decoded recording: 16 kHz mono int16 in an unnamed temporary file, read as float32 blocks.

    Slicing (`audio[a:b]`, step 1 only) returns a new float32 array scaled to [-1, 1), the values
    the whole-array decoder used to return, so a block of it is what every provider and the
    diarizer take. Reads go through the file, not a memory map: mapped pages would count towards
    the worker's resident memory for as long as the mapping lives. Not for concurrent readers.
    """

    def __init__(self, file: BinaryIO, length: int):
        self._file = file
        self._length = length

    def __len__(self) -> int:
        return self._length

    @property
    def duration_seconds(self) -> float:
        return self._length / SAMPLE_RATE

    def __getitem__(self, index: slice) -> np.ndarray:
        if not isinstance(index, slice):
            raise TypeError("DecodedAudio is read in blocks: index it with a slice")
        start, stop, step = index.indices(self._length)
        if step != 1:
            raise ValueError("DecodedAudio is read in contiguous blocks (step 1)")
        count = max(0, stop - start)
        self._file.seek(start * 2)
        pcm = np.fromfile(self._file, dtype="<i2", count=count)
        if pcm.size != count:
            raise OSError("The decoded audio file is shorter than expected")
        samples = pcm.astype(np.float32)
        samples /= 32768.0
        return samples

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> DecodedAudio:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def decode_to_file(path: Path, *, work_dir: Path | None = None, max_seconds: float | None = None) -> DecodedAudio:
    """Decode to 16 kHz mono int16 in an unnamed temporary file under `work_dir`; close it after use.

    The file never has a name (O_TMPFILE, or unlinked at once), so it is gone when closed, when
    this raises, and even when the worker is killed. Decoding stops as soon as the decoded audio
    passes `max_seconds`, whatever the header said: a small file that expands to hours of audio
    (a decompression bomb, or a header that lies about its length) is refused while decoding,
    with at most one frame of it in memory.
    """
    limit = int(max_seconds * SAMPLE_RATE) if max_seconds else None
    file = tempfile.TemporaryFile(dir=work_dir, prefix="decoded-")
    total = 0
    try:
        for chunk in _mono_chunks(path):
            file.write(chunk.tobytes())
            total += chunk.size
            if limit is not None and total > limit:
                raise PermanentError(f"The audio is longer than the maximum of {max_seconds:.0f} seconds.",
                                     ErrorCode.AUDIO_TOO_LONG)
        if total == 0:
            raise PermanentError("The audio contains no samples.", ErrorCode.UNDECODABLE_AUDIO)
        file.flush()
    except (av.FFmpegError, ValueError, IndexError) as exc:
        file.close()
        raise PermanentError(f"The audio could not be decoded: {exc}", ErrorCode.UNDECODABLE_AUDIO) from exc
    except BaseException:
        file.close()
        raise
    return DecodedAudio(file, total)


def _mono_chunks(path: Path) -> Iterator[np.ndarray]:
    """The file's first audio stream as 16 kHz mono int16 chunks, one decoded frame at a time."""
    with av.open(str(path), options=OPEN_OPTIONS, metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise PermanentError("The file has no audio stream.", ErrorCode.UNDECODABLE_AUDIO)
        stream = container.streams.audio[0]
        # Files stored before the upload checked these fail here with the same codes.
        check_format(stream.codec_context.sample_rate, stream.codec_context.channels)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(stream):
            check_format(frame.sample_rate, len(frame.layout.channels))
            for out in resampler.resample(frame):
                yield out.to_ndarray().reshape(-1).astype("<i2", copy=False)
        for out in resampler.resample(None):
            yield out.to_ndarray().reshape(-1).astype("<i2", copy=False)


def decode(path: Path, *, max_seconds: float | None = None) -> np.ndarray:
    """The whole recording as one 16 kHz mono float32 array: for short clips (tests, benchmarks).
    The pipeline reads `decode_to_file` in blocks instead."""
    with decode_to_file(path, max_seconds=max_seconds) as decoded:
        return decoded[:]
