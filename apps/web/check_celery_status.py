#!/usr/bin/env python3
"""Is the transcription service able to work? Broker, workers, their tasks, the queue.

    python3 apps/web/check_celery_status.py

Exits 0 when the broker answers and at least one worker replies; 1 otherwise, saying why.
Reads REDIS_URL / CELERY_BROKER_URL (or .env) like the service does; without them, the broker
of the `make run` running on this DATA_DIR (its run file), else redis://localhost:6379/0. Run
with the system python3, it re-runs itself with the project's .venv interpreter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from project_python import ensure_project_python  # noqa: E402


def main() -> int:
    from coaching_assistant.run_file import use_running_broker

    running = use_running_broker()  # before the Celery app reads its broker

    import redis
    from kombu.utils.url import sanitize_url

    from coaching_assistant.core.celery_app import celery_app
    from coaching_assistant.core.config import get_settings
    from coaching_assistant.core.task_queue import queue_length
    from coaching_assistant.launcher import worker_command

    settings = get_settings()
    broker = sanitize_url(settings.broker_url) + (f" (of `make run`, pid {running.pid})" if running else "")
    try:
        queued = queue_length(timeout=3)
    except redis.RedisError as exc:
        print(f"Broker unreachable at {broker}: {exc}", file=sys.stderr)
        return 1
    print(f"Broker: {broker}, reachable")
    print(f"Queue '{settings.celery_queue}': {queued} message(s) waiting")

    inspector = celery_app.control.inspect(timeout=float(os.environ.get("CHECK_TIMEOUT_SECONDS", "2")))
    registered = inspector.registered() or {}
    if not registered:
        print(f"No worker answered. Start one with:\n  {' '.join(worker_command())}", file=sys.stderr)
        return 1
    active = inspector.active() or {}
    reserved = inspector.reserved() or {}
    print(f"Workers: {len(registered)}")
    for worker in sorted(registered):
        print(f"\n{worker}")
        print("  registered tasks:")
        for name in sorted(registered[worker]):
            print(f"    {name}")
        for label, tasks in (("active", active.get(worker, [])), ("reserved", reserved.get(worker, []))):
            print(f"  {label}: {len(tasks)}")
            for task in tasks:
                args = task.get("args") or []
                session = args[0] if args else "?"
                print(f"    {task.get('id')}  session {session}")
    return 0


if __name__ == "__main__":
    ensure_project_python()
    sys.exit(main())
