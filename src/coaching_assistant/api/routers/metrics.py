"""GET /metrics in Prometheus text format.

Everything is read from the database and the broker when scraped, so one scrape of the API
describes the whole service, however many workers there are and wherever they run. It needs no
key, so the reading is single-flight and reused for HEALTH_CACHE_SECONDS (api/cached.py): a
scrape loop costs one reading every few seconds, never a request thread each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from coaching_assistant.api.cached import CachedCheck
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.database import new_session
from coaching_assistant.core.task_queue import queue_length
from coaching_assistant.models import CoachingSession, SessionStatus
from coaching_assistant.services.capacity import RECENT, recent_timings

logger = logging.getLogger(__name__)
router = APIRouter(tags=["metrics"])


class ServiceCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self._sessions()
        yield from self._queue()

    def _sessions(self) -> Iterator[Metric]:
        with new_session() as db:
            by_status = dict(db.execute(select(CoachingSession.status, func.count())
                                        .group_by(CoachingSession.status)).all())
            failed = db.execute(select(CoachingSession.error_code, func.count())
                                .where(CoachingSession.status == SessionStatus.FAILED)
                                .group_by(CoachingSession.error_code)).all()
            retries = db.scalar(select(func.coalesce(func.sum(CoachingSession.attempts - 1), 0))
                                .where(CoachingSession.attempts > 1))
            recent = recent_timings(db, RECENT)

        sessions = GaugeMetricFamily("coaching_sessions", "Sessions by status", labels=["status"])
        for status in SessionStatus:
            sessions.add_metric([status.value], by_status.get(status, 0))
        yield sessions

        failures = GaugeMetricFamily("coaching_sessions_failed", "Failed sessions by error code",
                                     labels=["error_code"])
        for code, count in failed:
            failures.add_metric([code or "unknown"], count)
        yield failures

        yield GaugeMetricFamily("coaching_task_retries",
                                "Attempts beyond the first, summed over stored sessions", value=retries or 0)

        wall = [seconds for seconds, _ in recent]
        audio = [seconds for _, seconds in recent]
        yield SummaryMetricFamily("coaching_transcription_duration_seconds",
                                  f"Wall time of the last {RECENT} completed transcriptions (claim to save)",
                                  count_value=len(wall), sum_value=sum(wall))
        yield SummaryMetricFamily("coaching_transcribed_audio_seconds",
                                  f"Audio length of the last {RECENT} completed transcriptions",
                                  count_value=len(audio), sum_value=sum(audio))
        if sum(audio) > 0:
            yield GaugeMetricFamily("coaching_realtime_factor",
                                    "Processing time / audio time over the same sessions (below 1 = faster "
                                    "than real time)", value=sum(wall) / sum(audio))

    def _queue(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("coaching_broker_up", "1 when the broker answered this scrape")
        try:
            length = queue_length(timeout=2)
        except redis.RedisError as exc:
            logger.warning("Broker unreachable while scraping metrics: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("coaching_queue_length", "Messages waiting in the Celery queue", value=length)


registry = CollectorRegistry(auto_describe=False)
registry.register(ServiceCollector())


_reading = CachedCheck(lambda: generate_latest(registry), ttl=get_settings().health_cache_seconds, wait=10,
                      name="metrics")


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    text, _age = await _reading.get()
    if text is None:
        return Response("# the metrics could not be read in time (is the database up?)\n", status_code=503,
                        media_type=CONTENT_TYPE_LATEST)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
