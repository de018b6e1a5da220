"""Keeping a claimed session while a run works on it: the heartbeat and the run's deadline.

A claim (`session_state.claim`) gives a run a lease that runs out after SESSION_LEASE_SECONDS,
so a run that dies is noticed (by the sweeper, or a redelivered message) within one lease. A live
run must therefore renew it: the heartbeat thread does, every quarter lease, and notices when the
session was taken from the run (cancelled, taken over, deleted). The run then stops at its next
progress step, by `LeaseLost`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from coaching_assistant.core.database import session_scope
from coaching_assistant.core.errors import ErrorCode
from coaching_assistant.services import session_state

logger = logging.getLogger(__name__)

TIME_LIMIT_MESSAGE = "The transcription took longer than TASK_SOFT_TIME_LIMIT_SECONDS allows."


class LeaseLost(Exception):
    """Another run took the session over (or it was cancelled or deleted): stop without writing."""


class Heartbeat(threading.Thread):
    """Renews the lease every quarter lease while the run works; notices when it is lost.

    It also enforces the run's deadline: a stage that hangs without calling back (a stuck decoder
    or download) cannot be interrupted in a thread, so the heartbeat fails the session itself and
    stops renewing; whatever the hung stage returns later is discarded.
    """

    def __init__(self, session_id: uuid.UUID, token: str, lease_seconds: float, deadline: float):
        super().__init__(name=f"heartbeat-{session_id}", daemon=True)
        self.session_id, self.token, self.lease_seconds = session_id, token, lease_seconds
        self.deadline = deadline  # time.monotonic() value
        self.lost = threading.Event()
        self.timed_out = False  # this heartbeat failed the session for its deadline
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(min(self.lease_seconds / 4, max(0.05, self.deadline - time.monotonic()))):
            try:
                if not self._beat():
                    self.lost.set()
                    return
            except Exception:  # a database blip: keep trying; the lease has slack for it
                logger.warning("Heartbeat for session %s could not renew the lease", self.session_id)

    def _beat(self) -> bool:
        """Renew the lease; False when the run must stop (past its deadline, or the lease is gone)."""
        with session_scope() as db:
            if time.monotonic() > self.deadline:
                self.timed_out = session_state.fail(db, self.session_id, token=self.token,
                                                    code=ErrorCode.TIME_LIMIT_EXCEEDED, message=TIME_LIMIT_MESSAGE)
                return False
            return session_state.renew(db, self.session_id, token=self.token, lease_seconds=self.lease_seconds)

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(str(self.session_id))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
