"""Transient errors through a real worker of its own (fake engine): RETRY, backoff, then failed."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.conftest import start_worker, stored_session
from tests.helpers import CONVERSATION

pytestmark = pytest.mark.e2e


def test_transient_errors_retry_then_fail_with_a_code(tmp_path):
    """RETRY is visible in the result backend; exhausted retries end `failed`, never stuck."""
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession
    from coaching_assistant.tasks.transcription_tasks import transcribe_audio

    worker = start_worker(tmp_path, name="fake-worker", STT_PROVIDER="fake",
                          TASK_RETRY_BACKOFF_SECONDS="0.2", TASK_MAX_ATTEMPTS="4")
    try:
        sid, path = stored_session(CONVERSATION.read_bytes(), "c.mp3")
        # the fake engine's test hook: this "language" raises a transient error every time
        result = transcribe_audio.delay(sid, path, "x-transient-error", original_filename="c.mp3")
        states = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and result.state not in ("SUCCESS", "FAILURE"):
            states.add(result.state)
            time.sleep(0.02)
        assert result.state == "FAILURE"
        assert "RETRY" in states
        with new_session() as db:
            session = db.get(CoachingSession, uuid.UUID(sid))
            assert session.status == "failed" and session.error_code == "retries_exhausted"
            assert session.attempts == 4  # TASK_MAX_ATTEMPTS, not Celery's default of 3 retries
        assert worker.output().count("retrying in") == 3
    finally:
        worker.stop()
