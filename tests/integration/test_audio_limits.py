"""Issue 16, item 6: implausible formats are refused at upload, decoding believes only what it
decodes, and a worker's memory does not grow with the length of the recording."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from coaching_assistant import diarization
from coaching_assistant.core.errors import PermanentError
from coaching_assistant.services import audio
from coaching_assistant.stt.base import Segment, Word
from tests.conftest import ROOT, base_env
from tests.generated_audio import RATE, bursts, hide_flac_length, long_flac, wav_file
from tests.helpers import CONVERSATION
from tests.integration.test_pipeline import run, uploaded_session
from tests.integration.test_upload import new_session, stored_files

# --- at upload ----------------------------------------------------------------------------------


@pytest.mark.parametrize("refused, accepted, code, named", [
    ({"rate": 1, "seconds": 14000}, {"rate": 8000}, "sample_rate_too_low", "1 Hz"),  # the 28 KB file
    ({"rate": 4000}, {"rate": 8000}, "sample_rate_too_low", "4000 Hz"),
    ({"channels": 255}, {"channels": 2}, "too_many_channels", "255 channels"),  # then failed in the worker
    ({"channels": 16}, {"rate": 48000, "channels": 8}, "too_many_channels", "16 channels"),
])
def test_formats_no_conversation_has_are_refused_and_nothing_is_kept(client, user_headers, settings, empty_queue,
                                                                      tmp_path, refused, accepted, code, named):
    sid = new_session(client, user_headers)
    before = stored_files(settings)
    odd = wav_file(tmp_path / "odd.wav", **{"seconds": 1, **refused})
    with odd.open("rb") as handle:
        response = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("odd.wav", handle)},
                               headers=user_headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code and named in response.json()["message"]
    assert stored_files(settings) == before and empty_queue.llen("celery") == 0
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert session["status"] == "uploading" and session["duration_seconds"] is None
    # the limits themselves are allowed: the same session takes a plausible recording
    plausible = wav_file(tmp_path / "ok.wav", **{"seconds": 3, **accepted})
    response = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("ok.wav", plausible.read_bytes())},
                           headers=user_headers)
    assert response.status_code == 202, response.text
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["duration_seconds"] == 3.0
    assert empty_queue.llen("celery") == 1


# --- in the worker ------------------------------------------------------------------------------

# Runs one transcription the way a worker does, in a fresh process, and reports how far its peak
# resident memory rose above where it stood. Everything a run needs besides the recording (FFmpeg,
# the engine, the database connection) is warmed up first, on the short fixture; then the kernel's
# high-water mark is reset (getrusage's ru_maxrss cannot be: it starts at the spawning pytest's).
WORKER_RUN = """
import json, re, sys
from pathlib import Path
from sqlalchemy import text
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.database import session_scope
from coaching_assistant.services import audio, transcription
from coaching_assistant.stt.fake import FakeProvider

def memory(field):
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024

settings = get_settings()
engine = FakeProvider(settings)
with session_scope() as db:
    db.execute(text("select 1"))
engine.transcribe(audio.decode(Path(sys.argv[4])), language="en-US", on_progress=lambda seconds: None)
Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from the present
before = memory("VmRSS")
outcome = transcription.transcribe_session(settings=settings, session_id=sys.argv[1], audio_uri=sys.argv[2],
                                           language="en-US", task_id=sys.argv[3], publish=lambda meta: None,
                                           provider=engine)
print(json.dumps({"status": outcome.status, "growth_mb": memory("VmHWM") - before}))
"""


def worker_run(sid: str, uri: str, task_id: str) -> dict:
    done = subprocess.run([sys.executable, "-c", WORKER_RUN, sid, uri, task_id, str(CONVERSATION)],
                          env=base_env(), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def stored_segments(db, sid: str) -> list:
    from coaching_assistant.models import TranscriptSegment

    return list(db.scalars(select(TranscriptSegment).where(TranscriptSegment.session_id == uuid.UUID(sid))
                           .order_by(TranscriptSegment.position)))


@pytest.mark.slow
def test_an_hour_behind_a_lying_header_is_decoded_and_transcribed_in_flat_memory(client, user_headers, settings,
                                                                                  db, empty_queue, tmp_path):
    """The issue's FLAC: its header says one second. The upload believes it (it only probes), the
    worker counts what it decodes, and its memory stays where ten minutes leave it, far below the
    hour's float32 samples (230 MB) that the engine used to get whole, with copies."""
    from coaching_assistant.models import CoachingSession

    ten_minutes = long_flac(tmp_path / "ten.flac", 600)
    short_sid, short_uri, short_task = uploaded_session(client, user_headers, name="ten.flac",
                                                        content=ten_minutes.read_bytes())
    liar = hide_flac_length(long_flac(tmp_path / "hour.flac", 3600))
    sid, uri, task_id = uploaded_session(client, user_headers, name="hour.flac", content=liar.read_bytes())
    assert client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()["duration_seconds"] < 2

    short = worker_run(short_sid, short_uri, short_task)
    hour = worker_run(sid, uri, task_id)
    print(f"peak RSS growth: 10 min {short['growth_mb']:.0f} MB, 60 min {hour['growth_mb']:.0f} MB")
    assert short["status"] == hour["status"] == "completed"
    whole_hour_float32 = 3600 * RATE * 4 / 2**20
    assert hour["growth_mb"] < whole_hour_float32 / 2
    assert hour["growth_mb"] < short["growth_mb"] + 40  # six times the audio, not six times the memory

    db.expire_all()
    assert db.get(CoachingSession, uuid.UUID(sid)).duration_seconds == 3600.0  # decoded, not the header's
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert status["duration_total"] == 3600.0 and status["duration_processed"] == 3600.0
    segments = stored_segments(db, sid)
    starts = [s.start_seconds for s in segments]
    assert starts == sorted(starts) and all(s.end_seconds <= 3600.0 for s in segments)
    assert segments[-1].end_seconds == pytest.approx(3600.0, abs=5)
    # The fake engine starts a segment every 5 s of each piece it gets, so a later piece shows as a
    # step under 5 s. Each starts at a cut in a pause (the tone sounds 0-7 s of every 10 s), at most
    # ten minutes after the last, and the engine's piece-relative times were shifted to it.
    cuts = [b for a, b in zip(starts, starts[1:], strict=False) if b - a != pytest.approx(5.0)]
    assert len(cuts) == 6, cuts
    for previous, cut in zip([0.0, *cuts], cuts, strict=False):
        assert 570 <= cut - previous <= 600 and 7.0 < cut % 10 < 10.0
    first_of_second_piece = next(s for s in segments if s.start_seconds == cuts[0])
    assert first_of_second_piece.words[0]["start"] == cuts[0]
    assert first_of_second_piece.words[0]["end"] == pytest.approx(cuts[0] + 0.5, abs=0.002)


def test_the_worker_refuses_audio_past_the_maximum_while_decoding(client, user_headers, settings, db,
                                                                   empty_queue, tmp_path):
    """However short the header says it is, decoding stops once past MAX_AUDIO_SECONDS, and holds
    nothing of what it decoded (memory must not scale with MAX_AUDIO_SECONDS)."""
    liar = hide_flac_length(long_flac(tmp_path / "liar.flac", 700))
    sid, uri, task_id = uploaded_session(client, user_headers, name="liar.flac", content=liar.read_bytes())
    tracemalloc.start()
    try:
        with pytest.raises(PermanentError) as raised:
            run(settings.model_copy(update={"max_audio_seconds": 600}), sid, uri, task_id)
        held = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert raised.value.code == "audio_too_long"
    assert held < 8, f"{held:.0f} MB: the ten minutes decoded before the limit were kept in memory"
    session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
    assert session["status"] == "failed" and session["error_code"] == "audio_too_long"
    assert not stored_segments(db, sid)
    assert sorted(p.name for p in settings.audio_dir.iterdir() if p.is_file()) == []  # no decoded leftovers


# --- diarization reads blocks -------------------------------------------------------------------

def quiet_recording(path: Path, minutes: int) -> np.memmap:
    """Faint tone bursts with the fixture's speech, quietly, across the first ten-minute boundary:
    quiet enough that the diarizer raises it (which used to copy the whole recording)."""
    speech = audio.decode(CONVERSATION) * np.float32(0.1)
    samples = np.memmap(path, dtype=np.float32, mode="w+", shape=(minutes * 60 * RATE,))
    faint = bursts(600, amplitude=0.01)
    for first in range(0, len(samples), len(faint)):
        samples[first:first + len(faint)] = faint[:len(samples) - first]
    samples[580 * RATE:580 * RATE + len(speech)] = speech
    samples.flush()
    return samples


def diarization_peak(samples: np.ndarray) -> tuple[float, list[Segment]]:
    words = [Word("w", t, t + 0.3) for t in np.arange(581.0, 625.0, 2.0)]
    segments = [Segment(start=words[0].start, end=words[-1].end, text="w " * len(words), words=words)]
    diarization.get_encoder(None)  # loaded outside the measurement
    tracemalloc.start()
    try:
        diarized = diarization.diarize(samples, segments, num_speakers=2).segments
        return tracemalloc.get_traced_memory()[1] / 2**20, diarized
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_diarization_memory_does_not_grow_with_the_recording(tmp_path):
    twenty, twenty_diarized = diarization_peak(quiet_recording(tmp_path / "twenty.f32", 20))
    hour, hour_diarized = diarization_peak(quiet_recording(tmp_path / "hour.f32", 60))
    print(f"diarization peak (numpy): 20 min {twenty:.0f} MB, 60 min {hour:.0f} MB")
    assert hour < twenty + 15, "three times the audio took more memory"
    assert hour < 3600 * RATE * 4 / 2**20 * 0.75  # below even one float32 copy of the hour
    # the same speech gives the same speakers, however much silence follows it
    assert [s.speaker_id for s in hour_diarized] == [s.speaker_id for s in twenty_diarized]
    assert {s.speaker_id for s in hour_diarized} == {1, 2}


@pytest.mark.slow
def test_windows_read_in_blocks_are_the_windows_of_the_whole():
    samples = audio.decode(CONVERSATION)
    encoder = diarization.get_encoder(None)
    times, embeddings = diarization.embed_windows(encoder, samples, lambda share: None)
    for block in (10.0, 7.3):  # block edges between windows, and through the middle of one
        blocked_times, blocked = diarization.embed_windows(encoder, samples, lambda share: None,
                                                           block_seconds=block)
        assert np.array_equal(blocked_times, times)
        assert np.allclose(blocked, embeddings, atol=1e-5)
