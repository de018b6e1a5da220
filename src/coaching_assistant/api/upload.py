"""Stream a multipart upload straight to disk, counting the bytes actually received.

Starlette's form parser spools the whole body before a route runs; here the `file` part is
written as it arrives and the upload is refused (413) the moment it passes the limit, whatever
Content-Length claimed. Every byte of the body counts, the other parts' too: only the file part
is kept, but a form of many large text fields would otherwise pass unmetered. The other parts
are kept as text (`ReceivedFile.fields`) up to FORM_OVERHEAD_BYTES in all: an OpenAI-style form
sends its options (model, language…) beside the file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy.orm import Session

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError, ErrorCode
from coaching_assistant.services import storage
from coaching_assistant.services.sessions import ReceivedFile

FIELD = "file"
FORM_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and small fields beside the file


class _FormWriter:
    """Callbacks for python-multipart: write the first `file` part to `sink`, keep the others as text."""

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
        self.fields: dict[str, list[str]] = {}
        self._text_name: str | None = None  # the text part being read
        self._text = bytearray()
        self._text_bytes = 0  # all text parts together

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
        name = disposition.get(b"name", b"")
        self._in_file = name == FIELD.encode() and not self.seen
        if self._in_file:
            self.seen = True
            self.filename = disposition.get(b"filename", b"").decode("utf-8", "replace")
        elif b"filename" not in disposition:  # a text field, not another file
            self._text_name = name.decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._text_name is not None:
            self._text_bytes += end - start
            if self._text_bytes > FORM_OVERHEAD_BYTES:
                raise CoachingError(f"The form's text fields exceed {FORM_OVERHEAD_BYTES} bytes.",
                                    code=ErrorCode.BODY_TOO_LARGE)
            self._text += data[start:end]
            return
        if not self._in_file:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise _too_large(self.max_bytes)
        self.sink.write(data[start:end])

    def on_part_end(self) -> None:
        if self._text_name is not None:
            self.fields.setdefault(self._text_name, []).append(self._text.decode("utf-8", "replace"))
        self._headers = {}
        self._in_file = False
        self._text_name = None
        self._text = bytearray()


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
            writer = _FormWriter(sink, max_bytes)
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
        return ReceivedFile(temp_path=temp_path, filename=writer.filename, size=writer.size, fields=writer.fields)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise


async def receive_checked(request: Request, db: Session, settings: Settings, *, check: Callable[[], None],
                          max_bytes: int) -> ReceivedFile:
    """Run `check` before a byte of the body is read, give the database connection back, then
    stream the body to a temporary file."""
    def checked() -> None:
        try:
            check()
        finally:
            db.rollback()

    await run_in_threadpool(checked)
    return await receive_file(request, directory=storage.incoming_dir(settings), max_bytes=max_bytes)
