#!/usr/bin/env python3
"""Run a Celery worker behind an HTTP health endpoint (for Cloud Run and other platforms that
need a listening port and a health check).

    python apps/worker/health_server.py

Starts the worker as `make run-celery` does (`coaching_assistant.launcher.worker_command`) as a
child process and serves on $PORT (default 8080): `GET /health` answers 200 when the worker
process is alive and the broker answers, 503 (with the reason, as JSON) otherwise. SIGTERM/SIGINT
stop the worker warmly, then the server. CELERY_CONCURRENCY (default 2) and CELERY_LOGLEVEL
(default info) shape the worker.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

from coaching_assistant.core.config import get_settings
from coaching_assistant.core.errors import ErrorCode
from coaching_assistant.launcher import worker_command

logger = logging.getLogger("health_server")


class Health:
    def __init__(self, worker: subprocess.Popen[bytes], broker_url: str):
        self.worker = worker
        self.broker_url = broker_url

    def check(self) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"worker": {"alive": self.worker.poll() is None, "pid": self.worker.pid}}
        if not body["worker"]["alive"]:
            body["worker"]["exit_code"] = self.worker.returncode
        client = redis.Redis.from_url(self.broker_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
            body["broker"] = {"reachable": True}
        except redis.RedisError as exc:
            body["broker"] = {"reachable": False, "error": str(exc)[:200]}
        finally:
            client.close()
        healthy = body["worker"]["alive"] and body["broker"]["reachable"]
        body["status"] = "ok" if healthy else "unavailable"
        return (200 if healthy else 503), body


def make_handler(health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?")[0] not in ("/health", "/"):
                self._send(404, {"code": ErrorCode.NOT_FOUND, "message": "Try GET /health"})
                return
            self._send(*health.check())

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug(format, *args)

    return Handler


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s: %(levelname)s/health] %(message)s")
    port = int(os.environ.get("PORT", "8080"))
    command = worker_command(concurrency=os.environ.get("CELERY_CONCURRENCY", "2"),
                             loglevel=os.environ.get("CELERY_LOGLEVEL", "info"))
    worker = subprocess.Popen([sys.executable, "-m", *command])
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(Health(worker, get_settings().broker_url)))

    def stop(signum: int, _frame: object) -> None:
        logger.info("Signal %s: stopping the worker", signum)
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # warm shutdown: running tasks finish or are re-queued
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("Health endpoint on :%d/health; worker pid %d", port, worker.pid)
    server.serve_forever()
    server.server_close()
    try:
        return worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.wait()


if __name__ == "__main__":
    sys.exit(main())
