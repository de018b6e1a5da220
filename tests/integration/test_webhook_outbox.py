"""Session events are recorded for webhooks in the transaction that ends the session (the outbox),
once per subscribed webhook, and queued only after the commit: through the worker's pipeline,
the API's cancel and import, and the sweeper's transitions, against the real database and Redis."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from coaching_assistant.core.database import new_session, session_scope
from coaching_assistant.core.errors import ErrorCode
from coaching_assistant.models import CoachingSession, Webhook, WebhookDelivery
from coaching_assistant.services import session_state, transcription, webhook_outbox
from tests.conftest import make_user
from tests.integration.test_pipeline import run, uploaded_session
from tests.integration.test_transcripts_api import imported

QUEUE = "webhooks"


@pytest.fixture
def webhook_queue(redis_client):
    redis_client.delete(QUEUE)
    yield redis_client
    redis_client.delete(QUEUE)


def queued(redis_client) -> list[str]:
    """The delivery ids of the messages waiting in the webhook queue."""
    return [json.loads(base64.b64decode(json.loads(raw)["body"]))[0][0]
            for raw in redis_client.lrange(QUEUE, 0, -1)]


@pytest.fixture
def coach():
    """A user with webhooks for completed (two), failed, and cancelled; and another user's webhook."""
    user, key = make_user()
    other, _ = make_user()
    hooks = {"completed": ["session.completed"], "completed+failed": ["session.completed", "session.failed"],
             "failed": ["session.failed"], "cancelled": ["session.cancelled"]}
    with new_session() as db:
        rows = {name: Webhook(user_id=user.id, url=f"https://hooks.example.com/{name}", events=events,
                              secret="whsec_" + "a" * 43) for name, events in hooks.items()}
        db.add_all([*rows.values(), Webhook(user_id=other.id, url="https://hooks.example.com/other",
                                            events=list(webhook_outbox.EVENTS.values()), secret="whsec_" + "b" * 43)])
        db.commit()
        ids = {name: row.id for name, row in rows.items()}
    return {"Authorization": f"Bearer {key}"}, ids


def deliveries(session_id: str) -> list[WebhookDelivery]:
    with new_session() as db:
        return list(db.scalars(select(WebhookDelivery).where(WebhookDelivery.session_id == uuid.UUID(session_id))
                               .order_by(WebhookDelivery.created_at)))


def test_a_completed_session_records_one_delivery_per_subscribed_webhook(client, coach, settings, empty_queue,
                                                                         webhook_queue):
    headers, hooks = coach
    sid, uri, task_id = uploaded_session(client, headers)
    assert run(settings, sid, uri, task_id).status == "completed"
    recorded = deliveries(sid)
    assert sorted(d.webhook_id for d in recorded) == sorted([hooks["completed"], hooks["completed+failed"]])
    assert {(d.event, d.status, d.attempts) for d in recorded} == {("session.completed", "pending", 0)}
    assert recorded[0].event_key == f"session.completed:{sid}:{task_id}"
    payload = recorded[0].payload
    assert payload["type"] == "session.completed" and datetime.fromisoformat(payload["timestamp"])
    assert payload["data"] == {"session_id": sid, "status": "completed", "title": "t", "duration_seconds": 46.44,
                               "segments_count": 10, "error_code": None, "error_message": None,
                               "transcript_url": f"/api/v1/sessions/{sid}/transcript"}
    assert sorted(queued(webhook_queue)) == sorted(str(d.id) for d in recorded)  # queued after the commit
    assert run(settings, sid, uri, task_id).status == "completed"  # a late copy of the task records nothing
    assert len(deliveries(sid)) == 2


def test_a_failed_run_records_its_event(client, coach, settings, empty_queue, webhook_queue):
    headers, hooks = coach
    sid, uri, task_id = uploaded_session(client, headers)
    claimed = transcription.claim(uuid.UUID(sid), task_id=task_id, audio_uri=uri, settings=settings)
    assert isinstance(claimed, session_state.Claim)
    with session_scope() as db:
        assert session_state.fail(db, uuid.UUID(sid), token=claimed.token, code=ErrorCode.UNDECODABLE_AUDIO,
                                  message="The file is not audio.")
    recorded = deliveries(sid)
    assert sorted(d.webhook_id for d in recorded) == sorted([hooks["failed"], hooks["completed+failed"]])
    data = recorded[0].payload["data"]
    assert (data["status"], data["error_code"], data["error_message"], data["transcript_url"]) == (
        "failed", "undecodable_audio", "The file is not audio.", None)
    assert sorted(queued(webhook_queue)) == sorted(str(d.id) for d in recorded)


def test_the_sweeper_failing_a_lost_run_records_its_event(client, coach, settings, empty_queue, webhook_queue):
    headers, hooks = coach
    sid, uri, task_id = uploaded_session(client, headers)
    claimed = transcription.claim(uuid.UUID(sid), task_id=task_id, audio_uri=uri, settings=settings)
    assert isinstance(claimed, session_state.Claim)
    later = datetime.now(UTC) + timedelta(hours=1)  # the lease has lapsed by then
    with session_scope() as db:
        assert session_state.fail_lost_run(db, uuid.UUID(sid), owner=claimed.token, attempts=3, now=later)
    assert sorted(d.webhook_id for d in deliveries(sid)) == sorted([hooks["failed"], hooks["completed+failed"]])
    assert deliveries(sid)[0].payload["data"]["error_code"] == "retries_exhausted"


def test_each_cancelled_run_records_its_own_event(client, coach, empty_queue, webhook_queue):
    headers, hooks = coach
    sid, _, _ = uploaded_session(client, headers)
    assert client.post(f"/api/v1/sessions/{sid}/cancel", headers=headers).status_code == 200
    [first] = deliveries(sid)
    assert (first.webhook_id, first.event, first.payload["data"]["status"]) == (
        hooks["cancelled"], "session.cancelled", "cancelled")
    assert queued(webhook_queue) == [str(first.id)]
    assert client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=headers).status_code == 202
    assert client.post(f"/api/v1/sessions/{sid}/cancel", headers=headers).status_code == 200
    recorded = deliveries(sid)
    assert len(recorded) == 2 and recorded[0].event_key != recorded[1].event_key


def test_an_imported_transcript_counts_as_completed(client, coach, webhook_queue):
    headers, hooks = coach
    sid, _ = imported(client, headers)
    recorded = deliveries(sid)
    assert sorted(d.webhook_id for d in recorded) == sorted([hooks["completed"], hooks["completed+failed"]])
    assert recorded[0].event_key == f"session.completed:{sid}:import"
    assert recorded[0].payload["data"]["segments_count"] == 5
    assert sorted(queued(webhook_queue)) == sorted(str(d.id) for d in recorded)


def test_a_rolled_back_transition_records_and_queues_nothing(client, coach, empty_queue, webhook_queue):
    headers, _ = coach
    sid, _, _ = uploaded_session(client, headers)
    with new_session() as db:
        assert session_state.cancel(db, uuid.UUID(sid))
        assert len(db.scalars(select(WebhookDelivery).where(WebhookDelivery.session_id == uuid.UUID(sid))).all()) == 1
        db.rollback()
        db.commit()  # a later commit of the same database session must not queue the rolled-back delivery
    with pytest.raises(RuntimeError), session_scope() as db:
        assert session_state.cancel(db, uuid.UUID(sid))
        raise RuntimeError("the request failed after the transition")
    assert deliveries(sid) == [] and queued(webhook_queue) == []
    with new_session() as db:
        assert db.get(CoachingSession, uuid.UUID(sid)).status == "pending"


def test_an_event_reported_twice_is_recorded_once(client, coach, empty_queue, webhook_queue):
    headers, _ = coach
    sid, _, _ = uploaded_session(client, headers)
    with session_scope() as db:
        assert session_state.cancel(db, uuid.UUID(sid))
        webhook_outbox.record_final_status(db, uuid.UUID(sid))
    with session_scope() as db:
        webhook_outbox.record_final_status(db, uuid.UUID(sid))
    assert len(deliveries(sid)) == 1 and len(queued(webhook_queue)) == 1


def test_a_lost_cancel_records_nothing(client, coach, settings, empty_queue, webhook_queue):
    """A transition whose compare-and-set loses (the session moved on) records no event."""
    headers, _ = coach
    sid, uri, task_id = uploaded_session(client, headers)
    assert run(settings, sid, uri, task_id).status == "completed"
    before = len(deliveries(sid))
    with session_scope() as db:
        assert not session_state.cancel(db, uuid.UUID(sid))
    assert len(deliveries(sid)) == before
