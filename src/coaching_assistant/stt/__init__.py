"""Speech-to-text providers behind one small interface."""

from __future__ import annotations

from coaching_assistant.core.config import Settings
from coaching_assistant.stt.base import Segment, SpeechToTextProvider, Word

__all__ = ["Segment", "SpeechToTextProvider", "Word", "get_provider"]

_providers: dict[tuple[str, str | None], SpeechToTextProvider] = {}


def get_provider(settings: Settings, model: str | None = None) -> SpeechToTextProvider:
    """One provider per process, name and model (each Whisper model is loaded once, not per task).
    `model` is a resolved Whisper model name (`services.whisper_models.resolve`); other providers ignore it."""
    from coaching_assistant.services import whisper_models as models

    key = (settings.stt_provider, (model or models.TINY_EN) if settings.stt_provider == "whisper" else None)
    if key not in _providers:
        if settings.stt_provider == "whisper":
            from coaching_assistant.stt.whisper import WhisperProvider

            _providers[key] = WhisperProvider(settings, model or models.TINY_EN)
        elif settings.stt_provider == "google":
            from coaching_assistant.stt.google import GoogleProvider

            _providers[key] = GoogleProvider(settings)
        else:
            from coaching_assistant.stt.fake import FakeProvider

            _providers[key] = FakeProvider(settings)
    return _providers[key]
