"""apps/worker/health_server.py on the host: /health is 200 only while the worker process lives
and the broker answers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import BIN, base_env, free_port
from tests.e2e.conftest import Process

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "apps" / "worker" / "health_server.py"


def health(url: str) -> tuple[int, dict]:
    response = httpx.get(url, timeout=10)
    return response.status_code, response.json()


def wait_for_status(url: str, status: int, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        try:
            seen = health(url)
            if seen[0] == status:
                return seen[1]
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"/health never answered {status}; last: {seen}")


def test_health_follows_the_worker_and_the_broker(tmp_path, private_redis):
    port = free_port()
    server = Process([str(BIN / "python"), str(SCRIPT)],
                     base_env(PORT=str(port), REDIS_URL=private_redis.url, STT_PROVIDER="fake",
                              CELERY_CONCURRENCY="1"), tmp_path / "health.log")
    url = f"http://127.0.0.1:{port}/health"
    try:
        server.wait_for("ready.", timeout=90)  # the worker's own banner, in the same log
        body = wait_for_status(url, 200)
        assert body["worker"]["alive"] and body["broker"]["reachable"]

        private_redis.kill()
        body = wait_for_status(url, 503)
        assert body["worker"]["alive"] and not body["broker"]["reachable"]
        private_redis.start()
        wait_for_status(url, 200)

        os.kill(body["worker"]["pid"], signal.SIGKILL)  # the worker dies; the server stays up
        body = wait_for_status(url, 503)
        assert not body["worker"]["alive"] and body["broker"]["reachable"]
    finally:
        children = psutil.Process(server.popen.pid).children(recursive=True)
        server.popen.send_signal(signal.SIGTERM)
        assert server.popen.wait(timeout=60) is not None
        server.stop()
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
