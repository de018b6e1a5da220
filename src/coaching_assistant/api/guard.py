"""The gate every /api/v1 and /v1 (OpenAI-compatible) request passes before a route sees it (a plain
ASGI middleware).

In order, before a byte of the body is read: the API key or session cookie (api/auth.py), for a
write with the cookie its CSRF token (api/csrf.py), then a slot among the user's concurrent
requests (api/limits.py), then the body itself is wrapped so that a JSON body
over MAX_JSON_BODY_BYTES is cut off (413 body_too_large) and a body that stops arriving for
BODY_IDLE_TIMEOUT_SECONDS, or trickles in slower than BODY_MIN_BYTES_PER_SECOND, is abandoned
(408 body_timeout). Uploads (multipart) have their own,
larger limit, counted over every part in api/upload.py. Sign-in is the one route with neither
key nor cookie (only its Origin is checked); its body is capped like any other.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import HTTPException
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coaching_assistant.api.auth import authenticate
from coaching_assistant.api.csrf import check_origin, check_write
from coaching_assistant.api.errors import database_error, error_body, error_response
from coaching_assistant.api.limits import PerUserLimit
from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import HTTP_STATUS, CoachingError, ErrorCode

PROTECTED_PREFIXES = ("/api/v1/", "/v1/")  # our API, and the OpenAI-compatible one
UPLOAD_SUFFIXES = ("/audio", "/transcript")  # POST /api/v1/sessions/{id}/audio and …/transcript
OPENAI_UPLOAD = "/v1/audio/transcriptions"
MULTIPART_SLACK_BYTES = 1024 * 1024  # form headers and boundaries around the largest accepted file
SIGN_IN = ("POST", "/api/v1/auth/sign-in")  # the way to get a cookie cannot require one


class BodyRejected(HTTPException):
    """Raised from inside `receive`; an HTTPException so FastAPI's body reading passes it through
    instead of calling it a parse error."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(HTTP_STATUS[code], error_body(code, message), headers={"Connection": "close"})


def body_too_large(limit: int) -> BodyRejected:
    return BodyRejected(ErrorCode.BODY_TOO_LARGE, f"The request body exceeds the limit of {limit} bytes.")


def guarded_receive(receive: Receive, *, limit: int, idle_timeout: float, min_rate: float) -> Receive:
    """`receive` that counts the body as it arrives and gives up on a body that stops, or that
    after `idle_timeout` seconds averages fewer than `min_rate` bytes a second (one that trickles
    a few bytes just often enough would otherwise hold its connection for days)."""
    received = 0
    complete = False
    started = time.monotonic()

    async def wrapped() -> Message:
        nonlocal received, complete
        if complete:  # after the body only a disconnect can come, whenever it comes
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), timeout=idle_timeout)
        except TimeoutError:
            raise BodyRejected(ErrorCode.BODY_TIMEOUT, f"The request body stopped arriving for {idle_timeout:g} "
                                                    "seconds; send it again.") from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            if received > limit:
                raise body_too_large(limit)
            elapsed = time.monotonic() - started
            if not complete and elapsed > idle_timeout and received < min_rate * elapsed:
                raise BodyRejected(ErrorCode.BODY_TIMEOUT, f"The request body arrives at under {min_rate:g} bytes a "
                                                        "second; send it again on a faster connection.")
        return message

    return wrapped


class ApiGuard:
    def __init__(self, app: ASGIApp, settings: Settings):
        self.app, self.settings = app, settings
        self.requests = PerUserLimit(settings.user_max_concurrent_requests, what="requests",
                                     code=ErrorCode.TOO_MANY_REQUESTS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        # The route decides, not the client's Content-Type: only the two upload routes may take a
        # large body (their own reader counts it precisely, api/upload.py); everything else is JSON.
        upload = scope["method"] == "POST" and (scope["path"].endswith(UPLOAD_SUFFIXES)
                                                or scope["path"] == OPENAI_UPLOAD)
        limit = self.settings.max_upload_bytes + MULTIPART_SLACK_BYTES if upload else self.settings.max_json_body_bytes
        try:
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise CoachingError(f"The request body exceeds the limit of {limit} bytes.",
                                    ErrorCode.FILE_TOO_LARGE if upload else ErrorCode.BODY_TOO_LARGE)
            if (scope["method"], scope["path"]) == SIGN_IN:
                check_origin(scope, self.settings)
                caller = None
            else:
                caller = await authenticate(headers)
                if caller.web_session is not None:
                    check_write(scope, self.settings, caller.web_session)
                self.requests.acquire(caller.user.id)
        except SQLAlchemyError as exc:
            await self._refuse(database_error(exc), scope, receive, send)
            return
        except CoachingError as exc:
            await self._refuse(exc, scope, receive, send)
            return
        if caller is None:
            await self._pass(scope, receive, send, limit=limit)
            return
        try:
            scope.setdefault("state", {}).update(user=caller.user, web_session=caller.web_session)
            await self._pass(scope, receive, send, limit=limit)
        finally:
            self.requests.release(caller.user.id)

    async def _pass(self, scope: Scope, receive: Receive, send: Send, *, limit: int) -> None:
        """Hand the request to the app, its body counted and timed as it arrives."""
        await self.app(scope, guarded_receive(receive, limit=limit,
                                              idle_timeout=self.settings.body_idle_timeout_seconds,
                                              min_rate=self.settings.body_min_bytes_per_second), send)

    @staticmethod
    async def _refuse(exc: CoachingError, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer before the route starts, without reading the body, and close the connection so
        the unread body is not taken for the next request."""
        response = error_response(exc, scope["path"])
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
