"""How much of one API process a single user may hold at once.

A request thread, a long-poll or a streaming upload is a share of a fixed pool; without a cap,
one user's burst (60 GETs, 200 long-polls, 300 slow uploads) took it all and everyone else
waited or got errors. Each cap answers 429 with Retry-After at once instead. The counters live
in the process (one event loop, so plain integers suffice); with several API processes each
enforces its own.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from coaching_assistant.core.config import get_settings
from coaching_assistant.core.errors import ErrorCode, TooManyRequests


class PerUserLimit:
    def __init__(self, limit: int, *, what: str, code: ErrorCode, retry_after: float = 1.0):
        self.limit, self.what, self.code, self.retry_after = limit, what, code, retry_after
        self._held: Counter[uuid.UUID] = Counter()

    def acquire(self, user_id: uuid.UUID) -> None:
        """Take one of the user's slots; TooManyRequests if none is free. Pair with release()."""
        if self._held[user_id] >= self.limit:
            raise TooManyRequests(f"You already have {self.limit} {self.what} in progress; wait for one to "
                                  "finish and try again.", code=self.code, retry_after=self.retry_after)
        self._held[user_id] += 1

    def release(self, user_id: uuid.UUID) -> None:
        self._held[user_id] -= 1
        if self._held[user_id] <= 0:
            del self._held[user_id]

    @contextmanager
    def slot(self, user_id: uuid.UUID) -> Iterator[None]:
        self.acquire(user_id)
        try:
            yield
        finally:
            self.release(user_id)

    def held(self, user_id: uuid.UUID) -> int:
        return self._held[user_id]


# Streaming bodies and long waits hold no request thread, but each holds a connection, a file or a
# Redis subscription for a long time: a few per user at once.
uploads = PerUserLimit(get_settings().user_max_concurrent_uploads, what="uploads", code=ErrorCode.TOO_MANY_UPLOADS,
                       retry_after=5)
long_polls = PerUserLimit(get_settings().user_max_long_polls,
                          what="long waits (status long-polls, OpenAI transcription requests)",
                          code=ErrorCode.TOO_MANY_LONG_POLLS)
