"""A user's webhooks: create (the secret is returned once), list, read, delete, and their delivery log.

Every query names the user, so another user's webhook is "not found", never "forbidden".
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError, ErrorCode
from coaching_assistant.models import User, Webhook, WebhookDelivery
from coaching_assistant.services import webhook_urls

SECRET_PREFIX = "whsec_"  # the Standard Webhooks form: whsec_ + base64 of the key
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def create_webhook(db: Session, *, settings: Settings, user: User, url: str, events: Sequence[str]) -> Webhook:
    """A new webhook for `user`, its URL checked (it must resolve to public addresses unless its
    host is allowed) and under the per-user cap."""
    parsed = webhook_urls.parse(url)
    webhook_urls.check(parsed, allowed_hosts=settings.webhook_allowed_host_names)
    # Lock the user's row so two concurrent creations cannot both pass the cap (PostgreSQL; SQLite
    # writes one transaction at a time anyway).
    db.execute(select(User.id).where(User.id == user.id).with_for_update())
    count = db.scalar(select(func.count()).select_from(Webhook).where(Webhook.user_id == user.id)) or 0
    if count >= settings.webhook_max_per_user:
        db.rollback()
        raise CoachingError(f"You already have {count} webhooks, the most one user may have; delete one first.",
                            ErrorCode.TOO_MANY_WEBHOOKS)
    webhook = Webhook(user_id=user.id, url=str(parsed), events=sorted(set(events)), secret=new_secret())
    db.add(webhook)
    db.commit()
    return webhook


def list_webhooks(db: Session, *, user: User) -> Sequence[Webhook]:
    return db.scalars(select(Webhook).where(Webhook.user_id == user.id).order_by(Webhook.created_at)).all()


def get_webhook(db: Session, *, user: User, webhook_id: uuid.UUID) -> Webhook:
    webhook = db.scalar(select(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user.id))
    if webhook is None:
        raise CoachingError("Webhook not found.", ErrorCode.WEBHOOK_NOT_FOUND)
    return webhook


def delete_webhook(db: Session, *, user: User, webhook_id: uuid.UUID) -> None:
    """Delete the webhook and its delivery log; a delivery being sent right now still arrives."""
    db.delete(get_webhook(db, user=user, webhook_id=webhook_id))
    db.commit()


def list_deliveries(db: Session, *, user: User, webhook_id: uuid.UUID, page: int,
                    page_size: int) -> tuple[Sequence[WebhookDelivery], int]:
    """The webhook's deliveries, newest first."""
    get_webhook(db, user=user, webhook_id=webhook_id)
    total = db.scalar(select(func.count()).select_from(WebhookDelivery)
                      .where(WebhookDelivery.webhook_id == webhook_id)) or 0
    rows = db.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
                      .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                      .offset((page - 1) * page_size).limit(page_size)).all()
    return rows, total
