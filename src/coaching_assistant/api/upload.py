"""Stream a multipart upload straight to disk, counting the bytes actually received.

Starlette's form parser spools the whole body before a route runs; here the `file` part is
written as it arrives and the upload is refused (413) the moment it passes the limit, whatever
Content-Length claimed. Every byte of the body counts, the other parts' too: only the file part
is kept, but a form of many large text fields would otherwise pass unmetered.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

from coaching_assistant.core.errors import CoachingError, ErrorCode
from coaching_assistant.services.sessions import ReceivedFile

FIELD = "file"
FORM_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and small fields beside the file


class _FilePartWriter:
    """Callbacks for python-multipart: keep the first `file` part, ignore the others."""

    def __init__(self, sink: BinaryIO, max_bytes: int):
        self.sink = sink
        self.max_bytes = max_bytes
        self.size = 0
        self.filename: str | None = None
        self.seen = False
        self._in_file = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def callbacks(self) -> dict[str, object]:
        return {"on_header_field": self.on_header_field, "on_header_value": self.on_header_value,
                "on_header_end": self.on_header_end, "on_headers_finished": self.on_headers_finished,
                "on_part_data": self.on_part_data, "on_part_end": self.on_part_end}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._in_file = disposition.get(b"name", b"") == FIELD.encode() and not self.seen
        if self._in_file:
            self.seen = True
            self.filename = disposition.get(b"filename", b"").decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise _too_large(self.max_bytes)
        self.sink.write(data[start:end])

    def on_part_end(self) -> None:
        self._headers = {}
        self._in_file = False


def _too_large(max_bytes: int) -> CoachingError:
    return CoachingError(f"The file exceeds the upload limit of {max_bytes} bytes.",
                         code=ErrorCode.FILE_TOO_LARGE)


async def receive_file(request: Request, *, directory: Path, max_bytes: int) -> ReceivedFile:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise CoachingError("Send the audio as multipart/form-data with a 'file' field.",
                            code=ErrorCode.MULTIPART_REQUIRED)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD_BYTES:
        raise _too_large(max_bytes)  # early refusal; the real check counts the bytes below

    temp_path = directory / f"{uuid.uuid4().hex}.part"
    try:
        with temp_path.open("wb") as sink:
            writer = _FilePartWriter(sink, max_bytes)
            body_bytes = 0
            try:
                parser = MultipartParser(boundary, writer.callbacks())  # type: ignore[arg-type]
                async for chunk in request.stream():
                    body_bytes += len(chunk)
                    if body_bytes > max_bytes + FORM_OVERHEAD_BYTES:
                        raise _too_large(max_bytes)
                    parser.write(chunk)
                parser.finalize()
            except (CoachingError, HTTPException):  # ours, or the body guard's (api/guard.py)
                raise
            except Exception as exc:
                raise CoachingError(f"The multipart body could not be parsed: {exc}",
                                    code=ErrorCode.MALFORMED_MULTIPART) from exc
        if not writer.seen:
            raise CoachingError("The form has no 'file' field with the audio.", code=ErrorCode.MISSING_FILE)
        if not writer.filename:
            raise CoachingError("The 'file' field has no file name.", code=ErrorCode.MISSING_FILENAME)
        return ReceivedFile(temp_path=temp_path, filename=writer.filename, size=writer.size)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
