"""`coaching-assistant capacity`: the seed's resource planning, fed from the database."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import BIN, base_env
from tests.e2e.conftest import db_session

pytestmark = pytest.mark.e2e


def capacity(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "coaching-assistant"), "capacity", *args], capture_output=True, text=True,
                          env=base_env(DATABASE_URL=database_url), timeout=120)


def add_completed(database_url: str, timings: list[tuple[float, float]]) -> None:
    from coaching_assistant.models import CoachingSession, User

    now = datetime.now(UTC)
    with db_session(database_url) as db:
        user = User(email=f"{uuid.uuid4().hex}@example.com")
        db.add(user)
        db.flush()
        for wall, audio in timings:
            db.add(CoachingSession(user_id=user.id, title="measured", language="en-US", status="completed",
                                   duration_seconds=audio, started_at=now - timedelta(seconds=wall),
                                   completed_at=now))
        db.add(CoachingSession(user_id=user.id, title="not measured", language="en-US", status="failed",
                               duration_seconds=999, started_at=now - timedelta(hours=1), completed_at=now))
        db.commit()


def test_capacity_plans_from_measured_durations(private_database):
    empty = capacity(private_database)
    assert empty.returncode == 1 and "No completed transcription to measure yet" in empty.stderr

    add_completed(private_database, [(10, 100), (20, 200), (30, 300)])
    result = capacity(private_database, "--peak-per-hour", "360")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Measured from the last 3 completed transcriptions" in out
    assert "mean 20.0 s, p95 30.0 s" in out and "real-time factor  0.100" in out
    assert "tasks in flight at the peak  2.00" in out and "required capacity            3" in out
    assert "Workers: 2\n  Concurrency: 2\n  Total capacity: 4 tasks" in out

    hour_long = capacity(private_database, "--peak-per-hour", "360", "--audio-minutes", "60")
    assert hour_long.returncode == 0, hour_long.stderr
    assert "task time 360.0 s (60-minute recordings × real-time factor)" in hour_long.stdout
    assert "Workers: 14\n  Concurrency: 4\n  Total capacity: 56 tasks" in hour_long.stdout


def test_capacity_explains_an_unmigrated_database(tmp_path):
    result = capacity(f"sqlite:///{tmp_path / 'new.db'}")
    assert result.returncode == 1
    assert "run `coaching-assistant migrate`" in result.stderr and "Traceback" not in result.stderr
