"""A delivery's attempts against the real database and a real receiver on 127.0.0.1: claimed once
however many messages name it, retried on failure, ended by the retry window, and queued again by
the sweeper when nobody attempts it."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from standardwebhooks import Webhook as Verifier

from coaching_assistant.core.database import new_session, session_scope
from coaching_assistant.models import Webhook, WebhookDelivery, utcnow
from coaching_assistant.services import sweeper, webhook_delivery
from coaching_assistant.services.webhooks import new_secret
from tests.conftest import make_user
from tests.webhook_receiver import Answer, Receiver

PAYLOAD = {"type": "session.completed", "timestamp": "2026-01-01T00:00:00+00:00", "data": {"session_id": "s"}}


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"webhook_allowed_hosts": "127.0.0.1", "webhook_timeout_seconds": 5})


@pytest.fixture(autouse=True)
def only_this_tests_deliveries(db):
    """The sweeper looks at every delivery; start each test without other tests' leftovers."""
    db.execute(delete(WebhookDelivery))
    db.commit()


def new_delivery(url: str, secret: str | None = None, *, created_at: datetime | None = None) -> uuid.UUID:
    user, _ = make_user()
    now = created_at or utcnow()
    with session_scope() as db:
        webhook = Webhook(user_id=user.id, url=url, events=["session.completed"], secret=secret or new_secret())
        db.add(webhook)
        db.flush()
        delivery = WebhookDelivery(webhook_id=webhook.id, event="session.completed", event_key="k", payload=PAYLOAD,
                                   status="pending", next_attempt_at=now, created_at=now)
        db.add(delivery)
        db.flush()
        return delivery.id


def row(delivery_id: uuid.UUID) -> WebhookDelivery:
    with new_session() as db:
        found = db.get(WebhookDelivery, delivery_id)
        assert found is not None
        return found


def set_due(delivery_id: uuid.UUID, when: datetime) -> None:
    with session_scope() as db:
        db.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(next_attempt_at=when))


def failing_first(times: int):
    return lambda _request, so_far: Answer(status=503, body=b"busy") if len(so_far) <= times else Answer(status=200)


def test_a_failed_attempt_is_tried_again_and_a_2xx_delivers_it(settings):
    secret = new_secret()
    with Receiver(failing_first(1)) as receiver:
        delivery_id = new_delivery(receiver.url(), secret)
        before = utcnow()
        retry_at = webhook_delivery.attempt(settings, delivery_id)
        assert retry_at is not None and before + timedelta(seconds=14) < retry_at < utcnow() + timedelta(seconds=31)
        failed = row(delivery_id)
        assert (failed.status, failed.attempts, failed.last_status_code, failed.last_error) == (
            "pending", 1, 503, "HTTP 503: busy")
        assert failed.next_attempt_at == retry_at
        assert webhook_delivery.attempt(settings, delivery_id) is None  # not due yet: nothing is sent
        assert len(receiver.received) == 1
        set_due(delivery_id, utcnow())
        assert webhook_delivery.attempt(settings, delivery_id) is None
    done = row(delivery_id)
    assert (done.status, done.attempts, done.last_status_code, done.last_error, done.next_attempt_at) == (
        "delivered", 2, 200, None, None)
    assert done.delivered_at is not None
    # one webhook-id on every attempt, each attempt signed afresh and verifiable
    assert {r.headers["webhook-id"] for r in receiver.received} == {str(delivery_id)}
    assert all(Verifier(secret).verify(r.body, r.headers) == PAYLOAD for r in receiver.received)


def test_many_messages_for_one_delivery_send_it_once(settings):
    with Receiver(lambda _r, _s: Answer(status=200, delay=0.3)) as receiver:
        delivery_id = new_delivery(receiver.url())
        threads = [threading.Thread(target=webhook_delivery.attempt, args=(settings, delivery_id)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(receiver.received) == 1
    assert (row(delivery_id).status, row(delivery_id).attempts) == ("delivered", 1)


def test_a_delivered_delivery_is_never_sent_again(settings):
    with Receiver() as receiver:
        delivery_id = new_delivery(receiver.url())
        webhook_delivery.attempt(settings, delivery_id)
        set_due(delivery_id, utcnow() - timedelta(hours=1))  # even if it looked due
        assert webhook_delivery.attempt(settings, delivery_id) is None
    assert len(receiver.received) == 1


def test_after_the_retry_window_a_failed_attempt_ends_the_delivery(settings):
    with Receiver(lambda _r, _s: Answer(status=500)) as receiver:
        delivery_id = new_delivery(receiver.url(), created_at=utcnow() - timedelta(hours=25))
        assert webhook_delivery.attempt(settings, delivery_id) is None
    ended = row(delivery_id)
    assert (ended.status, ended.attempts, ended.last_status_code, ended.next_attempt_at) == ("failed", 1, 500, None)


def test_an_unreachable_receiver_is_a_failed_attempt(settings):
    with Receiver() as receiver:
        url = receiver.url()
    delivery_id = new_delivery(url)
    assert webhook_delivery.attempt(settings, delivery_id) is not None
    failed = row(delivery_id)
    assert (failed.status, failed.last_status_code) == ("pending", None) and "ConnectError" in failed.last_error


def test_a_webhook_deleted_mid_attempt_stores_nothing(settings):
    delivery_id = new_delivery("http://127.0.0.1:9/hook")
    with session_scope() as db:
        claimed = webhook_delivery.claim(db, delivery_id, settings=settings, now=utcnow())
    assert claimed is not None and claimed.attempt == 1
    with session_scope() as db:
        db.execute(delete(Webhook).where(Webhook.id == row(delivery_id).webhook_id))
    with session_scope() as db:
        outcome = webhook_delivery.Outcome(503, "HTTP 503")
        assert webhook_delivery.record_attempt(db, claimed, outcome, settings=settings, now=utcnow()) is None
    assert webhook_delivery.attempt(settings, delivery_id) is None


def sweep(settings, now: datetime) -> list[str]:
    queued: list[str] = []
    report = sweeper.sweep(settings, enqueue=lambda *_args: None, queued_task_ids=lambda: set(),
                           enqueue_webhook=queued.append, now=now)
    assert report.webhook_deliveries == queued
    return queued


def test_the_sweeper_queues_a_delivery_nobody_attempts_once(settings):
    """Its message was lost between the commit and the queue, or with the broker."""
    delivery_id = new_delivery("http://127.0.0.1:9/hook")
    now = datetime.now(UTC)
    assert sweep(settings, now) == []  # within the grace: its message may still be on the way
    later = now + timedelta(seconds=settings.sweeper_pending_grace_seconds + 1)
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(sweep(settings, later))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sum(results, [])) == [str(delivery_id)]  # several sweepers, queued once
    assert row(delivery_id).next_attempt_at == later
    assert sweep(settings, later + timedelta(seconds=1)) == []  # queued just now: not again within the grace


def test_the_sweeper_queues_a_delivery_whose_worker_died_mid_attempt(settings):
    delivery_id = new_delivery("http://127.0.0.1:9/hook")
    now = utcnow()
    with session_scope() as db:
        assert webhook_delivery.claim(db, delivery_id, settings=settings, now=now) is not None
    grace = timedelta(seconds=settings.sweeper_pending_grace_seconds)
    assert sweep(settings, now + grace + timedelta(seconds=30)) == []  # the attempt may still be running
    held = row(delivery_id).next_attempt_at
    assert sweep(settings, held + grace + timedelta(seconds=1)) == [str(delivery_id)]


def test_the_sweeper_leaves_finished_and_future_deliveries_alone(settings):
    done = new_delivery("http://127.0.0.1:9/hook")
    later = new_delivery("http://127.0.0.1:9/hook")
    with session_scope() as db:
        db.execute(update(WebhookDelivery).where(WebhookDelivery.id == done).values(status="failed"))
    set_due(later, utcnow() + timedelta(hours=2))
    assert sweep(settings, utcnow() + timedelta(hours=1)) == []


def test_the_sweeper_deletes_finished_deliveries_past_the_log_retention(settings):
    old = utcnow() - timedelta(days=31)
    delivered, failed, still_sending = (new_delivery("http://127.0.0.1:9/hook", created_at=old) for _ in range(3))
    recent = new_delivery("http://127.0.0.1:9/hook")
    with session_scope() as db:
        db.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_([delivered, recent]))
                   .values(status="delivered"))
        db.execute(update(WebhookDelivery).where(WebhookDelivery.id == failed).values(status="failed"))
    set_due(still_sending, utcnow() + timedelta(hours=1))
    report = sweeper.sweep(settings, enqueue=lambda *_args: None, queued_task_ids=lambda: set(), now=utcnow())
    assert report.webhook_log_deleted == 2
    with new_session() as db:
        left = set(db.scalars(select(WebhookDelivery.id)).all())
    assert left == {still_sending, recent}
    kept = settings.model_copy(update={"webhook_log_retention_days": 0})
    with session_scope() as db:
        db.execute(update(WebhookDelivery).values(created_at=old, status="delivered"))
    assert sweeper.sweep(kept, enqueue=lambda *_args: None, queued_task_ids=lambda: set()).webhook_log_deleted == 0
