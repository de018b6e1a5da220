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


def test_run_celery_honours_celery_concurrency(tmp_path):
    worker = make("run-celery", tmp_path / "celery.log", CELERY_CONCURRENCY="3", STT_PROVIDER="fake")
    try:
        worker.wait_for("ready.", timeout=90)
        assert "concurrency: 3 (thread)" in worker.output()
        assert "coaching_assistant.tasks.transcription_tasks.transcribe_audio" in worker.output()
    finally:
        stop_group(worker)


def test_run_celery_debug_logs_at_debug_level(tmp_path):
    worker = make("run-celery-debug", tmp_path / "debug.log", STT_PROVIDER="fake")
    try:
        worker.wait_for("ready.", timeout=90)
        assert "concurrency: 2 (thread)" in worker.output()
        assert "DEBUG/MainProcess" in worker.output()
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
        assert response.status_code == 200 and response.json()["database"]["ok"]
    finally:
        stop_group(api)
