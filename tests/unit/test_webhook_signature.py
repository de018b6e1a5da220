"""A delivery's payload and signature follow the Standard Webhooks spec: checked with the
`standardwebhooks` package a receiver would use, and by computing the HMAC from the spec."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from coaching_assistant.services.webhook_sender import MAX_BODY_BYTES, body_of, signed_headers
from coaching_assistant.services.webhooks import new_secret

PAYLOAD = {"type": "session.completed", "timestamp": "2026-01-01T00:00:00+00:00",
           "data": {"session_id": "0b6f5c1e-3d8c-4a59-9f3e-1c2d3e4f5a6b", "status": "completed", "title": "Weekly 週會",
                    "duration_seconds": 46.4, "segments_count": 10, "error_code": None, "error_message": None,
                    "transcript_url": "/api/v1/sessions/0b6f5c1e-3d8c-4a59-9f3e-1c2d3e4f5a6b/transcript"}}


def test_a_secret_is_whsec_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert new_secret() != secret


def test_standardwebhooks_verifies_the_signature_and_returns_the_payload():
    secret, body, now = new_secret(), body_of(PAYLOAD), datetime.now(UTC)
    headers = signed_headers(secret=secret, message_id="msg-1", timestamp=now, body=body)
    assert Webhook(secret).verify(body.encode(), headers) == PAYLOAD
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("Weekly", "Weekly!").encode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body.encode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.encode(), {**headers, "webhook-id": "msg-2"})


def test_the_signature_is_the_hmac_the_spec_describes():
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body, timestamp = body_of(PAYLOAD), datetime(2026, 1, 1, 12, 0, 5, 900000, tzinfo=UTC)
    headers = signed_headers(secret=secret, message_id="msg_2b9f", timestamp=timestamp, body=body)
    assert headers["webhook-id"] == "msg_2b9f"
    assert headers["webhook-timestamp"] == "1767268805"  # whole seconds since the epoch
    signed = f"msg_2b9f.1767268805.{body}".encode()
    expected = base64.b64encode(hmac.new(b"k" * 32, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"


def test_the_body_is_compact_utf8_json_and_bounded():
    body = body_of(PAYLOAD)
    assert json.loads(body) == PAYLOAD and "週會" in body and ": " not in body
    assert len(body.encode()) < 1024
    with pytest.raises(ValueError, match="over"):
        body_of({"data": "x" * MAX_BODY_BYTES})
