"""Other languages end to end, with the real engine: API process → Redis → worker → database.

Speech: tests/fixtures/speech (short clips with reference texts, from the pytest-audioeval
package) and the project's English fixture. The worker runs `auto`, so English goes to tiny.en and everything
else, and the detection, to base.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import opencc
import pytest

from tests.conftest import make_user
from tests.e2e.conftest import start_api, start_worker
from tests.helpers import CONVERSATION, character_error_rate, reference_text, speech_samples, word_error_rate

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    import redis

    from tests.conftest import REDIS_URL

    redis.Redis.from_url(REDIS_URL).delete("celery")
    tmp = tmp_path_factory.mktemp("languages")
    worker = start_worker(tmp, STT_PROVIDER="whisper", DIARIZATION_ENABLED="true", WHISPER_MODEL="auto")
    api, url = start_api(tmp)
    _, key = make_user()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        yield worker, client
    api.stop()
    worker.stop()


def transcribe(client: httpx.Client, audio: Path, **session: object) -> tuple[dict, dict]:
    """Upload `audio` into a new session; its final status and its JSON transcript."""
    created = client.post("/api/v1/sessions", json={"title": audio.name, **session})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    with audio.open("rb") as handle:
        assert client.post(f"/api/v1/sessions/{sid}/audio", files={"file": (audio.name, handle)}).status_code == 202
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/sessions/{sid}/status", params={"wait": 20}).json()
        if status["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.2)
    assert status["status"] == "completed", status
    return status, client.get(f"/api/v1/sessions/{sid}/transcript").json()


def test_a_taiwan_session_comes_out_in_traditional_characters_without_spaces(stack):
    _, client = stack
    sample = next(s for s in speech_samples("zh") if s.stem == "pangrama")
    _, transcript = transcribe(client, sample, language="zh-TW", num_speakers=1)
    text = "".join(s["content"] for s in transcript["segments"])
    assert text == opencc.OpenCC("s2twp").convert(text), text  # no Simplified-only character left
    assert opencc.OpenCC("t2s").convert(text) != text, text  # and Traditional-only ones (measured: 陳)
    assert " " not in text
    # measured 0.31 (天地玄皇宇宙洪荒日月影子陳宿列掌 for 天地玄黄宇宙洪荒日月盈昃辰宿列张)
    assert character_error_rate(sample.with_suffix(".txt").read_text(), text) <= 0.40, text
    assert transcript["language"] == "zh-TW" and transcript["detected_language"] is None


def test_auto_detects_english_on_the_fixture_and_keeps_its_word_error_rate(stack):
    _, client = stack
    status, transcript = transcribe(client, CONVERSATION, language="auto")
    assert status["detected_language"] == "en" and status["language_probability"] >= 0.7, status  # measured 0.83
    assert transcript["detected_language"] == "en"
    hypothesis = " ".join(s["content"] for s in transcript["segments"])
    assert word_error_rate(reference_text(), hypothesis) <= 0.10, hypothesis
    assert transcript["speaker_roles"]["1"]["label"] == "Coach"


def test_french_speech_is_detected_and_transcribed(stack):
    worker, client = stack
    sample = next(s for s in speech_samples("fr") if s.stem == "pangrama")
    status, transcript = transcribe(client, sample, language="auto", num_speakers=1)
    assert status["detected_language"] == "fr", status
    hypothesis = " ".join(s["content"] for s in transcript["segments"])
    # measured: "Portez ce vieux whisky aux juges blancs qui fume." for "… au juge blond qui fume." (3 of 9)
    assert word_error_rate(sample.with_suffix(".txt").read_text(), hypothesis) <= 0.4, hypothesis
    assert "detected language fr" in worker.output()


def test_a_french_session_with_translate_gets_english_beside_the_french(stack):
    _, client = stack
    sample = next(s for s in speech_samples("fr") if s.stem == "pangrama")
    _, transcript = transcribe(client, sample, language="fr", num_speakers=1, translate=True)
    segment = transcript["segments"][0]
    assert "whisky" in segment["content"].lower()
    english = " ".join(s["translation"] or "" for s in transcript["segments"]).lower()
    # measured: "bring this old whiskey to the white judge."
    assert "judge" in english and "whisk" in english and "juge" not in english, english


def test_the_languages_benchmark_prints_its_table():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "bench/languages.py", "--models", "base", "--languages", "fr"], cwd=root,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| model | language | audio s | RTF | WER/CER |")
    assert lines[2].startswith("| base | fr | ") and "| fr |" in lines[2]
