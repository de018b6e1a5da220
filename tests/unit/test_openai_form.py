"""The OpenAI form fields as read (services/openai_transcripts.py)."""

from __future__ import annotations

import pytest

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError
from coaching_assistant.services.openai_transcripts import compression_ratio, read_form

SETTINGS = Settings(whisper_model="auto", whisper_model_paths={})


def test_whisper_1_is_the_servers_model_and_the_defaults_are_openais():
    form = read_form(SETTINGS, {"model": ["whisper-1"]})
    assert (form.model, form.language, form.response_format, form.granularities) == ("auto", "auto", "json",
                                                                                     ("segment",))
    assert form.prompt is None and form.temperature is None


def test_every_field_is_read():
    form = read_form(SETTINGS, {"model": ["base"], "language": ["zh"], "prompt": [" 教練 "], "temperature": ["0.3"],
                                "response_format": ["verbose_json"],
                                "timestamp_granularities[]": ["word", "segment", "word"]})
    assert (form.model, form.language, form.prompt, form.temperature) == ("base", "zh", "教練", 0.3)
    assert form.granularities == ("word", "segment")


@pytest.mark.parametrize(("fields", "param", "code"), [
    ({"model": ["tiny.en"], "language": ["zh"]}, "language", "unsupported_language"),
    ({"model": ["whisper-2"]}, "model", "unknown_model"),
    ({"model": [""]}, "model", "validation_error"),
    ({"model": ["whisper-1"], "temperature": ["nan"]}, "temperature", "validation_error"),
])
def test_a_refusal_names_its_field(fields, param, code):
    with pytest.raises(CoachingError) as raised:
        read_form(SETTINGS, fields)
    assert (raised.value.extra["param"], raised.value.code) == (param, code)


def test_compression_ratio_flags_repetition_as_whisper_does():
    assert compression_ratio("") == 0.0
    assert compression_ratio("How will you know that it is working?") < 1.5
    assert compression_ratio("thank you " * 40) > 2.4
