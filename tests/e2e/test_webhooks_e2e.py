"""Webhooks end to end: a real API, the seed's worker command (no -Q: it consumes the webhook
queue too) and a real receiver on 127.0.0.1 that verifies every signature with
`standardwebhooks`, is down (503) for the first two attempts at each event and then accepts it."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import make_user
from tests.e2e.conftest import start_api, start_worker
from tests.helpers import CONVERSATION
from tests.webhook_receiver import Answer, Received, Receiver

pytestmark = pytest.mark.e2e

ENV = {"STT_PROVIDER": "fake", "FAKE_STT_SECONDS_PER_CHUNK": "0.3", "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
       "WEBHOOK_RETRY_BASE_SECONDS": "0.5", "WEBHOOK_RETRY_MAX_DELAY_SECONDS": "2",
       "SWEEPER_INTERVAL_SECONDS": "0.5", "SWEEPER_PENDING_GRACE_SECONDS": "5"}


class DownTwice:
    """Answers 503 to the first two attempts at each webhook-id, then 204; 400 to a bad signature."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.attempts: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.bad_signatures = 0
        self.payloads: dict[str, dict] = {}
        self.lock = threading.Lock()

    def __call__(self, request: Received, _so_far: list[Received]) -> Answer:
        try:
            payload = Verifier(self.secret or "whsec_AA==").verify(request.body, request.headers)
        except WebhookVerificationError:
            self.bad_signatures += 1
            return Answer(status=400)
        message_id = request.headers["webhook-id"]
        with self.lock:
            self.attempts[message_id] += 1
            if self.attempts[message_id] <= 2:
                return Answer(status=503, body=b"receiver starting")
            self.accepted[message_id] += 1
            self.payloads[message_id] = payload
        return Answer(status=204)


def test_each_event_is_delivered_once_after_two_failed_attempts(tmp_path: Path, private_redis, processes):
    env = {"REDIS_URL": private_redis.url, **ENV}
    worker = start_worker(tmp_path, **env)
    processes.append(worker)
    api, url = start_api(tmp_path, **env)
    processes.append(api)
    _, key = make_user()
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    answers = DownTwice()
    with Receiver(answers) as receiver:
        created = http.post("/api/v1/webhooks", json={
            "url": receiver.url(), "events": ["session.completed", "session.failed", "session.cancelled"]})
        assert created.status_code == 201, created.text
        webhook_id, answers.secret = created.json()["id"], created.json()["secret"]

        completed = http.post("/api/v1/sessions", json={"title": "completes"}).json()["id"]
        with CONVERSATION.open("rb") as audio:
            assert http.post(f"/api/v1/sessions/{completed}/audio", files={"file": ("c.mp3", audio)}).status_code == 202
        cancelled = http.post("/api/v1/sessions", json={"title": "cancelled"}).json()["id"]
        with CONVERSATION.open("rb") as audio:
            assert http.post(f"/api/v1/sessions/{cancelled}/audio", files={"file": ("c.mp3", audio)}).status_code == 202
        assert http.post(f"/api/v1/sessions/{cancelled}/cancel").status_code == 200

        deadline, log = time.monotonic() + 90, []
        while time.monotonic() < deadline:
            log = http.get(f"/api/v1/webhooks/{webhook_id}/deliveries").json()["items"]
            if len(log) == 2 and all(d["status"] == "delivered" for d in log):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"deliveries: {json.dumps(log, indent=1)}\n{worker.output()[-4000:]}")
        time.sleep(3)  # long enough for a stray duplicate (retry, sweeper) to arrive

    by_session = {d["session_id"]: d for d in log}
    assert set(by_session) == {completed, cancelled}
    for delivery in log:
        assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 3, 204)
        assert delivery["last_error"] is None and delivery["next_attempt_at"] is None
    assert answers.bad_signatures == 0
    assert answers.attempts == {d["id"]: 3 for d in log}  # one webhook-id per event, on every attempt
    assert answers.accepted == {d["id"]: 1 for d in log}  # exactly one accepted delivery per event id
    done = answers.payloads[by_session[completed]["id"]]
    assert done["type"] == "session.completed"
    assert {k: done["data"][k] for k in ("session_id", "status", "title", "segments_count", "transcript_url")} == {
        "session_id": completed, "status": "completed", "title": "completes", "segments_count": 10,
        "transcript_url": f"/api/v1/sessions/{completed}/transcript"}
    gone = answers.payloads[by_session[cancelled]["id"]]
    assert (gone["type"], gone["data"]["status"], gone["data"]["transcript_url"]) == (
        "session.cancelled", "cancelled", None)
    per_path: defaultdict[str, int] = defaultdict(int)
    for request in receiver.received:
        per_path[request.path] += 1
    assert per_path == {"/hook": 6}
    # the seed's worker command, without -Q, consumes the webhook queue beside the default one
    assert ".> webhooks" in worker.output() and "tasks.webhook_tasks.deliver_webhook" in worker.output()
