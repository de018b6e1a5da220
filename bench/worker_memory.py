#!/usr/bin/env python3
"""How much memory does a worker need for a long recording?

Makes recordings of the given lengths from the two fixture conversations (repeated, with a second
of silence between them; FLAC), then transcribes each in a fresh process with the pipeline a worker
runs (`transcription.transcribe_session`: decode → speech-to-text → speakers → save, against a
temporary SQLite database) and prints the process's resident memory after warming up (the short
fixture transcribed and its speakers separated, so every model and library is loaded), its peak
during the run, and the growth.

    .venv/bin/python bench/worker_memory.py [--minutes 10 60] [--engine fake whisper] [--no-diarization]

The peak is the kernel's high-water mark (VmHWM), reset after the warm-up. To measure another
checkout of the code, put its `src` first: `PYTHONPATH=/path/to/checkout/src .venv/bin/python …`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = [ROOT / "tests" / "fixtures" / name for name in ("coaching_conversation.mp3", "coaching_two_men.mp3")]

RUN = """
import json, re, sys, time
from pathlib import Path
from coaching_assistant.core.config import get_settings
from coaching_assistant.diarization import diarize
from coaching_assistant.services import audio, transcription
from coaching_assistant.stt import get_provider

def memory(field):
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024

settings = get_settings()
engine = get_provider(settings)
samples = audio.decode(Path(sys.argv[4]))
segments = engine.transcribe(samples, language="en-US", on_progress=lambda seconds: None)
if settings.diarization_enabled:  # loads the VAD, the speaker encoder and scikit-learn
    diarize(samples, segments, num_speakers=2, weights_path=settings.diarization_weights_path)
del samples, segments
Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from here
before = memory("VmRSS")
started = time.monotonic()
outcome = transcription.transcribe_session(settings=settings, session_id=sys.argv[1], audio_uri=sys.argv[2],
                                           language="en-US", task_id=sys.argv[3], publish=lambda meta: None)
print(json.dumps({"status": outcome.status, "segments": outcome.segments_count, "before": before,
                  "peak": memory("VmHWM"), "seconds": time.monotonic() - started}))
"""


def make_recording(path: Path, minutes: float) -> Path:
    """The fixtures in turn, a second of silence after each, to `minutes`, as 16 kHz mono FLAC."""
    import av
    import numpy as np

    from coaching_assistant.services import audio

    rate = 16000
    clips = [np.concatenate([audio.decode(f), np.zeros(rate, np.float32)]) for f in FIXTURES]
    total, written, turn = int(minutes * 60 * rate), 0, 0
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate)
        stream.layout = "mono"
        while written < total:
            clip = clips[turn % 2][:total - written]
            frame = av.AudioFrame.from_ndarray((clip * 32767).astype(np.int16)[None, :], format="s16",
                                               layout="mono")
            frame.sample_rate, frame.pts = rate, written
            for packet in stream.encode(frame):
                container.mux(packet)
            written += len(clip)
            turn += 1
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def queued_session(recording: Path) -> tuple[str, str, str]:
    """A pending session whose stored audio is `recording`: (session id, audio path, task id)."""
    from coaching_assistant.core.config import get_settings
    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession, SessionStatus
    from coaching_assistant.services.users import create_user

    settings = get_settings()
    with new_session() as db:
        user, _ = create_user(db, email=f"bench-{uuid.uuid4().hex[:8]}@example.com")
        session = CoachingSession(user_id=user.id, title="bench", language="en-US", num_speakers=2,
                                  status=SessionStatus.PENDING, speaker_roles={},
                                  transcription_job_id=str(uuid.uuid4()))
        db.add(session)
        db.commit()
        target = settings.audio_dir / str(session.id) / recording.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(recording.read_bytes())
        session.audio_uri = str(target)
        db.commit()
        return str(session.id), str(target), str(session.transcription_job_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--engine", nargs="+", default=["fake", "whisper"], choices=["fake", "whisper"])
    parser.add_argument("--no-diarization", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="worker-memory-"))
    os.environ.update({"ENVIRONMENT": "development", "DATA_DIR": str(work / "data"),
                       "DATABASE_URL": f"sqlite:///{work / 'bench.db'}", "PROGRESS_MIN_INTERVAL_SECONDS": "1",
                       "DIARIZATION_ENABLED": "false" if args.no_diarization else "true",
                       "TASK_SOFT_TIME_LIMIT_SECONDS": "36000", "TASK_HARD_TIME_LIMIT_SECONDS": "36100"})
    for name in ("STORAGE_DIR", "REDIS_URL", "WHISPER_MODEL_PATH"):
        os.environ.pop(name, None)
    from coaching_assistant.core.database import migrate
    from coaching_assistant.services import audio

    migrate()
    print(f"code: {Path(audio.__file__).resolve().parent.parent}  diarization: {not args.no_diarization}")
    print("| engine | audio | RSS after warm-up | peak RSS | growth | float32 audio | run time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for minutes in args.minutes:
        recording = make_recording(work / f"{minutes:g}min.flac", minutes)
        for engine in args.engine:
            sid, uri, task_id = queued_session(recording)
            done = subprocess.run([sys.executable, "-c", RUN, sid, uri, task_id, str(FIXTURES[0])],
                                  env={**os.environ, "STT_PROVIDER": engine}, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {engine} | {minutes:g} min | failed: {done.stderr.strip().splitlines()[-1]} |")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {engine} | {minutes:g} min | {result['before']:.0f} MB | {result['peak']:.0f} MB "
                  f"| {result['peak'] - result['before']:.0f} MB | {minutes * 60 * 16000 * 4 / 2**20:.0f} MB "
                  f"| {result['seconds']:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
