"""Every error leaves the API as JSON: {"code": machine-readable, "message": for humans}.

Under /v1/ (the OpenAI-compatible routes) the same error takes OpenAI's shape, so OpenAI's clients
read it: {"error": {"message", "type", "param", "code"}}, and a refused parameter or file is 400
there (not 422 or 415), as OpenAI answers."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from coaching_assistant.core.errors import CoachingError, ErrorCode, RangeNotSatisfiable

logger = logging.getLogger(__name__)

# The code for an HTTP error FastAPI or Starlette raise themselves (unknown route, wrong method…).
_HTTP_CODES = {400: ErrorCode.BAD_REQUEST, 401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN,
               404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 408: ErrorCode.BODY_TIMEOUT,
               409: ErrorCode.CONFLICT, 413: ErrorCode.BODY_TOO_LARGE, 415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
               422: ErrorCode.VALIDATION_ERROR, 429: ErrorCode.TOO_MANY_REQUESTS,
               503: ErrorCode.SERVICE_UNAVAILABLE}


OPENAI_PREFIX = "/v1/"


class NoContent(Exception):
    """Raised where a route has nothing to send: 204 No Content."""


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def answer(path: str, body: dict[str, Any], *, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """The error `body` ({"code", "message", …}) as the route at `path` gives its errors."""
    if path.startswith(OPENAI_PREFIX):
        status = 400 if status in (415, 422) else status
        extra = {key: value for key, value in body.items() if key not in ("code", "message")}
        body = {"error": {"message": body["message"], "type": "server_error" if status >= 500 else
                          "invalid_request_error", "param": extra.pop("param", None), "code": body["code"], **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def error_response(exc: CoachingError, path: str = "") -> JSONResponse:
    status = exc.status_code if 400 <= exc.status_code < 600 else 500
    headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after is not None else None
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    if isinstance(exc, RangeNotSatisfiable):
        headers = {**(headers or {}), "Content-Range": f"bytes */{exc.size}"}
    return answer(path, error_body(exc.code, exc.message, **exc.extra), status=status, headers=headers)


def database_error(exc: SQLAlchemyError) -> CoachingError:
    """503 for a database that is busy (every connection in use: the load, not the request, is the
    problem) or unreachable."""
    if isinstance(exc, PoolTimeout):
        return CoachingError("The database is busy; try again in a moment.", ErrorCode.DATABASE_BUSY, retry_after=2)
    logger.warning("Database unavailable: %s", exc.__class__.__name__)
    return CoachingError("The database is unavailable; try again shortly.", ErrorCode.DATABASE_UNAVAILABLE,
                         retry_after=5)


def install(app: FastAPI) -> None:
    @app.exception_handler(CoachingError)
    async def _coaching(request: Request, exc: CoachingError) -> JSONResponse:
        return error_response(exc, request.url.path)

    @app.exception_handler(NoContent)
    async def _no_content(_request: Request, _exc: NoContent) -> Response:
        return Response(status_code=204)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        return error_response(database_error(exc), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer; the client still gets the JSON shape.
        return answer(request.url.path, error_body(ErrorCode.INTERNAL_ERROR,
                                                   "An unexpected error occurred; it has been logged."), status=500)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
        invalid_json = any(e["type"] == "json_invalid" for e in errors)
        code = ErrorCode.INVALID_JSON if invalid_json else ErrorCode.VALIDATION_ERROR
        return answer(request.url.path, error_body(code, f"{where}: {first['msg']}", errors=errors), status=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            body = exc.detail
        elif exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8 JSON at all
            body = error_body(ErrorCode.INVALID_JSON, "The request body is not valid JSON (UTF-8 expected).")
        else:
            fallback = ErrorCode.BAD_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
            body = error_body(_HTTP_CODES.get(exc.status_code, fallback), str(exc.detail))
        return answer(request.url.path, body, status=exc.status_code, headers=getattr(exc, "headers", None))
