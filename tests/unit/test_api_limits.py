"""The single-flight check behind /api/health and /metrics, and the per-user slot counter."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from coaching_assistant.api.cached import CachedCheck
from coaching_assistant.api.limits import PerUserLimit
from coaching_assistant.core.errors import ErrorCode, TooManyRequests


def test_many_callers_share_one_check():
    calls = 0

    def slow_check() -> int:
        nonlocal calls
        calls += 1
        time.sleep(0.3)
        return calls

    cached = CachedCheck(slow_check, ttl=5, wait=2, name="t")

    async def callers() -> list:
        return await asyncio.gather(*(cached.get() for _ in range(50)))

    results = asyncio.run(callers())
    assert calls == 1 and {value for value, _ in results} == {1}
    assert asyncio.run(cached.get())[0] == 1 and calls == 1  # reused within the ttl


def test_a_hanging_check_bounds_the_wait_and_is_reported_missing():
    release = threading.Event()
    cached = CachedCheck(lambda: release.wait(30), ttl=0.1, wait=0.3, name="t")
    started = time.perf_counter()
    assert asyncio.run(cached.get()) == (None, None)
    assert asyncio.run(cached.get()) == (None, None)  # still one check running, not a second
    assert time.perf_counter() - started < 1.5
    release.set()


def test_per_user_slots():
    limit = PerUserLimit(2, what="uploads", code=ErrorCode.TOO_MANY_UPLOADS, retry_after=5)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    with limit.slot(alice), limit.slot(alice):
        with pytest.raises(TooManyRequests) as refused:
            limit.acquire(alice)
        assert refused.value.code == "too_many_uploads" and refused.value.retry_after == 5
        with limit.slot(bob):
            assert limit.held(bob) == 1
    assert limit.held(alice) == 0
    with pytest.raises(RuntimeError), limit.slot(alice):
        raise RuntimeError("released on errors too")
    assert limit.held(alice) == 0
