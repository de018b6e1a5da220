"""How many workers a peak needs, from task durations measured in the database.

The "Resource Planning" calculation of the seed (the original platform's guide; see README) with
its guessed TASK_DURATION_MINUTES replaced by what the service recorded: each completed
session's wall time (claimed → saved) and its audio length. By Little's law the tasks in flight
at a peak are arrivals per second × seconds per task; a safety margin on top gives the capacity
(concurrent tasks) to provision, spread over at least two workers (so one can restart) with at
most `per_worker` tasks each.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from coaching_assistant.models import CoachingSession, SessionStatus

RECENT = 1000  # completed sessions the measurements are taken from


def recent_timings(db: Session, limit: int = RECENT) -> list[tuple[float, float]]:
    """(wall seconds, audio seconds) of the most recently completed transcriptions."""
    rows = db.execute(select(CoachingSession.started_at, CoachingSession.completed_at,
                             CoachingSession.duration_seconds)
                      .where(CoachingSession.status == SessionStatus.COMPLETED,
                             CoachingSession.started_at.is_not(None),
                             CoachingSession.completed_at.is_not(None))
                      .order_by(CoachingSession.completed_at.desc()).limit(limit)).all()
    return [((done - started).total_seconds(), audio or 0.0) for started, done, audio in rows if started and done]


@dataclass(frozen=True)
class Measured:
    sessions: int
    mean_task_seconds: float
    p95_task_seconds: float
    mean_audio_seconds: float
    realtime_factor: float | None  # processing time / audio time; None without audio lengths

    @classmethod
    def of(cls, timings: list[tuple[float, float]]) -> Measured | None:
        if not timings:
            return None
        wall = sorted(seconds for seconds, _ in timings)
        audio = sum(seconds for _, seconds in timings)
        return cls(sessions=len(wall), mean_task_seconds=statistics.fmean(wall),
                   p95_task_seconds=wall[min(len(wall) - 1, math.ceil(0.95 * len(wall)) - 1)],
                   mean_audio_seconds=audio / len(wall), realtime_factor=sum(wall) / audio if audio else None)


@dataclass(frozen=True)
class Plan:
    task_seconds: float
    tasks_in_flight: float
    required_capacity: int
    workers: int
    concurrency: int

    @property
    def total_capacity(self) -> int:
        return self.workers * self.concurrency


def plan(*, task_seconds: float, peak_per_hour: float, safety_margin: float = 1.5, per_worker: int = 4,
         min_workers: int = 2) -> Plan:
    in_flight = peak_per_hour * task_seconds / 3600
    required = max(1, math.ceil(in_flight * safety_margin))
    workers = max(min_workers, math.ceil(required / per_worker))
    concurrency = min(per_worker, math.ceil(required / workers))
    return Plan(task_seconds=task_seconds, tasks_in_flight=in_flight, required_capacity=required,
                workers=workers, concurrency=concurrency)
