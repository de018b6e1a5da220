"""The offline provider: faster-whisper (CTranslate2) with the model a session resolves to
(`services.whisper_models`: tiny.en, base, or an operator's directory).

Models are loaded lazily, once per worker process, and kept in a small least-recently-used cache
(WHISPER_MAX_LOADED_MODELS, 2 by default: tiny.en and base), so memory holds at most the models
in use. A model evicted while a thread still transcribes with it stays alive until that thread is
done (the thread holds a reference); the next use loads it again. So the worst case in memory is
WHISPER_MAX_LOADED_MODELS plus one model per thread of the worker (CELERY_CONCURRENCY) still
using an evicted one: with the defaults (2 and 2), tiny.en and base twice at most, briefly.

A model loads (seconds) under a lock of its own: threads that want a model already loaded, or
another model, do not wait for it; two threads wanting the same model load it once.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import ErrorCode, PermanentError
from coaching_assistant.services import whisper_models as models
from coaching_assistant.services.audio import SAMPLE_RATE
from coaching_assistant.stt.base import NO_HINTS, Hints, ProgressCallback, Segment, Word, base_language
from coaching_assistant.stt.model_paths import model_directory

logger = logging.getLogger(__name__)

_ModelKey = tuple[str, str, str, int, int]
_models: OrderedDict[_ModelKey, Any] = OrderedDict()
_models_lock = threading.Lock()  # guards _models and _load_locks, never held while loading
_load_locks: dict[_ModelKey, threading.Lock] = {}


def loaded_models() -> list[str]:
    """The directories of the models this process holds, least recently used first."""
    with _models_lock:
        return [key[0] for key in _models]


def load_model(settings: Settings, name: str = models.TINY_EN) -> Any:
    """The model `name`, loaded once per process (threads of a worker share it; CTranslate2 is
    thread-safe), evicting the least recently used beyond WHISPER_MAX_LOADED_MODELS."""
    from faster_whisper import WhisperModel

    key = (model_directory(settings, name), settings.whisper_device, settings.whisper_compute_type,
           settings.whisper_cpu_threads, settings.whisper_num_workers)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
        load_lock = _load_locks.setdefault(key, threading.Lock())
    with load_lock:
        with _models_lock:
            if key in _models:  # another thread loaded it while this one waited
                _models.move_to_end(key)
                return _models[key]
        logger.info("Loading Whisper model %s from %s (%s, %s)", name, key[0], key[1], key[2])
        # num_workers lets the threads of one worker transcribe in parallel instead of queuing
        # on a single model replica.
        # local_files_only: a path that is not a model directory must never turn into a download.
        model = WhisperModel(key[0], device=key[1], compute_type=key[2], cpu_threads=key[3], num_workers=key[4],
                             local_files_only=True)
        with _models_lock:
            _models[key] = model
            while len(_models) > settings.whisper_max_loaded_models:
                evicted, _ = _models.popitem(last=False)
                logger.info("Unloaded Whisper model %s (WHISPER_MAX_LOADED_MODELS=%d)", evicted[0],
                            settings.whisper_max_loaded_models)
        return model


def detect_language(settings: Settings, audio: np.ndarray) -> tuple[str, float]:
    """Whisper's guess at the language of the first speech in `audio`, with base (the detector):
    tiny.en knows only English. Up to three 30 s windows of speech are heard, until one is sure
    (over CONFIDENT_DETECTION), else the language most windows heard. Where the VAD finds no
    speech, the whole audio is used."""
    model = load_model(settings, models.DETECTOR)
    options = {"language_detection_segments": 3, "language_detection_threshold": models.CONFIDENT_DETECTION}
    try:
        language, probability, _ = model.detect_language(audio, vad_filter=settings.whisper_vad_filter, **options)
    except (ValueError, IndexError):  # nothing left after the VAD
        language, probability, _ = model.detect_language(audio, vad_filter=False, **options)
    return str(language), round(float(probability), 4)


def translate_to_english(settings: Settings, audio: np.ndarray, *, language: str) -> str:
    """Whisper's translate task, with base (tiny.en cannot translate), on one segment's audio:
    the English of what is said in it. Each piece stands alone (no previous text as a prompt), so
    a mistranslation cannot carry over into the next segment."""
    model = load_model(settings, models.BASE)
    pieces, _info = model.transcribe(audio, task="translate", language=base_language(language),
                                     beam_size=settings.whisper_beam_size, vad_filter=False,
                                     without_timestamps=True, condition_on_previous_text=False)
    return " ".join(piece.text.strip() for piece in pieces if piece.text.strip())


class WhisperProvider:
    name = "whisper"

    def __init__(self, settings: Settings, model: str = models.TINY_EN):
        self.settings = settings
        self.model_name = model
        load_model(settings, model)  # now, so a worker start or the first use finds a broken model

    @property
    def model(self) -> Any:
        """Looked up per use, not held: the provider must not keep an evicted model alive."""
        return load_model(self.settings, self.model_name)

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        return detect_language(self.settings, audio)

    def translate(self, audio: np.ndarray, *, language: str) -> str:
        return translate_to_english(self.settings, audio, language=language)

    def transcribe(self, audio: np.ndarray, *, language: str, on_progress: ProgressCallback,
                   hints: Hints = NO_HINTS) -> list[Segment]:
        lang = base_language(language)
        model = self.model
        if not model.model.is_multilingual and lang != "en":
            raise PermanentError(
                f"The Whisper model {self.model_name} is English-only and cannot transcribe '{language}'; "
                "use the model auto or base.",
                code=ErrorCode.UNSUPPORTED_LANGUAGE,
            )
        pieces, _info = model.transcribe(
            audio, language=lang, beam_size=self.settings.whisper_beam_size,
            vad_filter=self.settings.whisper_vad_filter, word_timestamps=True,
            initial_prompt=hints.prompt or None, temperature=temperatures(hints.temperature),
        )
        segments: list[Segment] = []
        total = len(audio) / SAMPLE_RATE
        for piece in pieces:  # a generator: decoding happens as we iterate
            words = [Word(w.word, round(w.start, 3), round(w.end, 3), round(w.probability, 4))
                     for w in (piece.words or [])]
            text = piece.text.strip()
            if text:
                segments.append(Segment(start=round(piece.start, 3), end=round(piece.end, 3), text=text,
                                        confidence=_confidence(piece.avg_logprob, words), words=words))
            on_progress(min(piece.end, total))
        on_progress(total)
        return segments


DEFAULT_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # faster-whisper's (and OpenAI's) fallback ladder


def temperatures(start: float | None) -> tuple[float, ...]:
    """The temperatures Whisper may decode at, as OpenAI's `temperature` means it: 0 (or none) is
    greedy decoding raised step by step where the text fails its checks; a higher value starts
    sampling there and climbs the same ladder: 0.5 → (0.5, 0.7, 0.9)."""
    if not start:
        return DEFAULT_TEMPERATURES
    steps = int((1.0 - start) / 0.2 + 1e-9)  # never past 1.0
    return tuple(round(start + 0.2 * i, 2) for i in range(steps + 1))


def _confidence(avg_logprob: float, words: list[Word]) -> float:
    probabilities = [w.probability for w in words if w.probability is not None]
    if probabilities:
        return round(float(np.mean(probabilities)), 4)
    return round(math.exp(avg_logprob), 4)
