"""A blocking check (database, broker, worker ping) run for many callers at once, safely.

`/api/health` and `/metrics` need no key, so anyone can call them in a loop. Each call used to
run its checks on a request thread: twenty clients looping on health took every broker
connection, each ping waiting for a second one, and the API hung for good. Here the check runs
in one thread of its own, at most once at a time (single flight), and its result is reused for
`ttl` seconds; a caller waits at most `wait` seconds and never holds a request thread, so a
flood costs one check every `ttl` seconds however many callers there are.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class CachedCheck(Generic[T]):
    def __init__(self, check: Callable[[], T], *, ttl: float, wait: float, name: str):
        self._check = check
        self.ttl, self.wait = ttl, wait
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._lock = threading.Lock()  # callers may live on different event loops (tests)
        self._running: Future[None] | None = None
        self._result: tuple[float, T] | None = None  # (when it finished, what it found)

    def _run(self) -> None:
        result = self._check()
        self._result = (time.monotonic(), result)

    def _refresh(self) -> Future[None]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = self._executor.submit(self._run)
            return self._running

    async def get(self) -> tuple[T | None, float | None]:
        """The latest result and its age in seconds; (None, None) when no check has finished
        within `ttl + wait` seconds (the check hangs, or has never finished)."""
        found = self._result
        if found is None or time.monotonic() - found[0] > self.ttl:
            running = self._refresh()
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(running)), timeout=self.wait)
            except TimeoutError:
                pass
            except Exception:  # the check itself raised: report it as missing, try again next call
                pass
            found = self._result
        if found is None:
            return None, None
        age = time.monotonic() - found[0]
        if age > self.ttl + self.wait:
            return None, None
        return found[1], age
