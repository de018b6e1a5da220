"""/api/v1/webhooks over HTTP: the secret shown once, per-user isolation, the cap, the URL checks
(with a stubbed resolver: no network), and the delivery log."""

from __future__ import annotations

import base64
import ipaddress
import uuid

import pytest
from sqlalchemy import delete, func, select

from coaching_assistant.models import User, Webhook, WebhookDelivery, utcnow
from coaching_assistant.services import webhook_urls

WEBHOOKS = "/api/v1/webhooks"
EVENTS = ["session.completed", "session.failed"]


@pytest.fixture
def dns(monkeypatch):
    """hooks.example.com is public, intranet.example.com private; other names as the system says."""
    table = {"hooks.example.com": "93.184.216.34", "intranet.example.com": "10.1.2.3"}
    real = webhook_urls.resolve
    monkeypatch.setattr(webhook_urls, "resolve", lambda host, port: [ipaddress.ip_address(table[host])]
                        if host in table else real(host, port))
    return table


def create(client, headers, url="https://hooks.example.com/coaching", events=EVENTS):
    return client.post(WEBHOOKS, json={"url": url, "events": events}, headers=headers)


def stored_webhooks(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Webhook)) or 0


def test_create_shows_the_secret_once(client, user_headers, dns):
    response = create(client, user_headers)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["url"] == "https://hooks.example.com/coaching"
    assert body["events"] == ["session.completed", "session.failed"]
    assert body["secret"].startswith("whsec_") and len(base64.b64decode(body["secret"][6:])) == 32
    listed = client.get(WEBHOOKS, headers=user_headers).json()
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    one = client.get(f"{WEBHOOKS}/{body['id']}", headers=user_headers).json()
    assert one == {k: v for k, v in body.items() if k != "secret"}


def test_delete_removes_the_webhook(client, user_headers, dns):
    webhook_id = create(client, user_headers).json()["id"]
    assert client.delete(f"{WEBHOOKS}/{webhook_id}", headers=user_headers).status_code == 204
    gone = client.get(f"{WEBHOOKS}/{webhook_id}", headers=user_headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "webhook_not_found")
    assert client.get(WEBHOOKS, headers=user_headers).json() == []
    assert client.delete(f"{WEBHOOKS}/{webhook_id}", headers=user_headers).status_code == 404


def test_another_users_webhook_is_not_found(client, user_headers, other_headers, dns):
    webhook_id = create(client, user_headers).json()["id"]
    for method, path in (("get", f"{WEBHOOKS}/{webhook_id}"), ("delete", f"{WEBHOOKS}/{webhook_id}"),
                         ("get", f"{WEBHOOKS}/{webhook_id}/deliveries")):
        response = getattr(client, method)(path, headers=other_headers)
        assert (response.status_code, response.json()["code"]) == (404, "webhook_not_found"), path
    assert client.get(WEBHOOKS, headers=other_headers).json() == []
    assert client.get(f"{WEBHOOKS}/{webhook_id}", headers=user_headers).status_code == 200  # untouched


def test_a_key_is_needed(client, dns):
    assert client.get(WEBHOOKS).status_code == 401
    assert create(client, {}).status_code == 401


@pytest.mark.parametrize(("url", "code"), [
    ("http://127.0.0.1:8000/hook", "webhook_url_not_allowed"),
    ("http://localhost/hook", "webhook_url_not_allowed"),
    ("http://[::1]/hook", "webhook_url_not_allowed"),
    ("http://169.254.169.254/latest/meta-data/", "webhook_url_not_allowed"),
    ("https://intranet.example.com/hook", "webhook_url_not_allowed"),
    ("http://192.168.1.20/hook", "webhook_url_not_allowed"),
    ("http://[::ffff:10.0.0.1]/hook", "webhook_url_not_allowed"),
    ("ftp://hooks.example.com/hook", "invalid_webhook_url"),
    ("https://user:pw@hooks.example.com/hook", "invalid_webhook_url"),
])
def test_internal_or_malformed_urls_are_refused_and_nothing_is_stored(client, user_headers, db, dns, url, code):
    before = stored_webhooks(db)
    response = create(client, user_headers, url=url)
    assert (response.status_code, response.json()["code"]) == (422, code), response.text
    assert response.json()["message"]
    assert stored_webhooks(db) == before


def test_the_allow_list_admits_a_local_receiver(client, user_headers, settings, monkeypatch, dns):
    monkeypatch.setattr(settings, "webhook_allowed_hosts", "127.0.0.1, receiver.internal")
    assert create(client, user_headers, url="http://127.0.0.1:9999/hook").status_code == 201
    assert create(client, user_headers, url="http://192.168.1.20/hook").status_code == 422


@pytest.mark.parametrize("events", [[], ["session.started"], ["SESSION.COMPLETED"], "session.completed"])
def test_unknown_events_are_refused(client, user_headers, dns, events):
    response = create(client, user_headers, events=events)
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_repeated_events_are_kept_once(client, user_headers, dns):
    body = create(client, user_headers, events=["session.cancelled", "session.cancelled"]).json()
    assert body["events"] == ["session.cancelled"]


def test_a_user_has_at_most_the_cap(client, user_headers, settings, monkeypatch, dns):
    monkeypatch.setattr(settings, "webhook_max_per_user", 2)
    assert [create(client, user_headers).status_code for _ in range(2)] == [201, 201]
    refused = create(client, user_headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "too_many_webhooks")
    assert len(client.get(WEBHOOKS, headers=user_headers).json()) == 2


def add_delivery(db, webhook_id: str, **values) -> uuid.UUID:
    values = {"status": "pending", "next_attempt_at": utcnow(), **values}
    delivery = WebhookDelivery(webhook_id=uuid.UUID(webhook_id), event="session.completed",
                               event_key=f"k-{uuid.uuid4()}", session_id=uuid.uuid4(), payload={}, **values)
    db.add(delivery)
    db.commit()
    return delivery.id


def test_the_delivery_log_lists_newest_first_with_what_happened(client, user_headers, db, dns):
    webhook_id = create(client, user_headers).json()["id"]
    first = add_delivery(db, webhook_id, attempts=3, last_status_code=503, last_error="HTTP 503: down")
    second = add_delivery(db, webhook_id, status="delivered", attempts=1, last_status_code=200,
                          next_attempt_at=None, delivered_at=utcnow())
    page = client.get(f"{WEBHOOKS}/{webhook_id}/deliveries", headers=user_headers).json()
    assert page["total"] == 2 and [d["id"] for d in page["items"]] == [str(second), str(first)]
    pending = page["items"][1]
    assert {k: pending[k] for k in ("event", "status", "attempts", "last_status_code", "last_error")} == {
        "event": "session.completed", "status": "pending", "attempts": 3, "last_status_code": 503,
        "last_error": "HTTP 503: down"}
    assert pending["next_attempt_at"] and pending["created_at"] and pending["session_id"]
    assert page["items"][0]["delivered_at"]
    small = client.get(f"{WEBHOOKS}/{webhook_id}/deliveries?page=2&page_size=1", headers=user_headers).json()
    assert [d["id"] for d in small["items"]] == [str(first)]


def test_deleting_a_user_deletes_their_webhooks_and_deliveries(client, db, dns):
    from tests.conftest import make_user

    user, key = make_user()
    headers = {"Authorization": f"Bearer {key}"}
    webhook_id = create(client, headers).json()["id"]
    add_delivery(db, webhook_id)
    db.execute(delete(User).where(User.id == user.id))
    db.commit()
    assert db.get(Webhook, uuid.UUID(webhook_id)) is None
    assert db.scalar(select(func.count()).select_from(WebhookDelivery)
                     .where(WebhookDelivery.webhook_id == uuid.UUID(webhook_id))) == 0
