"""Threads of their own for one kind of work, entered by waiting on the event loop.

Python threads share one interpreter lock: every CPU-bound request thread slows every other
request in the process. Work that can take seconds (a 20,000-cue transcript read, rendered or
imported) queues in a lane without holding a thread, then runs on at most the lane's threads, so
other users' requests compete with a couple of such jobs instead of dozens. The key checks get a
lane of their own for the opposite reason: they must never queue behind a burst of requests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class ThreadLane:
    def __init__(self, threads: int):
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None  # made on first use, inside the event loop

    async def run(self, func: Callable[..., T], *args: object, **kwargs: object) -> T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs), limiter=self._limiter)
