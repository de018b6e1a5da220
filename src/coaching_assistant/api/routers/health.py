"""GET /api/health: database, broker and workers. 503 when the database or broker is down.

The answer is bounded in time whatever the load: the checks run in one thread of their own, one
at a time, and their result is reused for HEALTH_CACHE_SECONDS (see api/cached.py). The answer is
only the status, ok / degraded / unavailable; `?detail=true` with a valid API key (or with
HEALTH_DETAIL_PUBLIC=true) adds what was checked, including the workers' host names. Only a call
that asks for detail looks a key up, so a flood with made-up keys costs no database queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from coaching_assistant.api.auth import user_from_headers
from coaching_assistant.api.cached import CachedCheck
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.database import new_session
from coaching_assistant.core.task_queue import check_broker, worker_names

router = APIRouter(tags=["health"])

CHECK_WAIT_SECONDS = 5.0  # database connect (2 s) + broker connect (2 s) + worker ping (0.5 s)


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


def _workers() -> dict[str, object]:
    names = worker_names(timeout=0.5)
    return {"count": len(names), "names": names}


def check_all() -> dict[str, Any]:
    database, broker = _timed(_database), _timed(lambda: check_broker(timeout=2))
    workers = _timed(_workers) if broker["ok"] else {"ok": False, "error": "broker unreachable"}
    healthy = bool(database["ok"] and broker["ok"])
    status = "ok" if healthy and workers.get("count") else ("degraded" if healthy else "unavailable")
    return {"status": status, "database": database, "broker": broker, "workers": workers}


_checks = CachedCheck(check_all, ttl=get_settings().health_cache_seconds, wait=CHECK_WAIT_SECONDS,
                      name="health-check")


@router.get("/api/health")
async def health(request: Request, detail: bool = False) -> JSONResponse:
    """`ok`: database, broker and at least one worker answer. `degraded`: the service accepts
    uploads but no worker answered, so nothing is transcribed yet. `unavailable` (503): the
    database or the broker is down, or the check did not finish in time."""
    found, age = await _checks.get()
    if found is None:
        found = {"status": "unavailable",
                 "error": f"the health check did not finish within {CHECK_WAIT_SECONDS:.0f} seconds"}
    status_code = 503 if found["status"] == "unavailable" else 200
    if detail and (get_settings().health_detail_public or await user_from_headers(request.headers) is not None):
        return JSONResponse({**found, "checked_seconds_ago": round(age or 0.0, 1)}, status_code=status_code)
    return JSONResponse({"status": found["status"]}, status_code=status_code)
