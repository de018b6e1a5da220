"""What the transcription task does after a transient error or a busy session: retry after how
long, give up, or leave the session to the sweeper. Pure decisions, no broker."""

from __future__ import annotations

import random
import statistics

import pytest

from coaching_assistant.tasks.transcription_tasks import Action, backoff_seconds, busy_countdown, next_step

BASE = 5.0


def step(attempt, *, retries=0, max_attempts=3):
    return next_step(attempt, retries=retries, max_attempts=max_attempts, backoff_base=BASE)


def test_a_claimed_run_retries_until_the_session_has_used_its_attempts():
    assert [step(attempt).action for attempt in (1, 2, 3, 4)] == [
        Action.RETRY, Action.RETRY, Action.GIVE_UP, Action.GIVE_UP]
    assert step(3, max_attempts=5).action == Action.RETRY


def test_attempts_are_counted_by_the_session_not_by_celery():
    # a message that waited out many busy leases has a high retry count but has spent one attempt
    assert step(1, retries=50).action == Action.RETRY
    assert step(3, retries=0).action == Action.GIVE_UP


@pytest.mark.parametrize("attempt, ceiling", [(1, BASE), (2, 2 * BASE), (3, 4 * BASE)])
def test_a_claimed_run_backs_off_by_its_attempt(attempt, ceiling):
    countdowns = [step(attempt, retries=9, max_attempts=10).countdown for _ in range(200)]
    assert ceiling / 2 <= min(countdowns) and max(countdowns) <= ceiling


def test_an_unclaimed_run_retries_twice_as_often_as_a_session_may_be_attempted_then_leaves_it():
    actions = [step(None, retries=retries, max_attempts=3).action for retries in range(8)]
    assert actions == [Action.RETRY] * 6 + [Action.LEAVE_TO_SWEEPER] * 2


def test_an_unclaimed_runs_backoff_grows_with_celerys_count_up_to_64_times_the_base():
    ceilings = {retries: max(step(None, retries=retries, max_attempts=20).countdown for _ in range(200))
                for retries in (0, 3, 6, 7, 15)}
    assert BASE / 2 <= ceilings[0] <= BASE
    assert 4 * BASE < ceilings[3] <= 8 * BASE
    assert 32 * BASE < ceilings[6] <= 64 * BASE
    assert 32 * BASE < ceilings[7] <= 64 * BASE and 32 * BASE < ceilings[15] <= 64 * BASE


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_backoff_is_spread_uniformly_between_half_the_ceiling_and_the_ceiling(retries):
    random.seed(retries)
    ceiling = BASE * 2 ** retries
    samples = [backoff_seconds(retries, BASE) for _ in range(2000)]
    assert ceiling / 2 <= min(samples) and max(samples) <= ceiling
    # spread over the whole range, not bunched at one end (jitter keeps retries apart)
    assert min(samples) < 0.52 * ceiling and max(samples) > 0.98 * ceiling
    assert statistics.mean(samples) == pytest.approx(0.75 * ceiling, rel=0.02)


@pytest.mark.parametrize("retry_after, expected", [(12.5, 13.5), (0.2, 1.2), (None, 61.0)])
def test_a_busy_session_is_looked_at_again_just_after_the_holders_lease_runs_out(retry_after, expected):
    assert busy_countdown(retry_after, lease_seconds=60) == expected
