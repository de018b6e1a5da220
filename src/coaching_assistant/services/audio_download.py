"""A session's stored audio as a client reads it back: which file, its media type, and the bytes
a Range header asks for, so a browser's <audio> can seek in a two-hour recording without
downloading it first.

The file is opened once and its size read from the open file, so audio deleted meanwhile (by
retention or a delete) is either served whole or refused, never cut short. Only one range is
served: a header asking for several (`bytes=0-1,5-9`) gets the whole file with 200, which HTTP
allows and every player handles. Audio kept in a gs:// bucket is not served through the API.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError, ErrorCode, RangeNotSatisfiable
from coaching_assistant.models import CoachingSession, SessionStatus
from coaching_assistant.services import audio, storage

CHUNK_BYTES = 64 * 1024
# The stored file's extension (always one of audio.SUPPORTED_FORMATS) -> what a browser expects.
MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "m4a": "audio/mp4", "ogg": "audio/ogg",
               "flac": "audio/flac", "webm": "audio/webm"}
_SINGLE_RANGE = re.compile(r"bytes\s*=\s*(\d*)\s*-\s*(\d*)", re.IGNORECASE)


@dataclass(frozen=True)
class AudioBytes:
    """What to send: bytes `first`..`last` (inclusive) of a file of `size` bytes, read in chunks."""

    chunks: Iterator[bytes]
    media_type: str
    size: int
    first: int
    last: int
    partial: bool  # a range was asked for (206), else the whole file (200)

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def read_audio(settings: Settings, session: CoachingSession, *, range_header: str | None) -> AudioBytes:
    """The session's audio, whole or the one range asked for; the caller already scoped the
    session to its user."""
    uri = _audio_uri(session)
    storage.check_location(settings, uri)  # only ever a file under our own storage directory
    try:
        file = open(uri, "rb")  # closed by `_chunks`, or below on a bad range
    except FileNotFoundError:
        raise CoachingError("The session's audio is no longer in storage.", ErrorCode.AUDIO_NOT_FOUND) from None
    size = os.fstat(file.fileno()).st_size
    try:
        span = byte_range(range_header, size)
    except RangeNotSatisfiable:
        file.close()
        raise
    first, last = span if span else (0, size - 1)
    return AudioBytes(chunks=_chunks(file, first, last), media_type=media_type_of(uri), size=size,
                      first=first, last=last, partial=span is not None)


def _audio_uri(session: CoachingSession) -> str:
    if session.audio_uri:
        if session.audio_uri.startswith("gs://"):
            raise CoachingError("This session's audio is kept in the cloud bucket; the API serves only audio "
                                "stored on this server.", ErrorCode.AUDIO_IN_BUCKET)
        return session.audio_uri
    if session.audio_deleted_at:
        raise CoachingError(f"The session's audio was deleted on {session.audio_deleted_at:%Y-%m-%d} "
                            "(AUDIO_RETENTION_DAYS); the transcript is kept.", ErrorCode.AUDIO_NOT_FOUND)
    if session.status == SessionStatus.UPLOADING:
        raise CoachingError("No audio has been uploaded to this session yet.", ErrorCode.AUDIO_NOT_FOUND)
    raise CoachingError("This session has no audio (its transcript was imported).", ErrorCode.AUDIO_NOT_FOUND)


def media_type_of(uri: str) -> str:
    return MEDIA_TYPES.get(audio.extension_of(uri), "application/octet-stream")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte (inclusive) of a single `bytes=a-b`, `bytes=a-` or `bytes=-n`
    range, clipped to the file; None for no header or several ranges (the whole file). A range
    that cannot be read, or starts past the end, is refused."""
    if header is None or "," in header:
        return None
    match = _SINGLE_RANGE.fullmatch(header.strip())
    if not match or match.groups() == ("", ""):
        raise RangeNotSatisfiable(f"Range {header!r} is not a single byte range such as 'bytes=0-1023'.", size=size)
    start, end = match.groups()
    if not start:  # the last n bytes
        if int(end) == 0 or size == 0:
            raise RangeNotSatisfiable(f"Range {header!r} asks for no bytes.", size=size)
        return max(0, size - int(end)), size - 1
    first, last = int(start), int(end) if end else size - 1
    if first > last:
        raise RangeNotSatisfiable(f"Range {header!r} ends before it starts.", size=size)
    if first >= size:
        raise RangeNotSatisfiable(f"Range {header!r} starts past the end of the {size}-byte file.", size=size)
    return first, min(last, size - 1)


def _chunks(file: BinaryIO, first: int, last: int) -> Iterator[bytes]:
    with file:
        file.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = file.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
