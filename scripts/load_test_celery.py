#!/usr/bin/env python3
"""Submit N real uploads at once through the API, wait for all of them, print the numbers.

    python3 scripts/load_test_celery.py --sessions 20 [--server URL] [--file F] [--api-key K]

The server is --server, else COACHING_SERVER, else the `make run` running on this DATA_DIR (its
run file), else http://127.0.0.1:8000.

Every session is real: created, uploaded and transcribed by whatever workers serve the queue.
Per-worker counts come from each task's result (the worker's hostname). Uploads the server asks to
wait (429, its per-user limits) are sent again after Retry-After. Exits 1 if any session
did not complete. Run with the system python3, it re-runs itself with the project's .venv.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from project_python import ROOT, ensure_project_python

FINAL = ("completed", "failed", "cancelled")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> int:
    import httpx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--server", help="API URL (default: COACHING_SERVER, else the running `make run`, "
                                         "else http://127.0.0.1:8000)")
    parser.add_argument("--file", type=Path, default=ROOT / "tests" / "fixtures" / "coaching_conversation.mp3")
    parser.add_argument("--api-key", help="API key (default: COACHING_API_KEY, else the local CLI user)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for all sessions")
    args = parser.parse_args()
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    from coaching_assistant.core.config import get_settings
    from coaching_assistant.run_file import server_url, use_running_broker

    server = args.server or server_url()
    use_running_broker()  # the per-worker counts read task results from its result backend
    key = args.api_key or get_settings().coaching_api_key
    if not key:
        from coaching_assistant.cli import local_api_key

        key = local_api_key()
    client = httpx.Client(base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {key}"},
                          timeout=120)
    audio = args.file.read_bytes()

    def post(path: str, **kwargs: object) -> tuple[httpx.Response, float]:
        """POST, waiting out the server's per-user limits (429 with Retry-After) as a polite client
        does; returns the answer and when its successful attempt started."""
        for _ in range(100):
            started = time.monotonic()
            response = client.post(path, **kwargs)  # type: ignore[arg-type]
            if response.status_code != 429:
                return response.raise_for_status(), started
            time.sleep(float(response.headers.get("Retry-After", "1")))
        return response.raise_for_status(), started

    def submit(i: int) -> tuple[str, str, float]:
        sid = post("/api/v1/sessions", json={"title": f"load test {i + 1}"})[0].json()["id"]
        response, started = post(f"/api/v1/sessions/{sid}/audio", files={"file": (args.file.name, audio)})
        return sid, response.json()["task_id"], started

    print(f"Submitting {args.sessions} uploads of {args.file.name} to {server} ...", flush=True)
    wall_start = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=min(args.sessions, 16)) as pool:
            submitted = list(pool.map(submit, range(args.sessions)))
    except httpx.HTTPError as exc:
        print(f"Could not submit: {exc}", file=sys.stderr)
        return 1

    finished: dict[str, tuple[str, float]] = {}
    deadline = time.monotonic() + args.timeout
    while len(finished) < len(submitted) and time.monotonic() < deadline:
        for sid, _, started in submitted:
            if sid not in finished:
                status = client.get(f"/api/v1/sessions/{sid}/status").json()["status"]
                if status in FINAL:
                    finished[sid] = (status, time.monotonic() - started)
        print(f"\r{len(finished)}/{len(submitted)} finished", end="", flush=True)
        time.sleep(0.5)
    wall = time.monotonic() - wall_start
    print()

    from coaching_assistant.core.celery_app import celery_app

    per_worker: Counter[str] = Counter()
    for sid, task_id, _ in submitted:
        if finished.get(sid, ("",))[0] == "completed":
            try:
                result = celery_app.AsyncResult(task_id).result
                per_worker[result.get("worker", "unknown") if isinstance(result, dict) else "unknown"] += 1
            except Exception:
                per_worker["unknown"] += 1

    ok = [latency for status, latency in finished.values() if status == "completed"]
    failed = len(submitted) - len(ok)
    rows = [("Total sessions", len(submitted)), ("Successful", len(ok)), ("Failed or unfinished", failed),
            ("Wall time (s)", f"{wall:.1f}"),
            ("Average time per task (s)", f"{wall / len(submitted):.2f}"),
            ("Tasks per minute", f"{len(ok) / wall * 60:.1f}")]
    if ok:
        rows += [("Average latency (s)", f"{statistics.mean(ok):.1f}"),
                 ("Latency p50 (s)", f"{statistics.median(ok):.1f}"),
                 ("Latency p95 (s)", f"{percentile(ok, 0.95):.1f}")]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print("Processed per worker:")
    for worker, count in sorted(per_worker.items()):
        print(f"  {worker}  {count}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    ensure_project_python()
    sys.exit(main())
