"""Which model a session gets, by name and language; operator models from the environment."""

from __future__ import annotations

import pytest

from coaching_assistant.core.config import Settings, model_paths_from_environment
from coaching_assistant.core.errors import CoachingError
from coaching_assistant.services import whisper_models


def test_auto_is_tiny_en_for_english_and_base_for_every_other_language():
    settings = Settings(whisper_model="auto", whisper_model_paths={})
    assert whisper_models.resolve(settings, None, language="en-US") == "tiny.en"
    assert whisper_models.resolve(settings, "auto", language="en") == "tiny.en"
    for language in ("zh-TW", "cmn-Hant-TW", "es", "fr-FR", "ja"):
        assert whisper_models.resolve(settings, None, language=language) == "base"


def test_a_named_model_is_used_whatever_the_language():
    settings = Settings(whisper_model="auto", whisper_model_paths={})
    assert whisper_models.resolve(settings, "base", language="en-US") == "base"
    assert whisper_models.resolve(Settings(whisper_model="base", whisper_model_paths={}), None,
                                  language="en-US") == "base"


def test_operator_models_come_from_whisper_model_path_variables(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("WHISPER_MODEL_PATH_SMALL=/srv/small\nWHISPER_MODEL_PATH=/srv/english\n")
    monkeypatch.setenv("WHISPER_MODEL_PATH_LARGE_V3", "/srv/large-v3")
    monkeypatch.setenv("WHISPER_MODEL_PATH_SMALL", "/srv/small-from-env")
    assert model_paths_from_environment(env_file) == {"large-v3": "/srv/large-v3", "small": "/srv/small-from-env"}
    settings = Settings(whisper_model_paths={"large-v3": "/srv/large-v3"})
    assert whisper_models.model_names(settings) == ["auto", "tiny.en", "base", "large-v3"]
    assert whisper_models.check_model(settings, "Large-V3", language="en-US") == "large-v3"


def test_an_unknown_model_is_refused_with_the_list():
    settings = Settings(whisper_model_paths={})
    with pytest.raises(CoachingError) as raised:
        whisper_models.check_model(settings, "large", language="en-US")
    assert raised.value.code == "unknown_model" and raised.value.status_code == 422
    assert raised.value.message == "Unknown model 'large'; this server offers: auto, tiny.en, base."


def test_the_english_only_model_refuses_another_language_up_front():
    settings = Settings(whisper_model_paths={})
    with pytest.raises(CoachingError) as raised:
        whisper_models.check_model(settings, "tiny.en", language="zh-TW")
    assert raised.value.code == "unsupported_language" and raised.value.status_code == 422


def test_whisper_model_must_be_a_known_name():
    with pytest.raises(ValueError, match="WHISPER_MODEL must be one of auto, base, tiny.en"):
        Settings(whisper_model="huge", whisper_model_paths={})


def test_an_unsure_english_detection_keeps_base_not_the_english_only_model():
    settings = Settings(whisper_model="auto", whisper_model_paths={})
    assert whisper_models.resolve(settings, None, language="en", detection_probability=0.34) == "base"
    assert whisper_models.resolve(settings, None, language="en", detection_probability=0.5) == "tiny.en"
    assert whisper_models.resolve(settings, "tiny.en", language="en", detection_probability=0.34) == "tiny.en"
    assert whisper_models.resolve(settings, None, language="cs", detection_probability=0.34) == "base"
