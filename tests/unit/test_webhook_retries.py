"""The retry schedule of a webhook delivery: exponential, jittered, capped, over a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coaching_assistant.core.config import Settings
from coaching_assistant.services.webhook_delivery import next_attempt_at, retry_delay

SETTINGS = Settings(webhook_retry_base_seconds=30, webhook_retry_max_delay_seconds=3600,
                    webhook_retry_window_hours=24)
EVENT = datetime(2026, 1, 1, tzinfo=UTC)


def test_each_failure_doubles_the_delay_until_the_cap():
    longest = [retry_delay(n, SETTINGS, rng=lambda: 1.0) for n in range(1, 10)]
    assert longest == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(500, SETTINGS, rng=lambda: 1.0) == 3600  # no overflow far along


def test_jitter_keeps_a_delay_between_half_and_all_of_it():
    assert [retry_delay(n, SETTINGS, rng=lambda: 0.0) for n in (1, 2, 9)] == [15, 30, 1800]
    delays = {retry_delay(3, SETTINGS) for _ in range(200)}
    assert min(delays) >= 60 and max(delays) <= 120 and len(delays) > 100  # spread, not one value


def test_retries_stop_at_the_end_of_the_window():
    late = EVENT + timedelta(hours=23, minutes=50)
    # the last try falls on the window's end, not past it
    assert next_attempt_at(attempts=20, created_at=EVENT, now=late, settings=SETTINGS) == EVENT + timedelta(hours=24)
    assert next_attempt_at(attempts=21, created_at=EVENT, now=EVENT + timedelta(hours=24), settings=SETTINGS) is None


def test_the_default_schedule_tries_for_a_day():
    now, attempts, rng = EVENT, 0, (lambda: 0.5)
    times = []
    while True:
        attempts += 1
        retry = next_attempt_at(attempts=attempts, created_at=EVENT, now=now, settings=Settings(), rng=rng)
        if retry is None:
            break
        times.append(retry)
        now = retry
    assert times[0] - EVENT == timedelta(seconds=22.5)
    assert times[-1] == EVENT + timedelta(hours=24)
    assert 20 <= len(times) <= 40
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= timedelta(hours=1)


@pytest.mark.parametrize("attempts", [1, 5, 30])
def test_the_first_delay_is_the_base(attempts):
    fast = Settings(webhook_retry_base_seconds=0.5, webhook_retry_max_delay_seconds=2)
    assert 0.25 <= retry_delay(1, fast) <= 0.5
    assert retry_delay(attempts, fast) <= 2
