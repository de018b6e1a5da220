"""The seed's diagnostic scripts, run as written (`python3 apps/web/…`) against real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import base_env, make_user
from tests.e2e.conftest import start_api, start_worker
from tests.helpers import CONVERSATION

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PYTHON3 = shutil.which("python3") or "python3"


def check_status(redis_url: str) -> subprocess.CompletedProcess[str]:
    env = base_env(REDIS_URL=redis_url, CHECK_TIMEOUT_SECONDS="3")
    env.pop("CELERY_BROKER_URL", None)
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run([PYTHON3, "apps/web/check_celery_status.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_check_celery_status_reports_workers_tasks_and_queue(tmp_path, private_redis):
    nobody = check_status(private_redis.url)
    assert nobody.returncode == 1
    assert "No worker answered" in nobody.stderr

    env = {"REDIS_URL": private_redis.url, "STT_PROVIDER": "fake", "FAKE_STT_SECONDS_PER_CHUNK": "1"}
    api, api_url = start_api(tmp_path, **env)
    worker = start_worker(tmp_path, **env,
                          args=["-A", "coaching_assistant.core.celery_app", "worker", "--loglevel=info",
                                "--concurrency=1", "--pool=threads", f"--hostname=status{os.getpid()}@%h"])
    _, key = make_user()
    try:
        idle = check_status(private_redis.url)
        with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            sid = http.post("/api/v1/sessions", json={"title": "status"}).json()["id"]
            with CONVERSATION.open("rb") as handle:
                assert http.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", handle)}).status_code == 202
            deadline = time.monotonic() + 60
            while http.get(f"/api/v1/sessions/{sid}/status").json()["status"] != "processing":
                assert time.monotonic() < deadline, "the session never started"
                time.sleep(0.1)
            busy = check_status(private_redis.url)
    finally:
        worker.stop()
        api.stop()
    assert busy.returncode == 0, busy.stderr
    assert "active: 1" in busy.stdout and f"session {sid}" in busy.stdout
    result = idle
    assert result.returncode == 0, result.stderr
    assert f"status{os.getpid()}@" in result.stdout
    assert "coaching_assistant.tasks.transcription_tasks.transcribe_audio" in result.stdout
    assert "Queue 'celery': 0 message(s) waiting" in result.stdout
    assert "active: 0" in result.stdout and "reserved: 0" in result.stdout


def test_check_celery_status_fails_clearly_without_a_broker(private_redis):
    url = private_redis.url
    private_redis.kill()
    result = check_status(url)
    assert result.returncode == 1
    assert "Broker unreachable" in result.stderr


def test_make_status_runs_the_same_check(private_redis):
    env = base_env(REDIS_URL=private_redis.url, CHECK_TIMEOUT_SECONDS="1")
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run(["make", "status"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "Queue 'celery': 0 message(s) waiting" in result.stdout
    assert "No worker answered" in result.stderr
