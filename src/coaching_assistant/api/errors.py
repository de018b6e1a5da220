"""Every error leaves the API as JSON: {"code": machine-readable, "message": for humans}."""

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


class NoContent(Exception):
    """Raised where a route has nothing to send: 204 No Content."""


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def error_response(exc: CoachingError) -> JSONResponse:
    status = exc.status_code if 400 <= exc.status_code < 600 else 500
    headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after is not None else None
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    if isinstance(exc, RangeNotSatisfiable):
        headers = {**(headers or {}), "Content-Range": f"bytes */{exc.size}"}
    return JSONResponse(error_body(exc.code, exc.message), status_code=status, headers=headers)


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
    async def _coaching(_request: Request, exc: CoachingError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(NoContent)
    async def _no_content(_request: Request, _exc: NoContent) -> Response:
        return Response(status_code=204)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def _database(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        return error_response(database_error(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer; the client still gets the JSON shape.
        return JSONResponse(error_body(ErrorCode.INTERNAL_ERROR, "An unexpected error occurred; it has been logged."),
                            status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
        invalid_json = any(e["type"] == "json_invalid" for e in errors)
        code = ErrorCode.INVALID_JSON if invalid_json else ErrorCode.VALIDATION_ERROR
        return JSONResponse(error_body(code, f"{where}: {first['msg']}", errors=errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            body = exc.detail
        elif exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8 JSON at all
            body = error_body(ErrorCode.INVALID_JSON, "The request body is not valid JSON (UTF-8 expected).")
        else:
            fallback = ErrorCode.BAD_REQUEST if exc.status_code < 500 else ErrorCode.INTERNAL_ERROR
            body = error_body(_HTTP_CODES.get(exc.status_code, fallback), str(exc.detail))
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))
