"""The seed's load test against two workers on one queue: both do work, nothing runs twice."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import base_env, make_user
from tests.e2e.conftest import SEED_WORKER, start_api, start_worker

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_share_the_load_and_nothing_runs_twice(tmp_path, private_redis):
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession, TranscriptSegment

    env = {"REDIS_URL": private_redis.url, "STT_PROVIDER": "fake", "FAKE_STT_SECONDS_PER_CHUNK": "0.1"}
    api, url = start_api(tmp_path, **env)
    one_thread = [*SEED_WORKER[1:-2], "--concurrency=1", "--pool=threads"]
    tag = os.getpid()
    workers = [start_worker(tmp_path, f"worker{n}", args=[*one_thread, f"--hostname=worker{n}-{tag}@%h"], **env)
               for n in (1, 2)]
    user, key = make_user()
    try:
        run_env = base_env(**env)
        run_env.pop("CELERY_BROKER_URL", None)
        run_env.pop("CELERY_RESULT_BACKEND", None)
        port = url.rsplit(":", 1)[1]
        result = subprocess.run(["make", "load-test", "SESSIONS=8", "HOST=127.0.0.1", f"PORT={port}"],
                                cwd=ROOT, env={**run_env, "COACHING_API_KEY": key},
                                capture_output=True, text=True, timeout=600)
    finally:
        for worker in workers:
            worker.stop()
        api.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for label in ("Total sessions", "Successful", "Wall time", "Average time per task", "Tasks per minute",
                  "Latency p50", "Latency p95"):
        assert label in out
    assert re.search(r"Successful\s+8\b", out) and re.search(r"Failed or unfinished\s+0\b", out)
    per_worker = re.findall(rf"(worker\d)-{tag}@\S+\s+(\d+)", out)
    assert {name for name, _ in per_worker} == {"worker1", "worker2"}, out  # both did work
    assert sum(int(n) for _, n in per_worker) == 8 and all(int(n) for _, n in per_worker)

    with new_session() as db:
        sessions = db.execute(select(CoachingSession.id, CoachingSession.status, CoachingSession.attempts,
                                     CoachingSession.segments_count)
                              .where(CoachingSession.user_id == user.id)).all()
        assert len(sessions) == 8
        for sid, status, attempts, segments_count in sessions:
            positions = db.scalars(select(TranscriptSegment.position)
                                   .where(TranscriptSegment.session_id == sid)).all()
            # ran once: one attempt, one set of segments
            assert (status, attempts) == ("completed", 1)
            assert sorted(positions) == list(range(segments_count)) and segments_count > 0


def test_the_seed_command_runs_with_the_system_python():
    result = subprocess.run([shutil.which("python3") or "python3", "scripts/load_test_celery.py", "--help"],
                            cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--sessions" in result.stdout
