"""Speech-to-text providers behind one small interface."""

from __future__ import annotations

from coaching_assistant.core.config import Settings
from coaching_assistant.stt.base import Segment, SpeechToTextProvider, Word

__all__ = ["Segment", "SpeechToTextProvider", "Word", "get_provider"]

_providers: dict[str, SpeechToTextProvider] = {}


def get_provider(settings: Settings) -> SpeechToTextProvider:
    """One provider per process and name (the Whisper model is loaded once, not per task)."""
    if settings.stt_provider not in _providers:
        if settings.stt_provider == "whisper":
            from coaching_assistant.stt.whisper import WhisperProvider

            _providers["whisper"] = WhisperProvider(settings)
        elif settings.stt_provider == "google":
            from coaching_assistant.stt.google import GoogleProvider

            _providers["google"] = GoogleProvider(settings)
        else:
            from coaching_assistant.stt.fake import FakeProvider

            _providers["fake"] = FakeProvider(settings)
    return _providers[settings.stt_provider]
