"""Google Cloud Speech-to-Text v2 provider (optional extra: `pip install coaching-assistant[google]`).

Audio is sent as 16 kHz LINEAR16 in chunks under the 60 s limit of synchronous recognition, so no
bucket is needed and progress advances chunk by chunk.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

import numpy as np

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import ErrorCode, PermanentError, TransientError
from coaching_assistant.services.audio import SAMPLE_RATE
from coaching_assistant.stt.base import NO_HINTS, Hints, ProgressCallback, Segment, Word

logger = logging.getLogger(__name__)

CHUNK_SECONDS = 55.0


def decode_credentials(encoded: str) -> dict[str, Any]:
    """GOOGLE_APPLICATION_CREDENTIALS_JSON holds the service-account JSON, base64-encoded."""
    try:
        return json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise PermanentError("GOOGLE_APPLICATION_CREDENTIALS_JSON is not base64-encoded JSON",
                             code=ErrorCode.GOOGLE_CREDENTIALS_INVALID) from exc


def _seconds(offset: Any) -> float:
    # proto-plus turns google.protobuf.Duration into datetime.timedelta
    return float(offset.total_seconds()) if offset is not None else 0.0


class GoogleProvider:
    name = "google"

    def __init__(self, settings: Settings, client: Any = None):
        try:
            from google.cloud.speech_v2.types import cloud_speech
        except ImportError as exc:  # the extra is not installed
            raise PermanentError("STT_PROVIDER=google needs `pip install coaching-assistant[google]`",
                                 code=ErrorCode.GOOGLE_NOT_INSTALLED) from exc
        self.types = cloud_speech
        self.settings = settings
        info = (decode_credentials(settings.google_application_credentials_json)
                if settings.google_application_credentials_json else None)
        self.project = settings.google_project_id or (info or {}).get("project_id")
        if not self.project:
            raise PermanentError("Set GOOGLE_PROJECT_ID to use the google provider",
                                 code=ErrorCode.GOOGLE_PROJECT_MISSING)
        if client is None:
            from google.cloud.speech_v2 import SpeechClient
            from google.oauth2 import service_account

            credentials = (service_account.Credentials.from_service_account_info(info)
                           if info else None)
            client = SpeechClient(credentials=credentials)
            logger.info("Google STT client initialized")
        self.client = client

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        """Offline, with Whisper base: the session's language must be known before Google is asked."""
        from coaching_assistant.stt.whisper import detect_language

        return detect_language(self.settings, audio)

    def translate(self, audio: np.ndarray, *, language: str) -> str:
        """Offline, with Whisper base's translate task."""
        from coaching_assistant.stt.whisper import translate_to_english

        return translate_to_english(self.settings, audio, language=language)

    def transcribe(self, audio: np.ndarray, *, language: str, on_progress: ProgressCallback,
                   hints: Hints = NO_HINTS) -> list[Segment]:
        # Google's recognizer has no prompt or temperature: the hints are Whisper's.
        t = self.types
        config = t.RecognitionConfig(
            explicit_decoding_config=t.ExplicitDecodingConfig(
                encoding=t.ExplicitDecodingConfig.AudioEncoding.LINEAR16,
                sample_rate_hertz=SAMPLE_RATE, audio_channel_count=1),
            language_codes=[language], model=self.settings.google_stt_model,
            features=t.RecognitionFeatures(enable_word_time_offsets=True, enable_word_confidence=True,
                                           enable_automatic_punctuation=True),
        )
        recognizer = (f"projects/{self.project}/locations/{self.settings.google_stt_location}"
                      "/recognizers/_")
        total = len(audio) / SAMPLE_RATE
        chunk = int(CHUNK_SECONDS * SAMPLE_RATE)
        segments: list[Segment] = []
        for first in range(0, len(audio), chunk):
            offset = first / SAMPLE_RATE
            pcm = (np.clip(audio[first:first + chunk], -1, 1) * 32767).astype("<i2").tobytes()
            request = t.RecognizeRequest(recognizer=recognizer, config=config, content=pcm)
            response = self._recognize(request)
            previous_end = offset
            for result in response.results:
                if not result.alternatives:
                    continue
                best = result.alternatives[0]
                text = best.transcript.strip()
                end = offset + _seconds(result.result_end_offset)
                if not text:
                    previous_end = end
                    continue
                words = [Word(" " + w.word.strip(), round(offset + _seconds(w.start_offset), 3),
                              round(offset + _seconds(w.end_offset), 3), round(w.confidence, 4))
                         for w in best.words]
                start = words[0].start if words else previous_end
                segments.append(Segment(start=round(start, 3), end=round(end, 3), text=text,
                                        confidence=round(best.confidence, 4), words=words))
                previous_end = end
            on_progress(min(total, (first + chunk) / SAMPLE_RATE))
        return segments

    def _recognize(self, request: Any) -> Any:
        from google.api_core import exceptions as gexc

        try:
            return self.client.recognize(request=request)
        except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError,
                gexc.TooManyRequests) as exc:
            raise TransientError(f"Google STT unavailable: {exc}", code=ErrorCode.STT_UNAVAILABLE) from exc
        except (gexc.InvalidArgument, gexc.PermissionDenied, gexc.Unauthenticated,
                gexc.NotFound) as exc:
            # Retrying a rejected request or bad credentials only burns quota.
            raise PermanentError(f"Google STT rejected the request: {exc}", code=ErrorCode.STT_REJECTED) from exc
