"""GET /api/health reports database, broker and workers; 503 when a dependency is down.
Without a key only the status is shown (no host names); with a key, the detail."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import base_env, free_port

PROBE = """
import json
from fastapi.testclient import TestClient
from coaching_assistant.api.main import app
r = TestClient(app).get('/api/health?detail=true')
print(json.dumps({'status': r.status_code, 'body': r.json()}))
"""


def probe(**env: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE], env=base_env(**env), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthy_without_workers(client, user_headers):
    response = client.get("/api/health", params={"detail": "true"}, headers=user_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert body["workers"]["count"] == 0 and body["status"] == "degraded"


def test_public_answer_is_only_the_status(client):
    for headers, params in (({}, {}), ({}, {"detail": "true"}), ({"Authorization": "Bearer ca_not_a_key"},
                                                                 {"detail": "true"})):
        response = client.get("/api/health", params=params, headers=headers)
        assert response.status_code == 200
        assert response.json() == {"status": "degraded"}


def test_broker_unreachable_is_503():
    result = probe(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", HEALTH_DETAIL_PUBLIC="true")
    assert result["status"] == 503
    assert result["body"]["broker"]["ok"] is False and result["body"]["database"]["ok"] is True


def test_database_unreachable_is_503():
    result = probe(DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/none", HEALTH_DETAIL_PUBLIC="true")
    assert result["status"] == 503
    assert result["body"]["database"]["ok"] is False and result["body"]["broker"]["ok"] is True
