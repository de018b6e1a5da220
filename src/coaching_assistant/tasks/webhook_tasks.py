"""The Celery task that makes one attempt at a webhook delivery: a thin adapter over
services/webhook_delivery.py. Only a worker imports this module (the Celery app's `include`); the
rest of the service sends the task by name (core/task_queue.py).
"""

from __future__ import annotations

import logging
import uuid

from coaching_assistant.core.celery_app import DELIVER_WEBHOOK_TASK, celery_app
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.task_queue import enqueue_webhook_delivery
from coaching_assistant.models import utcnow
from coaching_assistant.services import webhook_delivery

logger = logging.getLogger(__name__)

# A retry further off than this is left to the sweeper, which queues deliveries whose time has
# come: a countdown message is held unacknowledged by one worker until it runs, and a long one
# would be lost with that worker until the broker's visibility timeout.
MAX_COUNTDOWN_SECONDS = 900


@celery_app.task(name=DELIVER_WEBHOOK_TASK, ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """One attempt at the delivery; a failed one is queued again for its next try."""
    retry_at = webhook_delivery.attempt(get_settings(), uuid.UUID(delivery_id))
    if retry_at is None:
        return
    wait = max(0.0, (retry_at - utcnow()).total_seconds())
    if wait > MAX_COUNTDOWN_SECONDS:
        return
    try:
        enqueue_webhook_delivery(delivery_id, countdown=wait)
    except Exception as exc:  # the delivery is due in the database: the sweeper queues it
        logger.warning("Could not queue the next attempt at webhook delivery %s (%s)", delivery_id, exc)
