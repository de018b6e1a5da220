"""Concurrent edits through a real API process (uvicorn, its own thread pool and connection pool)
on whichever database the run uses: SQLite ignores SELECT … FOR UPDATE, so only a compare-and-set
keeps every replaced text.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_user
from tests.e2e.conftest import Process, start_api

pytestmark = pytest.mark.e2e

WRITERS = 20


@pytest.fixture
def api(tmp_path: Path) -> Iterator[httpx.Client]:
    process: Process | None = None
    try:
        # all writers in flight at once: above the per-user request limit (12 by default)
        process, url = start_api(tmp_path, USER_MAX_CONCURRENT_REQUESTS=str(WRITERS + 4))
        _, key = make_user()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
            yield client
    finally:
        if process is not None:
            process.stop()


def imported(http: httpx.Client, vtt: str) -> tuple[str, dict]:
    sid = http.post("/api/v1/sessions", json={"title": "concurrent edits"}).json()["id"]
    response = http.post(f"/api/v1/sessions/{sid}/transcript", files={"file": ("t.vtt", vtt.encode())})
    assert response.status_code == 201, response.text
    return sid, response.json()


def all_at_once(requests: list[tuple[str, dict]], http: httpx.Client) -> list[httpx.Response]:
    """Send the PATCHes from one thread each, released together."""
    barrier = threading.Barrier(len(requests))
    responses: list[httpx.Response | None] = [None] * len(requests)

    def send(i: int) -> None:
        path, body = requests[i]
        barrier.wait()
        responses[i] = http.patch(path, json=body)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]


def test_concurrent_text_edits_of_one_segment_lose_no_text(api):
    sid, body = imported(api, "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Coach>original text\n")
    segment = body["segments"][0]
    assert segment["version"] == 1
    texts = [f"edit number {i}" for i in range(WRITERS)]
    responses = all_at_once([(f"/api/v1/sessions/{sid}/segment-content",
                              {"segment_content": {segment["id"]: text}}) for text in texts], api)

    after = api.get(f"/api/v1/sessions/{sid}/transcript").json()["segments"][0]
    kept = [after["content"], *(h["content"] for h in after["history"])]
    accepted = [text for text, r in zip(texts, responses, strict=True) if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 409 and r.json()["code"] == "edit_conflict" for r in refused), \
        [r.text for r in refused]
    assert accepted, "every edit was refused"
    assert sorted(set(kept) - {"original text"}) == sorted(accepted)  # every accepted text is kept, once
    assert kept.count("original text") == 1 and len(kept) == len(accepted) + 1
    assert after["version"] == 1 + len(accepted)


def test_concurrent_speaker_role_edits_all_land(api):
    speakers = [f"Person {chr(65 + i)}" for i in range(10)]
    vtt = "WEBVTT\n\n" + "\n".join(f"00:00:{i:02d}.000 --> 00:00:{i:02d}.900\n<v {name}>Hello from {name}.\n"
                                   for i, name in enumerate(speakers))
    sid, body = imported(api, vtt)
    assert {entry["role"] for entry in body["speaker_roles"].values()} == {"unknown"}
    # each request sets one speaker's role: a lost update would put one of them back to "unknown"
    wanted = {str(i + 1): ("coach" if i % 2 else "client") for i in range(len(speakers))}
    responses = all_at_once([(f"/api/v1/sessions/{sid}/speaker-roles", {"speaker_roles": {speaker: role}})
                             for speaker, role in wanted.items()], api)
    assert [r.status_code for r in responses] == [200] * len(wanted), [r.text for r in responses]
    after = api.get(f"/api/v1/sessions/{sid}/transcript").json()["speaker_roles"]
    assert {speaker: entry["role"] for speaker, entry in after.items()} == wanted
    assert all(entry["source"] == "user" for entry in after.values())
