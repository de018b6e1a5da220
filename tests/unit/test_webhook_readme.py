"""The README's webhook receiver, run as written, verifies what the sender signs."""

from __future__ import annotations

import re
import types
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from coaching_assistant.services.webhook_sender import body_of, signed_headers
from coaching_assistant.services.webhooks import new_secret

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_receiver(monkeypatch, secret: str) -> types.ModuleType:
    code = re.search(r"```python\n# receiver\.py\n(.*?)```", README.read_text(), re.S)
    assert code is not None, "the README's receiver.py example is gone"
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    module = types.ModuleType("receiver")
    exec(compile(code.group(1), "README.md:receiver.py", "exec"), module.__dict__)  # noqa: S102
    return module


def test_the_readme_receiver_accepts_a_signed_delivery_once(monkeypatch, capsys):
    secret = new_secret()
    receiver = readme_receiver(monkeypatch, secret)
    payload = {"type": "session.completed", "timestamp": "2026-01-01T00:00:00+00:00",
               "data": {"session_id": "abc", "transcript_url": "/api/v1/sessions/abc/transcript"}}
    body = body_of(payload)
    headers = {**signed_headers(secret=secret, message_id="d-1", timestamp=datetime.now(UTC), body=body),
               "content-type": "application/json"}
    with TestClient(receiver.app) as client:
        assert client.post("/coaching", content=body, headers=headers).status_code == 204
        assert client.post("/coaching", content=body, headers=headers).status_code == 204  # a retry
        forged = {**headers, "webhook-signature": signed_headers(secret=new_secret(), message_id="d-1",
                                                                 timestamp=datetime.now(UTC), body=body)
                  ["webhook-signature"]}
        assert client.post("/coaching", content=body, headers=forged).status_code == 400
    assert capsys.readouterr().out == "session.completed abc /api/v1/sessions/abc/transcript\n"  # handled once
