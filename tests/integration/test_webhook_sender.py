"""One delivery attempt against a real HTTP receiver on 127.0.0.1: signed, pinned to the checked
address, no redirect followed, bounded in time and in what it reads, and checked again at
delivery time (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from coaching_assistant.services import webhook_sender, webhook_urls
from coaching_assistant.services.webhooks import new_secret
from tests.webhook_receiver import Answer, Receiver

PAYLOAD = {"type": "session.failed", "timestamp": "2026-01-01T00:00:00+00:00", "data": {"session_id": "s"}}
LOCAL = frozenset({"127.0.0.1", "receiver.test"})


def send(url: str, secret: str = "whsec_" + "a" * 43, allowed: frozenset[str] = LOCAL, timeout: float = 5):
    return webhook_sender.send(url=url, secret=secret, message_id="delivery-1", payload=PAYLOAD,
                               timestamp=datetime.now(UTC), allowed_hosts=allowed, timeout=timeout)


@pytest.fixture
def dns(monkeypatch):
    """Host names this test resolves, to addresses it chooses (and can change)."""
    table: dict[str, str] = {}
    real = webhook_urls.resolve

    def resolve(host: str, port: int):
        return [ipaddress.ip_address(table[host])] if host in table else real(host, port)

    monkeypatch.setattr(webhook_urls, "resolve", resolve)
    return table


def test_a_2xx_is_delivered_with_headers_a_receiver_verifies():
    secret = new_secret()
    with Receiver() as receiver:
        outcome = send(receiver.url(), secret)
    assert (outcome.delivered, outcome.status_code, outcome.error) == (True, 204, None)
    [request] = receiver.received
    assert Webhook(secret).verify(request.body, request.headers) == PAYLOAD
    assert request.headers["webhook-id"] == "delivery-1"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("coaching-transcript-webhooks/")


def test_anything_but_2xx_is_a_failed_attempt_with_the_answers_start_logged():
    answer = Answer(status=503, body=b"down for maintenance\n" + b"x" * 100_000)
    with Receiver(lambda _r, _s: answer) as receiver:
        outcome = send(receiver.url())
    assert (outcome.delivered, outcome.status_code) == (False, 503)
    assert outcome.error is not None and outcome.error.startswith("HTTP 503: down for maintenance")
    assert len(outcome.error) < 250  # the body is read up to a cap and logged shorter still


def test_a_redirect_is_not_followed():
    redirect = Answer(status=302, headers=(("location", "http://169.254.169.254/latest/meta-data/"),))
    with Receiver(lambda r, _s: redirect if r.path == "/hook" else Answer()) as receiver:
        outcome = send(receiver.url())
    assert (outcome.delivered, outcome.status_code) == (False, 302)
    assert "not followed" in (outcome.error or "") and "169.254.169.254" in (outcome.error or "")
    assert [r.path for r in receiver.received] == ["/hook"]


def test_a_receiver_too_slow_to_answer_fails_the_attempt_at_the_deadline():
    with Receiver(lambda _r, _s: Answer(delay=5)) as receiver:
        started = time.monotonic()
        outcome = send(receiver.url(), timeout=0.5)
    assert time.monotonic() - started < 2
    assert outcome.status_code is None and not outcome.delivered
    assert outcome.error in ("no answer within 0.5 s", "timed out (127.0.0.1)")


def test_a_refused_connection_fails_the_attempt():
    with Receiver() as receiver:
        url = receiver.url()
    outcome = send(url)  # the receiver has stopped: nothing listens on its port
    assert outcome.status_code is None and "ConnectError" in (outcome.error or "")


def test_a_loopback_receiver_is_refused_without_the_allow_list():
    with Receiver() as receiver:
        outcome = send(receiver.url(), allowed=frozenset())
    assert outcome.status_code is None and "a loopback address" in (outcome.error or "")
    assert receiver.received == []


def test_the_attempt_connects_to_the_checked_address_and_names_the_host(dns):
    dns["receiver.test"] = "127.0.0.1"
    with Receiver() as receiver:
        outcome = send(receiver.url(host="receiver.test"))
    assert outcome.delivered
    assert receiver.received[0].headers["host"] == f"receiver.test:{receiver.port}"


def test_a_host_that_now_resolves_to_a_private_address_is_refused_at_delivery(dns):
    """DNS rebinding: the name was public when the webhook was created and points inside now."""
    dns["rebind.example.com"] = "93.184.216.34"
    webhook_urls.check("http://rebind.example.com/hook", allowed_hosts=frozenset())  # accepted at creation
    dns["rebind.example.com"] = "10.0.0.1"
    outcome = send("http://rebind.example.com/hook", allowed=frozenset())
    assert outcome.status_code is None and not outcome.delivered
    assert "10.0.0.1, a private address" in (outcome.error or "")
