"""/api/v1/webhooks: thin HTTP adapters over services.webhooks."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from coaching_assistant.api.deps import AppSettings, CurrentUser, DbSession
from coaching_assistant.api.schemas import (
    WebhookCreate,
    WebhookCreatedOut,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookOut,
)
from coaching_assistant.services import webhooks

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookCreatedOut)
def create_webhook(body: WebhookCreate, db: DbSession, user: CurrentUser, settings: AppSettings,
                   response: Response) -> WebhookCreatedOut:
    """A webhook and its signing secret, shown only in this response."""
    webhook = webhooks.create_webhook(db, settings=settings, user=user, url=body.url, events=body.events)
    response.headers["Cache-Control"] = "no-store"
    return WebhookCreatedOut.model_validate(webhook)


@router.get("", response_model=list[WebhookOut])
def list_webhooks(db: DbSession, user: CurrentUser) -> list[WebhookOut]:
    return [WebhookOut.model_validate(w) for w in webhooks.list_webhooks(db, user=user)]


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: uuid.UUID, db: DbSession, user: CurrentUser) -> WebhookOut:
    return WebhookOut.model_validate(webhooks.get_webhook(db, user=user, webhook_id=webhook_id))


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: uuid.UUID, db: DbSession, user: CurrentUser) -> Response:
    """Delete the webhook and its delivery log; nothing more is sent to it."""
    webhooks.delete_webhook(db, user=user, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=WebhookDeliveryPage)
def list_deliveries(webhook_id: uuid.UUID, db: DbSession, user: CurrentUser,
                    page: Annotated[int, Query(ge=1)] = 1,
                    page_size: Annotated[int, Query(ge=1, le=100)] = 20) -> WebhookDeliveryPage:
    """The delivery log, newest first: each event's status, attempts, last answer and next try."""
    rows, total = webhooks.list_deliveries(db, user=user, webhook_id=webhook_id, page=page, page_size=page_size)
    return WebhookDeliveryPage(items=[WebhookDeliveryOut.model_validate(r) for r in rows], total=total, page=page,
                               page_size=page_size)
