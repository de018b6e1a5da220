"""GET /api/health: database, broker and workers. 503 when the database or broker is down."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from coaching_assistant.core.celery_app import celery_app
from coaching_assistant.core.database import new_session

router = APIRouter(tags=["health"])


def _timed(check: Callable[[], dict[str, object] | None]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        detail = check() or {}
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1), **detail}
    except Exception as exc:
        return {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:300]}


def _database() -> None:
    with new_session() as db:
        db.execute(text("SELECT 1"))


def _broker() -> None:
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)


def _workers() -> dict[str, object]:
    replies = celery_app.control.ping(timeout=0.5) or []
    return {"count": len(replies), "names": sorted(name for reply in replies for name in reply)}


@router.get("/api/health")
def health() -> JSONResponse:
    database, broker = _timed(_database), _timed(_broker)
    workers = _timed(_workers) if broker["ok"] else {"ok": False, "error": "broker unreachable"}
    healthy = bool(database["ok"] and broker["ok"])
    status = "ok" if healthy and workers.get("count") else ("degraded" if healthy else "unavailable")
    body = {"status": status, "database": database, "broker": broker, "workers": workers}
    return JSONResponse(body, status_code=200 if healthy else 503)
