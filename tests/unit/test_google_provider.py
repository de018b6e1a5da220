"""The google provider against a fake client at the API boundary (we cannot reach Google here)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import numpy as np
import pytest

pytest.importorskip("google.cloud.speech_v2")

from google.api_core import exceptions as gexc  # noqa: E402
from google.cloud.speech_v2.types import cloud_speech  # noqa: E402

from coaching_assistant.core.config import Settings  # noqa: E402
from coaching_assistant.core.errors import PermanentError, TransientError  # noqa: E402
from coaching_assistant.stt.google import GoogleProvider  # noqa: E402


class FakeSpeechClient:
    def __init__(self, error: Exception | None = None):
        self.requests: list[cloud_speech.RecognizeRequest] = []
        self.error = error

    def recognize(self, request):
        self.requests.append(request)
        if self.error:
            raise self.error
        word = cloud_speech.WordInfo(word="hello", start_offset=timedelta(seconds=1),
                                     end_offset=timedelta(seconds=1.5), confidence=0.9)
        word2 = cloud_speech.WordInfo(word="coach", start_offset=timedelta(seconds=1.5),
                                      end_offset=timedelta(seconds=2), confidence=0.8)
        alternative = cloud_speech.SpeechRecognitionAlternative(transcript=" hello coach ", confidence=0.85,
                                                                words=[word, word2])
        return cloud_speech.RecognizeResponse(results=[cloud_speech.SpeechRecognitionResult(
            alternatives=[alternative], result_end_offset=timedelta(seconds=2.2))])


def settings(**kwargs) -> Settings:
    credentials = base64.b64encode(json.dumps({"project_id": "from-json"}).encode()).decode()
    return Settings(stt_provider="google", google_application_credentials_json=credentials, **kwargs)


def test_chunks_requests_and_offsets_results():
    client = FakeSpeechClient()
    provider = GoogleProvider(settings(google_project_id="my-project"), client=client)
    audio = np.zeros(16000 * 70, dtype=np.float32)  # 70 s -> two requests (55 s + 15 s)
    progress: list[float] = []
    segments = provider.transcribe(audio, language="en-US", on_progress=progress.append)
    assert len(client.requests) == 2
    request = client.requests[0]
    assert request.recognizer == "projects/my-project/locations/global/recognizers/_"
    assert list(request.config.language_codes) == ["en-US"]
    assert request.config.features.enable_word_time_offsets
    assert request.config.explicit_decoding_config.sample_rate_hertz == 16000
    assert len(request.content) == 55 * 16000 * 2  # LINEAR16
    assert [s.text for s in segments] == ["hello coach", "hello coach"]
    assert segments[1].start == pytest.approx(56.0) and segments[1].end == pytest.approx(57.2)
    assert segments[1].words[1].word == " coach" and segments[1].words[1].start == pytest.approx(56.5)
    assert progress == [55.0, 70.0]


def test_project_comes_from_the_credentials_when_unset():
    provider = GoogleProvider(settings(), client=FakeSpeechClient())
    assert provider.project == "from-json"


@pytest.mark.parametrize("error, kind, code", [
    (gexc.ServiceUnavailable("down"), TransientError, "stt_unavailable"),
    (gexc.InvalidArgument("bad audio"), PermanentError, "stt_rejected"),
    (gexc.PermissionDenied("no"), PermanentError, "stt_rejected"),
])
def test_errors_are_typed(error, kind, code):
    provider = GoogleProvider(settings(google_project_id="p"), client=FakeSpeechClient(error))
    with pytest.raises(kind) as raised:
        provider.transcribe(np.zeros(16000, dtype=np.float32), language="en-US", on_progress=lambda s: None)
    assert raised.value.code == code


def test_credentials_must_be_base64_json():
    with pytest.raises(PermanentError) as raised:
        GoogleProvider(Settings(stt_provider="google", google_application_credentials_json="{not base64}",
                                google_project_id="p"), client=FakeSpeechClient())
    assert raised.value.code == "google_credentials_invalid"
