"""GET /metrics: Prometheus text, read back with prometheus_client's own parser."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import new_session
from coaching_assistant.models import CoachingSession
from coaching_assistant.services import transcription
from tests.helpers import wav_bytes
from tests.integration.test_pipeline import run, uploaded_session


@pytest.fixture(autouse=True)
def fresh_readings(monkeypatch):
    """A scrape normally reuses a reading for a few seconds; these tests compare consecutive ones."""
    from coaching_assistant.api.routers import metrics

    monkeypatch.setattr(metrics._reading, "ttl", 0.0)


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def test_metrics_follow_the_sessions_and_the_queue(client, user_headers, settings, empty_queue):
    before = scrape(client)
    done, done_uri, done_task = uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes(seconds=3))
    uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes(seconds=3))
    run(settings, done, done_uri, done_task)
    after = scrape(client)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("coaching_sessions", status="completed") == 1
    assert delta("coaching_sessions", status="pending") == 1
    assert after[("coaching_queue_length", ())] == 2  # both uploads were queued
    assert after[("coaching_broker_up", ())] == 1
    assert delta("coaching_transcription_duration_seconds_count") == 1
    assert delta("coaching_transcribed_audio_seconds_sum") == pytest.approx(3.0, abs=0.05)
    assert after[("coaching_realtime_factor", ())] > 0


def test_metrics_report_failures_retries_and_a_down_broker(client, user_headers, settings, monkeypatch):
    sid, uri, task = uploaded_session(client, user_headers, name="tone.wav", content=wav_bytes(seconds=1))
    before = scrape(client)
    with new_session() as db:  # as if one transient error had been retried
        db.get(CoachingSession, uuid.UUID(sid)).attempts = 2
        db.commit()
    assert transcription.give_up(uuid.UUID(sid), task_id=task, code="retries_exhausted", message="gave up")
    after = scrape(client)
    assert after[("coaching_sessions_failed", (("error_code", "retries_exhausted"),))] == \
        before.get(("coaching_sessions_failed", (("error_code", "retries_exhausted"),)), 0) + 1
    assert after[("coaching_task_retries", ())] == before[("coaching_task_retries", ())] + 1

    down = Settings(**{**settings.model_dump(), "redis_url": "redis://127.0.0.1:1/0",
                              "celery_broker_url": None})
    monkeypatch.setattr("coaching_assistant.core.task_queue.get_settings", lambda: down)
    broken = scrape(client)
    assert broken[("coaching_broker_up", ())] == 0
    assert ("coaching_queue_length", ()) not in broken
    assert ("coaching_sessions", (("status", "failed"),)) in broken  # the rest still answers
