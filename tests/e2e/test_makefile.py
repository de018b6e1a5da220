"""The Makefile targets the README documents, run as a user would (after `make dev-setup`)."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from tests.conftest import ROOT, base_env, free_port
from tests.e2e.conftest import Process

pytestmark = pytest.mark.e2e


def stop_group(process: Process) -> None:
    # make runs the command in a child; signal the whole group like Ctrl-C in a terminal would
    os.killpg(process.popen.pid, signal.SIGINT)
    process.popen.wait(timeout=60)
    process.handle.close()


def make(target: str, log, **env: str) -> Process:
    return Process(["make", "--no-print-directory", "-C", str(ROOT), target], base_env(**env), log,
                   own_group=True)


@pytest.mark.parametrize("target, env, expected", [
    # CELERY_CONCURRENCY is honoured, and the worker registers the seed's task
    ("run-celery", {"CELERY_CONCURRENCY": "3"},
     ["concurrency: 3 (thread)", "coaching_assistant.tasks.transcription_tasks.transcribe_audio"]),
    # the debug target keeps the default concurrency and logs at debug level
    ("run-celery-debug", {}, ["concurrency: 2 (thread)", "DEBUG/MainProcess"]),
])
def test_worker_targets(tmp_path, target, env, expected):
    worker = make(target, tmp_path / f"{target}.log", STT_PROVIDER="fake", **env)
    try:
        worker.wait_for("ready.", timeout=90)
        for text in expected:
            assert text in worker.output()
    finally:
        stop_group(worker)


def test_run_api_honours_port(tmp_path):
    port = free_port()
    api = make("run-api", tmp_path / "api.log", PORT=str(port))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError(api.output()[-2000:])
        assert response.status_code == 200 and response.json()["status"] in ("ok", "degraded")  # database and broker up
    finally:
        stop_group(api)
