"""The seed's diagnostic scripts, run as written (`python3 apps/web/…`) against real processes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, base_env, make_user
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


def flow(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(REDIS_URL=redis_url, CHECK_TIMEOUT_SECONDS="3")
    env.pop("CELERY_BROKER_URL", None)
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run([PYTHON3, "apps/web/test_transcription_flow.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


FAKE = {"STT_PROVIDER": "fake", "FAKE_STT_SECONDS_PER_CHUNK": "0.3"}


def session_row(sid: str):
    import uuid

    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:
        return db.get(CoachingSession, uuid.UUID(sid))


def test_flow_script_fails_clearly_without_a_worker(private_redis):
    result = flow(private_redis.url, str(CONVERSATION))
    assert result.returncode == 1
    assert "No worker answered" in result.stderr
    assert "Uploaded" not in result.stdout  # nothing was submitted


def test_flow_script_uploads_a_file_and_follows_its_progress(tmp_path, private_redis):
    api, url = start_api(tmp_path, REDIS_URL=private_redis.url, **FAKE)
    worker = start_worker(tmp_path, REDIS_URL=private_redis.url, **FAKE)
    _, key = make_user()
    try:
        result = flow(private_redis.url, str(CONVERSATION), "--server", url, "--api-key", key)
    finally:
        worker.stop()
        api.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "1. Broker and workers" in out and "2. Recent pending sessions" in out
    sid = re.search(r"session ([0-9a-f-]{36}), task", out).group(1)
    progress = [int(p) for p in re.findall(r"s\s+(\d+)%", out)]
    assert progress == sorted(progress) and any(0 < p < 100 for p in progress), out
    assert "task PROGRESS" in out and "task SUCCESS" in out
    # the session and its task are read apart: never paired on one line ("pending 5% PROGRESS")
    assert not re.search(r"%\s+\w+\s+(PENDING|STARTED|PROGRESS|SUCCESS|FAILURE|RETRY)\b", out), out
    assert out.strip().splitlines()[-2].split()[-1] == "SUCCESS", out  # the task's end is followed too
    row = session_row(sid)
    assert row.status == "completed" and f"Completed: {row.segments_count} segments" in out


def test_flow_script_runs_a_pending_session_whose_message_was_lost(tmp_path, private_redis):
    api, url = start_api(tmp_path, REDIS_URL=private_redis.url, **FAKE)
    _, key = make_user()
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            sid = http.post("/api/v1/sessions", json={"title": "lost message"}).json()["id"]
            with CONVERSATION.open("rb") as handle:
                queued = http.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", handle)})
            task_id = queued.json()["task_id"]
    finally:
        api.stop()
    private_redis.client().delete("celery")  # the message is gone; the session is pending in the database
    worker = start_worker(tmp_path, REDIS_URL=private_redis.url, **FAKE)
    try:
        result = flow(private_redis.url, "--pending")
        again = flow(private_redis.url, "--session", sid)
    finally:
        worker.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{sid}" in result.stdout and f"task {task_id} (not in the queue)" in result.stdout
    assert f"Queued session {sid} as task {task_id}" in result.stdout
    row = session_row(sid)
    assert row.status == "completed" and row.attempts == 1
    assert again.returncode == 1 and "is 'completed', not pending" in again.stderr


def test_diarization_benchmark_prints_its_table():
    result = subprocess.run([str(BIN / "python"), "bench/diarization_accuracy.py", "--runs", "1"], cwd=ROOT,
                            env=base_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| male") or line.startswith("| two")]
    assert len(rows) == 4
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert float(cells[3].rstrip("%")) >= 95.0 and cells[4] == "2" and cells[5] == "yes", row
