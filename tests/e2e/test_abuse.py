"""Nobody can take the API down (issue 16): floods against a real uvicorn process, only on
127.0.0.1, each while another user's requests must keep being answered within 2 s, none with a
500. The floods are bench/abuse.py's, smaller."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import psutil
import pytest
from bench.abuse import (
    Bystander,
    Outcome,
    flood_big_bodies,
    flood_gets,
    flood_health,
    flood_long_polls,
    flood_slow_uploads,
    new_session,
    wav,
    with_bystander,
)

from tests.conftest import make_user
from tests.e2e.conftest import start_api

pytestmark = pytest.mark.e2e


def headers_of(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_no_harm(outcome: Outcome, seen: Bystander, allowed: set[str]) -> None:
    assert set(outcome.statuses) <= allowed, outcome.statuses
    assert outcome.retry_after_missing == 0
    assert set(seen.statuses) == {"200"}, seen.statuses
    assert seen.latencies and seen.worst < 2.0, f"the bystander waited {seen.worst:.2f} s"


@pytest.fixture
def api(tmp_path, processes):
    def start(**env: str) -> str:
        process, url = start_api(tmp_path, **env)
        processes.append(process)
        return url
    return start


def test_health_flood_without_a_key_leaves_everything_answering(api, empty_queue):
    url = api()
    _, bystander_key = make_user()
    outcome, seen = asyncio.run(with_bystander(url, headers_of(bystander_key),
                                               lambda: flood_health(url, clients=20, seconds=6)))
    assert_no_harm(outcome, seen, {"200"})
    assert outcome.requests > 100
    started = time.perf_counter()
    after = httpx.get(f"{url}/api/health", timeout=5)
    assert after.status_code == 200 and time.perf_counter() - started < 2
    assert after.json() == {"status": "degraded"}  # no worker here; and no host names without a key


def test_one_users_burst_gets_429_not_a_stall(api):
    url = api()
    _, key = make_user()
    _, bystander_key = make_user()
    outcome, seen = asyncio.run(with_bystander(url, headers_of(bystander_key),
                                               lambda: flood_gets(url, key, requests=60)))
    assert_no_harm(outcome, seen, {"200", "429"})
    assert outcome.statuses["200"] >= 12  # and the rest 429 too_many_requests, if they came at once


def test_long_poll_flood_is_capped_per_user(api, empty_queue):
    url = api()  # no worker: the session stays pending, so every long-poll would wait its full time
    _, key = make_user()
    _, bystander_key = make_user()
    session_id = asyncio.run(new_session(url, key, wav(3)))
    started = time.monotonic()
    outcome, seen = asyncio.run(with_bystander(url, headers_of(bystander_key),
                                               lambda: flood_long_polls(url, key, session_id, requests=80, wait=3)))
    assert_no_harm(outcome, seen, {"200", "429"})
    assert outcome.statuses["200"] <= 12  # the user's request cap; at most 4 of them waited
    assert outcome.codes["too_many_long_polls"] + outcome.codes["too_many_requests"] >= 68
    assert time.monotonic() - started < 20


def test_a_long_poll_whose_client_left_gives_its_slot_back(api, empty_queue):
    """A browser that leaves a page abandons its long-poll; the server must not hold that slot
    until the wait runs out (here 30 s), or the next page's long-polls are refused."""
    url = api(USER_MAX_LONG_POLLS="1")
    _, key = make_user()
    session_id = asyncio.run(new_session(url, key, wav(3)))  # no worker: it stays pending
    status = f"{url}/api/v1/sessions/{session_id}/status"
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(status, params={"wait": 30}, headers=headers_of(key), timeout=1)
    time.sleep(1.5)  # the server looks for a disconnect every 0.5 s
    again = httpx.get(status, params={"wait": 1}, headers=headers_of(key), timeout=10)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "pending"


def test_slow_uploads_are_capped_and_cut_off(api):
    url = api(BODY_IDLE_TIMEOUT_SECONDS="2")
    _, key = make_user()
    _, bystander_key = make_user()
    session_id = asyncio.run(new_session(url, key))
    outcome, seen = asyncio.run(with_bystander(
        url, headers_of(bystander_key), lambda: flood_slow_uploads(url, key, session_id, uploads=40, seconds=3)))
    assert_no_harm(outcome, seen, {"408", "429"})
    assert outcome.codes["body_timeout"] >= 1 and outcome.codes["too_many_uploads"] >= 1


def _answer_before_body_ends(url: str, head: str, send: bytes, wait: float) -> tuple[bytes, float]:
    """Send the headers and part of a body, then read what the server says meanwhile."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        started = time.perf_counter()
        sock.sendall(head.encode() + send)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                head_part, _, body = answer.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head_part.lower().split(b"\r\n")
                               if line.startswith(b"content-length:")), None)
                if length is not None and len(body) >= length:
                    break
        except (TimeoutError, ConnectionResetError):
            pass
        return answer, time.perf_counter() - started


def test_unauthenticated_body_is_refused_before_it_is_read(api, processes):
    url = api()
    # A body of unknown length (chunked) to a JSON route: answered 401 while it is still coming.
    head = ("POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
    answer, seconds = _answer_before_body_ends(url, head, chunk, wait=5)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b'"code":"unauthorized"' in answer and seconds < 2

    # Two 300 MB bodies pushed as fast as they go leave the API's memory where it was.
    api_process = psutil.Process(processes[-1].popen.pid)
    before = api_process.memory_info().rss
    outcome = asyncio.run(flood_big_bodies(url, None, bodies=2, size=300 * 1024 * 1024))
    assert "200" not in outcome.statuses and "500" not in outcome.statuses
    assert api_process.memory_info().rss - before < 50 * 1024 * 1024


def test_json_body_over_the_cap_is_refused_as_it_arrives(api):
    url = api(MAX_JSON_BODY_BYTES="100000")
    _, key = make_user()
    # Declared too large: refused from the headers alone.
    head = (f"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n")
    answer, _ = _answer_before_body_ends(url, head, b"{", wait=5)
    assert answer.startswith(b"HTTP/1.1 413") and b'"code":"body_too_large"' in answer

    # Not declared (chunked): counted as it arrives.
    def chunks():
        yield b'{"title": "'
        for _ in range(50):
            yield b"x" * 10_000
        yield b'"}'

    before = httpx.get(f"{url}/api/v1/sessions", headers=headers_of(key)).json()["total"]
    response = httpx.post(f"{url}/api/v1/sessions", content=chunks(), timeout=10,
                          headers={**headers_of(key), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"
    assert httpx.get(f"{url}/api/v1/sessions", headers=headers_of(key)).json()["total"] == before


def test_a_body_that_stops_arriving_is_cut_off(api):
    url = api(BODY_IDLE_TIMEOUT_SECONDS="1")
    _, key = make_user()
    head = (f"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    answer, seconds = _answer_before_body_ends(url, head, b'{"title": ', wait=10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code":"body_timeout"' in answer and 0.9 < seconds < 5


def test_a_json_route_keeps_its_cap_whatever_the_content_type(api):
    url = api()
    _, key = make_user()
    head = (f"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 50000000\r\n\r\n")
    answer, _ = _answer_before_body_ends(url, head, b"--b", wait=5)
    assert answer.startswith(b"HTTP/1.1 413") and b'"code":"body_too_large"' in answer


def test_a_body_that_trickles_is_cut_off(api):
    url = api(BODY_IDLE_TIMEOUT_SECONDS="1", BODY_MIN_BYTES_PER_SECOND="1000")
    _, key = make_user()
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode())
        sock.settimeout(0.3)
        started, answer = time.monotonic(), b""
        while time.monotonic() - started < 10 and not answer:
            try:
                sock.sendall(b" " * 10)  # never silent for a second, but far below 1000 bytes a second
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
        seconds = time.monotonic() - started
        sock.settimeout(5)
        while answer and not answer.endswith(b"}"):  # the JSON body may come in a second packet
            answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code":"body_timeout"' in answer and seconds < 6
