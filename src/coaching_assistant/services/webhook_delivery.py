"""The life of a delivery: claimed for an attempt, then delivered, scheduled again or failed.

    pending (due)             → pending, attempts + 1, next try pushed ahead   claim          task
    pending (this attempt)    → delivered                                      record_attempt task: 2xx
    pending (this attempt)    → pending, next try after a backoff              record_attempt task: anything else
    pending (this attempt)    → failed                                         record_attempt the retry window is over
    pending, due long ago     → pending, due now (and queued again)            requeue_overdue sweeper

Several messages may name one delivery (a redelivered message, the sweeper's), so each attempt
first claims the delivery with a compare-and-set: it counts the attempt and pushes the next try
CLAIM_MARGIN past the attempt's deadline. A second message finds it not due and does nothing; if
the worker dies mid-attempt, the delivery falls due again and the sweeper queues it.

Retries back off exponentially (WEBHOOK_RETRY_BASE_SECONDS doubled per attempt, at most
WEBHOOK_RETRY_MAX_DELAY_SECONDS, with jitter) until WEBHOOK_RETRY_WINDOW_HOURS after the event.
`attempt` runs one attempt from claim to result; the other functions take the caller's database
session and never commit.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import rows_changed, session_scope
from coaching_assistant.models import Webhook, WebhookDelivery, utcnow
from coaching_assistant.services import webhook_sender
from coaching_assistant.services.webhook_sender import Outcome

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# Beyond an attempt's own deadline (WEBHOOK_TIMEOUT_SECONDS), the time its claim lasts: name
# resolution (the system resolver's own timeouts) and the two database writes around it.
CLAIM_MARGIN = timedelta(seconds=60)
# A message may run a little before its countdown by the clock of the database's host.
CLOCK_SKEW = timedelta(seconds=2)


@dataclass(frozen=True)
class Claimed:
    """One attempt at a delivery, and all it needs to send it."""

    delivery_id: uuid.UUID
    attempt: int  # the delivery's attempt count, this one included
    url: str
    secret: str
    payload: dict[str, Any]


def retry_delay(attempts: int, settings: Settings, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: the base doubled per earlier attempt,
    capped, then "equal jitter" (between half and all of it), so receivers coming back up are not
    hit by every delivery at once."""
    ceiling = min(settings.webhook_retry_max_delay_seconds,
                  settings.webhook_retry_base_seconds * 2 ** min(attempts - 1, 40))
    return ceiling / 2 + rng() * ceiling / 2


def next_attempt_at(*, attempts: int, created_at: datetime, now: datetime, settings: Settings,
                    rng: Callable[[], float] = random.random) -> datetime | None:
    """When to try again after the `attempts`-th failure, or None once the retry window is over.
    The last try falls on the window's end rather than past it."""
    window_end = created_at + timedelta(hours=settings.webhook_retry_window_hours)
    if now >= window_end:
        return None
    return min(now + timedelta(seconds=retry_delay(attempts, settings, rng)), window_end)


def attempt(settings: Settings, delivery_id: uuid.UUID) -> datetime | None:
    """Claim the delivery, send it, store the outcome: when to try again, or None (delivered,
    failed for good, or not this message's to send). No transaction is open while it sends."""
    with session_scope() as db:
        claimed = claim(db, delivery_id, settings=settings, now=utcnow())
    if claimed is None:
        return None
    outcome = webhook_sender.send(url=claimed.url, secret=claimed.secret, message_id=str(delivery_id),
                                  payload=claimed.payload, timestamp=utcnow(),
                                  allowed_hosts=settings.webhook_allowed_host_names,
                                  timeout=settings.webhook_timeout_seconds)
    with session_scope() as db:
        return record_attempt(db, claimed, outcome, settings=settings, now=utcnow())


def claim(db: Session, delivery_id: uuid.UUID, *, settings: Settings, now: datetime) -> Claimed | None:
    """Count an attempt at a due pending delivery and hold it for the attempt's length; None if it
    is not due (another message's attempt holds it, or waits for its backoff), done or deleted."""
    held_until = now + timedelta(seconds=settings.webhook_timeout_seconds) + CLAIM_MARGIN
    claimed = rows_changed(db, update(WebhookDelivery)
                           .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING,
                                  or_(WebhookDelivery.next_attempt_at.is_(None),
                                      WebhookDelivery.next_attempt_at <= now + CLOCK_SKEW))
                           .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=held_until)
                           .execution_options(synchronize_session=False))
    if claimed != 1:
        return None
    row = db.execute(select(WebhookDelivery.attempts, WebhookDelivery.payload, Webhook.url, Webhook.secret)
                     .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                     .where(WebhookDelivery.id == delivery_id)).one()
    return Claimed(delivery_id=delivery_id, attempt=row.attempts, url=row.url, secret=row.secret,
                   payload=row.payload)


def record_attempt(db: Session, claimed: Claimed, outcome: Outcome, *, settings: Settings,
                   now: datetime) -> datetime | None:
    """Store what the attempt got: delivered, failed for good, or due again at the time returned.
    Nothing is stored if another attempt has claimed the delivery since (this one overran its claim)."""
    this_attempt = ((WebhookDelivery.id == claimed.delivery_id) & (WebhookDelivery.status == PENDING)
                    & (WebhookDelivery.attempts == claimed.attempt))
    result = {"last_status_code": outcome.status_code, "last_error": outcome.error}
    if outcome.delivered:
        rows_changed(db, update(WebhookDelivery).where(this_attempt)
                     .values(status=DELIVERED, delivered_at=now, next_attempt_at=None, **result)
                     .execution_options(synchronize_session=False))
        return None
    created_at = db.scalar(select(WebhookDelivery.created_at).where(WebhookDelivery.id == claimed.delivery_id))
    if created_at is None:  # the webhook was deleted meanwhile, and its deliveries with it
        return None
    retry_at = next_attempt_at(attempts=claimed.attempt, created_at=created_at, now=now, settings=settings)
    status = PENDING if retry_at is not None else FAILED
    stored = rows_changed(db, update(WebhookDelivery).where(this_attempt)
                          .values(status=status, next_attempt_at=retry_at, **result)
                          .execution_options(synchronize_session=False))
    return retry_at if stored else None


def requeue_overdue(db: Session, *, now: datetime, grace: timedelta, limit: int = 200) -> list[uuid.UUID]:
    """Pending deliveries due for longer than `grace` with nobody attempting them (their message
    was lost with the process that committed them, or with the broker, or its worker died
    mid-attempt): marked due now, so of several sweepers only one queues each, and returned to be
    queued again."""
    overdue = (WebhookDelivery.status == PENDING) & (WebhookDelivery.next_attempt_at <= now - grace)
    ids = db.scalars(select(WebhookDelivery.id).where(overdue).order_by(WebhookDelivery.next_attempt_at)
                     .limit(limit)).all()
    return [delivery_id for delivery_id in ids
            if rows_changed(db, update(WebhookDelivery).where(overdue, WebhookDelivery.id == delivery_id)
                            .values(next_attempt_at=now).execution_options(synchronize_session=False)) == 1]


def prune(db: Session, *, before: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` finished deliveries (delivered or failed) whose event is older than
    `before`; the number deleted. A pending one is never deleted: it is still being sent."""
    old = select(WebhookDelivery.id).where(WebhookDelivery.status != PENDING, WebhookDelivery.created_at < before)
    ids = db.scalars(old.limit(limit)).all()
    if not ids:
        return 0
    finished = (WebhookDelivery.id.in_(ids)) & (WebhookDelivery.status != PENDING)
    return rows_changed(db, delete(WebhookDelivery).where(finished).execution_options(synchronize_session=False))
