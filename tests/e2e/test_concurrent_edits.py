"""Concurrent edits through real API processes (uvicorn, its own thread pool and connection pool)
on whichever database the run uses: SQLite ignores SELECT … FOR UPDATE, so only a compare-and-set
keeps every replaced text.

An API process runs transcript edits in a lane of its own (one thread, or a few), so edits sent to
a single process hardly overlap: with one process these tests passed on a plain read-modify-write.
Here two processes share the database and the PATCHes go to both in turn, as behind a load balancer.

Two processes alone race by luck: an edit reads and writes within a millisecond or two, and a plain
read-modify-write lost an update in about one run of ten. So both processes also wait a moment
before each UPDATE of a segment or a session (a `sitecustomize` module of the test's own, on their
PYTHONPATH, holds every such statement; nothing in the service changes): the other process's edit
then reads the same version in between, every time, and only a compare-and-set keeps both texts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_user
from tests.e2e.conftest import Process, start_api

pytestmark = pytest.mark.e2e

WRITERS = 20
API_PROCESSES = 2  # each runs its edits one after another: two make them race
RETRY_SECONDS = 60
WRITE_DELAY_SECONDS = 0.1
SLOW_WRITES = f'''"""Test only (tests/e2e/test_concurrent_edits.py): hold each UPDATE of an edited row a moment."""
import re
import sys
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine

_EDITED = re.compile(r'\\s*UPDATE\\s+"?(transcript_segment|session)"?\\s', re.IGNORECASE)


@event.listens_for(Engine, "before_cursor_execute")
def _slow_write(conn, cursor, statement, parameters, context, executemany):
    if _EDITED.match(statement):
        time.sleep({WRITE_DELAY_SECONDS})


print("slow writes on", file=sys.stderr, flush=True)
'''


@pytest.fixture
def apis(tmp_path: Path) -> Iterator[list[httpx.Client]]:
    """Clients of API processes of their own (slow writes on), one user's key for all."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_WRITES)
    pythonpath = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))
    processes: list[Process] = []
    try:
        _, key = make_user()
        urls = []
        for i in range(API_PROCESSES):
            (tmp_path / f"api{i}").mkdir()
            # all writers in flight at once: above the per-user request limit (12 by default)
            process, url = start_api(tmp_path / f"api{i}", USER_MAX_CONCURRENT_REQUESTS=str(WRITERS + 4),
                                     PYTHONPATH=pythonpath)
            processes.append(process)
            assert "slow writes on" in process.output(), process.output()[-3000:]
            urls.append(url)
        with ExitStack() as stack:
            yield [stack.enter_context(httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                                    timeout=120)) for url in urls]
    finally:
        for process in processes:
            process.stop()


def imported(http: httpx.Client, vtt: str) -> tuple[str, dict]:
    sid = http.post("/api/v1/sessions", json={"title": "concurrent edits"}).json()["id"]
    response = http.post(f"/api/v1/sessions/{sid}/transcript", files={"file": ("t.vtt", vtt.encode())})
    assert response.status_code == 201, response.text
    return sid, response.json()


def all_at_once(requests: list[tuple[str, dict]], apis: list[httpx.Client]) -> list[httpx.Response]:
    """Send the PATCHes from one thread each, released together, to the API processes in turn.
    A 429 (the user's transcript jobs at their cap in that process) is sent again after its
    Retry-After, like a polite client: the answer kept is the first that is not a 429."""
    barrier = threading.Barrier(len(requests))
    responses: list[httpx.Response | None] = [None] * len(requests)

    def send(i: int) -> None:
        path, body = requests[i]
        barrier.wait()
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            response = apis[i % len(apis)].patch(path, json=body)
            if response.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))
        responses[i] = response

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in responses)
    return [r for r in responses if r is not None]


def test_concurrent_text_edits_of_one_segment_lose_no_text(apis):
    sid, body = imported(apis[0], "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Coach>original text\n")
    segment = body["segments"][0]
    assert segment["version"] == 1
    texts = [f"edit number {i}" for i in range(WRITERS)]
    responses = all_at_once([(f"/api/v1/sessions/{sid}/segment-content",
                              {"segment_content": {segment["id"]: text}}) for text in texts], apis)

    # both processes read back the same result
    after, *others = (http.get(f"/api/v1/sessions/{sid}/transcript").json()["segments"][0] for http in apis)
    assert all(other == after for other in others)
    kept = [after["content"], *(h["content"] for h in after["history"])]
    accepted = [text for text, r in zip(texts, responses, strict=True) if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 409 and r.json()["code"] == "edit_conflict" for r in refused), \
        [r.text for r in refused]
    assert accepted, "every edit was refused"
    assert {i % len(apis) for i, r in enumerate(responses) if r.status_code == 200} == set(range(len(apis)))
    assert sorted(set(kept) - {"original text"}) == sorted(accepted)  # every accepted text is kept, once
    assert kept.count("original text") == 1 and len(kept) == len(accepted) + 1
    assert after["version"] == 1 + len(accepted)


def test_concurrent_speaker_role_edits_all_land(apis):
    speakers = [f"Person {chr(65 + i)}" for i in range(10)]
    vtt = "WEBVTT\n\n" + "\n".join(f"00:00:{i:02d}.000 --> 00:00:{i:02d}.900\n<v {name}>Hello from {name}.\n"
                                   for i, name in enumerate(speakers))
    sid, body = imported(apis[0], vtt)
    assert {entry["role"] for entry in body["speaker_roles"].values()} == {"unknown"}
    # each request sets one speaker's role: a lost update would put one of them back to "unknown"
    wanted = {str(i + 1): ("coach" if i % 2 else "client") for i in range(len(speakers))}
    responses = all_at_once([(f"/api/v1/sessions/{sid}/speaker-roles", {"speaker_roles": {speaker: role}})
                             for speaker, role in wanted.items()], apis)
    assert [r.status_code for r in responses] == [200] * len(wanted), [r.text for r in responses]
    after, *others = (http.get(f"/api/v1/sessions/{sid}/transcript").json()["speaker_roles"] for http in apis)
    assert all(other == after for other in others)
    assert {speaker: entry["role"] for speaker, entry in after.items()} == wanted
    assert all(entry["source"] == "user" for entry in after.values())
