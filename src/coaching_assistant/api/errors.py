"""Every error leaves the API as JSON: {"code": machine-readable, "message": for humans}."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from coaching_assistant.core.errors import CoachingError

logger = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "body_timeout", 409: "conflict", 413: "body_too_large",
               415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests",
               503: "service_unavailable"}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def error_response(exc: CoachingError) -> JSONResponse:
    status = exc.status_code if 400 <= exc.status_code < 600 else 500
    headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after is not None else None
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(error_body(exc.code, exc.message), status_code=status, headers=headers)


def database_error(exc: SQLAlchemyError) -> CoachingError:
    """503 for a database that is busy (every connection in use: the load, not the request, is the
    problem) or unreachable."""
    if isinstance(exc, PoolTimeout):
        return CoachingError("The database is busy; try again in a moment.", code="database_busy",
                             status_code=503, retry_after=2)
    logger.warning("Database unavailable: %s", exc.__class__.__name__)
    return CoachingError("The database is unavailable; try again shortly.", code="database_unavailable",
                         status_code=503, retry_after=5)


def install(app: FastAPI) -> None:
    @app.exception_handler(CoachingError)
    async def _coaching(_request: Request, exc: CoachingError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def _database(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        return error_response(database_error(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this answer; the client still gets the JSON shape.
        return JSONResponse(error_body("internal_error", "An unexpected error occurred; it has been logged."),
                            status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
        code = "invalid_json" if any(e["type"] == "json_invalid" for e in errors) else "validation_error"
        return JSONResponse(error_body(code, f"{where}: {first['msg']}", errors=errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            body = exc.detail
        elif exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8 JSON at all
            body = error_body("invalid_json", "The request body is not valid JSON (UTF-8 expected).")
        else:
            body = error_body(_HTTP_CODES.get(exc.status_code, "error"), str(exc.detail))
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))
