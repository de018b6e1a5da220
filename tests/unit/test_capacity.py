"""The capacity arithmetic: Little's law, a safety margin, at least two workers."""

from __future__ import annotations

import pytest

from coaching_assistant.services.capacity import Measured, plan


def test_plan_spreads_the_required_capacity_over_at_least_two_workers():
    small = plan(task_seconds=20, peak_per_hour=360, safety_margin=1.5)  # 2 tasks in flight
    assert (small.tasks_in_flight, small.required_capacity) == (2.0, 3)
    assert (small.workers, small.concurrency, small.total_capacity) == (2, 2, 4)

    big = plan(task_seconds=360, peak_per_hour=360, safety_margin=1.5)  # 36 in flight
    assert big.required_capacity == 54
    assert (big.workers, big.concurrency) == (14, 4)
    assert big.total_capacity >= big.required_capacity

    idle = plan(task_seconds=1, peak_per_hour=1)
    assert (idle.required_capacity, idle.workers, idle.concurrency) == (1, 2, 1)


@pytest.mark.parametrize("per_worker", [1, 2, 3, 4, 8])
def test_plan_never_provisions_less_than_required(per_worker):
    for peak in (1, 10, 100, 1000):
        for seconds in (5, 60, 600):
            result = plan(task_seconds=seconds, peak_per_hour=peak, per_worker=per_worker)
            assert result.total_capacity >= result.required_capacity
            assert result.concurrency <= per_worker and result.workers >= 2


def test_measured_summarises_wall_and_audio_time():
    measured = Measured.of([(10.0, 100.0), (20.0, 200.0), (30.0, 300.0)])
    assert measured.sessions == 3 and measured.mean_task_seconds == 20.0
    assert measured.p95_task_seconds == 30.0 and measured.mean_audio_seconds == 200.0
    assert measured.realtime_factor == pytest.approx(0.1)
    assert Measured.of([]) is None
    assert Measured.of([(5.0, 0.0)]).realtime_factor is None
