"""The OpenAI-compatible API with OpenAI's own Python client pointed at a real API process, while a
real worker process transcribes the fixture with the real engine (speakers and roles on)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest
import srt

from tests.conftest import make_user
from tests.e2e.conftest import start_api, start_worker
from tests.helpers import CONVERSATION, reference_text, wav_bytes, word_error_rate

pytestmark = pytest.mark.e2e

DURATION = 46.44  # seconds of the fixture


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[tuple[str, str]]:
    import redis

    from tests.conftest import REDIS_URL

    redis.Redis.from_url(REDIS_URL).delete("celery")
    tmp = tmp_path_factory.mktemp("openai")
    worker = start_worker(tmp, STT_PROVIDER="whisper", DIARIZATION_ENABLED="true")
    api, url = start_api(tmp, STT_PROVIDER="whisper")
    (tmp / "impatient").mkdir()
    impatient, impatient_url = start_api(tmp / "impatient", OPENAI_REQUEST_TIMEOUT_SECONDS="0.5")
    yield url, impatient_url
    impatient.stop()
    api.stop()
    worker.stop()


@pytest.fixture
def key(stack) -> str:
    return make_user()[1]


@pytest.fixture
def client(stack, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack[0]}/v1", api_key=key, timeout=120)


def sessions_of(url: str, key: str) -> list[dict]:
    listed = httpx.get(f"{url}/api/v1/sessions", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


def transcribe(client: openai.OpenAI, **options):
    with CONVERSATION.open("rb") as audio:
        return client.audio.transcriptions.create(model="whisper-1", file=audio, **options)


def test_text_is_the_transcript_and_the_request_is_a_session_in_the_list(client, stack, key):
    text = transcribe(client, response_format="text")
    assert isinstance(text, str)
    assert word_error_rate(reference_text(), text) <= 0.10, text
    [session] = sessions_of(stack[0], key)
    assert session["title"] == CONVERSATION.name and session["status"] == "completed"
    assert session["language"] == "auto" and session["detected_language"] == "en"


def test_json_with_language_prompt_and_temperature(client, stack, key):
    result = transcribe(client, language="en", prompt="Coach and client talk about goals.", temperature=0.2)
    assert word_error_rate(reference_text(), result.text) <= 0.10, result.text
    [session] = sessions_of(stack[0], key)
    assert (session["language"], session["prompt"], session["temperature"]) == (
        "en", "Coach and client talk about goals.", 0.2)


def test_verbose_json_with_words_and_segments(client):
    result = transcribe(client, response_format="verbose_json", timestamp_granularities=["word", "segment"])
    assert result.language == "en" and result.duration == pytest.approx(DURATION, abs=0.05)
    assert word_error_rate(reference_text(), result.text) <= 0.10
    assert " ".join(s.text for s in result.segments) == result.text
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and all(s.start < s.end <= DURATION + 0.05 for s in result.segments)
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    # our additions: each segment's speaker and role
    assert {s.model_extra["role"] for s in result.segments} == {"coach", "client"}
    assert {s.model_extra["speaker"] for s in result.segments} == {"Coach", "Client"}
    words = result.words
    assert len(words) >= 100
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert all(0 <= w.start <= w.end <= DURATION + 0.05 for w in words)
    assert word_error_rate(reference_text(), " ".join(w.word for w in words)) <= 0.10


def test_verbose_json_with_words_only_has_no_segments(client):
    result = transcribe(client, response_format="verbose_json", timestamp_granularities=["word"])
    assert result.words and result.segments is None


def test_srt_and_vtt_are_speaker_labelled_subtitles(client):
    subtitles = transcribe(client, response_format="srt")
    cues = list(srt.parse(subtitles))
    assert len(cues) >= 5 and cues[0].index == 1
    assert all(cue.content.startswith(("Coach: ", "Client: ")) for cue in cues)
    assert cues[-1].end.total_seconds() <= DURATION + 0.05
    vtt = transcribe(client, response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:")
    assert "<v Coach>" in vtt and "<v Client>" in vtt


def test_diarized_json_names_each_segments_speaker(client):
    result = transcribe(client, response_format="diarized_json")
    assert result.task == "transcribe" and result.duration == pytest.approx(DURATION, abs=0.05)
    assert {s.speaker for s in result.segments} == {"Coach", "Client"}
    assert result.segments[0].text.startswith("Hi")


def test_a_recording_without_speech_is_an_empty_transcript(client):
    silence = ("silence.wav", wav_bytes(3.0, silent=True))
    assert client.audio.transcriptions.create(model="whisper-1", file=silence, language="en").text == ""
    verbose = client.audio.transcriptions.create(model="whisper-1", file=silence, language="en",
                                                 response_format="verbose_json",
                                                 timestamp_granularities=["word", "segment"])
    assert (verbose.text, verbose.segments, verbose.words) == ("", [], [])
    assert verbose.duration == pytest.approx(3.0)
    assert client.audio.transcriptions.create(model="whisper-1", file=silence, language="en",
                                              response_format="srt") == "\n"


@pytest.mark.parametrize(("name", "content", "code"), [
    ("notes.txt", b"not audio at all", "unsupported_format"),
    ("broken.wav", b"RIFF\x00\x00\x00\x00WAVEjunk" * 50, "undecodable_audio"),
    ("empty.wav", b"", "empty_file"),
])
def test_a_bad_file_is_refused_and_nothing_is_kept(client, stack, key, name, content, code):
    with pytest.raises(openai.BadRequestError) as raised:
        client.audio.transcriptions.create(model="whisper-1", file=(name, content))
    assert raised.value.status_code == 400
    assert raised.value.body["code"] == code and raised.value.body["type"] == "invalid_request_error"
    assert raised.value.body["message"]
    assert sessions_of(stack[0], key) == []


def test_a_wrong_key_is_refused_in_openais_shape(stack):
    client = openai.OpenAI(base_url=f"{stack[0]}/v1", api_key="sk-not-ours", timeout=30)
    with pytest.raises(openai.AuthenticationError) as raised:
        transcribe(client)
    assert raised.value.status_code == 401
    assert raised.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_an_unknown_model_is_refused_naming_the_parameter(client, stack, key):
    with pytest.raises(openai.BadRequestError) as raised:
        client.audio.transcriptions.create(model="gpt-9-transcribe", file=("a.wav", wav_bytes()))
    assert raised.value.body["code"] == "unknown_model" and raised.value.body["param"] == "model"
    assert "tiny.en" in raised.value.body["message"]  # it lists what the server offers
    assert sessions_of(stack[0], key) == []


def test_models_are_listed_and_retrieved(client):
    ids = [model.id for model in client.models.list()]
    assert ids[0] == "whisper-1" and {"tiny.en", "base", "auto"} <= set(ids)
    assert client.models.retrieve("whisper-1").owned_by == "coaching-transcript"
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-9-transcribe")
    assert raised.value.body["code"] == "unknown_model"


@pytest.mark.parametrize(("fields", "param"), [
    ({"model": "whisper-1", "response_format": "yaml"}, "response_format"),
    ({"model": "whisper-1", "temperature": "hot"}, "temperature"),
    ({"model": "whisper-1", "temperature": "1.5"}, "temperature"),
    ({"model": "whisper-1", "timestamp_granularities[]": "word"}, "timestamp_granularities"),
    ({"model": "whisper-1", "response_format": "verbose_json", "timestamp_granularities[]": "letters"},
     "timestamp_granularities"),
    ({"model": "whisper-1", "stream": "true"}, "stream"),
    ({"model": "whisper-1", "language": "klingon"}, "language"),
    ({"model": "whisper-1", "prompt": "x" * 1001}, "prompt"),
    ({}, "model"),
])
def test_a_bad_field_is_refused_before_anything_is_stored(stack, key, fields, param):
    answer = httpx.post(f"{stack[0]}/v1/audio/transcriptions", headers={"Authorization": f"Bearer {key}"},
                        data=fields, files={"file": ("a.wav", wav_bytes())}, timeout=30)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error" and error["message"]
    assert sessions_of(stack[0], key) == []


def test_past_the_timeout_504_names_the_session_and_the_client_does_not_retry(stack, key):
    url, impatient_url = stack
    client = openai.OpenAI(base_url=f"{impatient_url}/v1", api_key=key, timeout=60)  # max_retries: 2
    with pytest.raises(openai.InternalServerError) as raised:
        transcribe(client, response_format="text")
    assert raised.value.status_code == 504
    error = raised.value.body
    assert error["code"] == "transcription_timeout" and error["type"] == "server_error"
    [session] = sessions_of(url, key)  # one request, not three: the answer said x-should-retry: false
    assert error["session_id"] == session["id"] == raised.value.response.headers["x-session-id"]
    assert raised.value.response.headers["x-should-retry"] == "false"
    # the work went on: the transcript arrives later
    status = {"status": "pending", "progress": 0}
    deadline = time.monotonic() + 120
    while status["status"] in ("pending", "processing") and time.monotonic() < deadline:
        status = httpx.get(f"{url}/api/v1/sessions/{session['id']}/status", timeout=90,
                           params={"wait": 30, "after": status["progress"]},
                           headers={"Authorization": f"Bearer {key}"}).json()
    assert status["status"] == "completed", status
    transcript = httpx.get(f"{url}/api/v1/sessions/{session['id']}/transcript", params={"format": "txt"},
                           headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert transcript.status_code == 200 and "Tuesday" in transcript.text


def test_each_api_keeps_its_own_error_shape(stack):
    answer = httpx.get(f"{stack[0]}/api/v1/sessions", timeout=30)
    assert answer.status_code == 401 and set(answer.json()) == {"code", "message"}
    answer = httpx.get(f"{stack[0]}/v1/models", timeout=30)
    assert answer.status_code == 401 and set(answer.json()) == {"error"}


def test_a_session_cancelled_while_the_request_waits_ends_it_with_409(client, stack, key):
    import threading

    outcome: dict = {}

    def request() -> None:
        try:
            transcribe(client)
        except openai.APIStatusError as exc:
            outcome["error"] = exc

    waiting = threading.Thread(target=request)
    waiting.start()
    deadline = time.monotonic() + 30
    while not (listed := sessions_of(stack[0], key)) and time.monotonic() < deadline:
        time.sleep(0.1)
    cancelled = httpx.post(f"{stack[0]}/api/v1/sessions/{listed[0]['id']}/cancel",
                           headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert cancelled.status_code == 200, cancelled.text
    waiting.join(timeout=60)
    error = outcome["error"]
    assert isinstance(error, openai.ConflictError) and error.body["code"] == "session_cancelled"
    assert error.body["session_id"] == listed[0]["id"]
    assert len(sessions_of(stack[0], key)) == 1  # 409 is one the client retries, unless told not to
