"""The task state reported beside a session never contradicts the session's status."""

from __future__ import annotations

import pytest

from coaching_assistant.core.task_queue import task_state_for_session

BACKEND_STATES = [None, "PENDING", "STARTED", "PROGRESS", "RETRY", "SUCCESS", "FAILURE", "REVOKED"]


@pytest.mark.parametrize("backend", BACKEND_STATES)
@pytest.mark.parametrize("status, expected", [("completed", "SUCCESS"), ("failed", "FAILURE"),
                                              ("cancelled", "REVOKED")])
def test_a_final_session_is_reported_from_its_row(status, expected, backend):
    # e.g. the task of a cancelled session returned normally: SUCCESS in the backend
    assert task_state_for_session(status, backend) == expected


@pytest.mark.parametrize("backend, expected", [
    ("PENDING", "PENDING"), ("RETRY", "RETRY"),
    ("STARTED", "PENDING"),  # a worker took the message and has not claimed the session yet
    ("PROGRESS", "PENDING"), ("SUCCESS", "PENDING"), ("FAILURE", "PENDING"),  # an earlier run's
    (None, None),  # the backend could not say
])
def test_a_pending_session_is_waiting_for_a_run(backend, expected):
    assert task_state_for_session("pending", backend) == expected


@pytest.mark.parametrize("backend, expected", [
    ("STARTED", "STARTED"), ("PROGRESS", "PROGRESS"), ("RETRY", "RETRY"),
    ("PENDING", "STARTED"), ("SUCCESS", "STARTED"), ("FAILURE", "STARTED"), ("REVOKED", "STARTED"),
    (None, None),
])
def test_a_processing_session_is_held_by_a_run(backend, expected):
    assert task_state_for_session("processing", backend) == expected


@pytest.mark.parametrize("backend", BACKEND_STATES)
def test_a_session_waiting_for_its_audio_has_no_task(backend):
    assert task_state_for_session("uploading", backend) is None
