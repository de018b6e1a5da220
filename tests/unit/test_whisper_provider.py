"""The default engine on the real fixture: accuracy, timestamps, progress."""

from __future__ import annotations

import pytest

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import PermanentError
from coaching_assistant.services.audio import decode
from coaching_assistant.stt.whisper import WhisperProvider, load_model
from tests.helpers import CONVERSATION, reference_text, word_error_rate

pytestmark = pytest.mark.slow  # loads and runs the real speech engine


@pytest.fixture(scope="module")
def provider():
    return WhisperProvider(Settings(stt_provider="whisper"))


def test_transcribes_the_conversation_within_10_percent_wer(provider):
    audio = decode(CONVERSATION)
    progress: list[float] = []
    segments = provider.transcribe(audio, language="en-US", on_progress=progress.append)
    hypothesis = " ".join(s.text for s in segments)
    wer = word_error_rate(reference_text(), hypothesis)
    assert wer <= 0.10, (wer, hypothesis)
    assert progress == sorted(progress) and progress[-1] == pytest.approx(len(audio) / 16000)
    assert len(progress) > 3
    for segment in segments:
        assert 0 <= segment.start < segment.end <= 46.5
        assert segment.words and 0 < segment.confidence <= 1
        starts = [w.start for w in segment.words]
        assert starts == sorted(starts)


def test_model_is_loaded_once_per_process():
    settings = Settings(stt_provider="whisper")
    assert load_model(settings) is load_model(settings)


def test_english_only_model_refuses_other_languages(provider):
    with pytest.raises(PermanentError) as raised:
        provider.transcribe(decode(CONVERSATION)[:16000], language="zh-TW", on_progress=lambda s: None)
    assert raised.value.code == "unsupported_language"


def test_models_load_lazily_and_the_least_recently_used_goes_beyond_the_bound(tmp_path):
    from coaching_assistant.stt import whisper

    settings = Settings(stt_provider="whisper", whisper_max_loaded_models=1, model_cache_dir=tmp_path,
                        whisper_model_paths={})
    tiny = load_model(settings, "tiny.en")
    assert load_model(settings, "tiny.en") is tiny
    base = load_model(settings, "base")
    assert base.model.is_multilingual and not tiny.model.is_multilingual
    assert whisper.loaded_models() == [str(tmp_path / "whisper-base-1.0.0")]
    assert load_model(settings, "tiny.en") is not tiny  # evicted, loaded again


@pytest.mark.parametrize("language", ["zh", "es", "fr", "en"])
def test_base_detects_the_language_of_real_speech(language, tmp_path_factory):
    from coaching_assistant.stt.whisper import detect_language
    from tests.helpers import speech_samples

    settings = Settings(stt_provider="whisper", model_cache_dir=tmp_path_factory.getbasetemp() / "models",
                        whisper_model_paths={})
    sample = speech_samples(language)[-1]  # the longest kind: a pangram or counting
    detected, probability = detect_language(settings, decode(sample))
    assert detected == language, (sample.name, detected, probability)
    assert 0.5 < probability <= 1


@pytest.fixture(scope="module")
def base_provider(tmp_path_factory):
    return WhisperProvider(Settings(stt_provider="whisper", whisper_model_paths={},
                                    model_cache_dir=tmp_path_factory.getbasetemp() / "models"), "base")


def _chinese(provider, sample) -> str:
    from coaching_assistant.services.chinese import normalize_segments

    segments = provider.transcribe(decode(sample), language="zh-TW", on_progress=lambda _s: None)
    return "".join(s.text for s in normalize_segments(segments, "zh-TW"))


def test_base_writes_chinese_speech_in_traditional_characters_within_a_character_error_rate(base_provider):
    """Measured with base (int8): 你好事件 for 你好世界 (CER 0.5), the pangram 0.31; together 0.35."""
    import jiwer
    import opencc

    from tests.helpers import chinese_characters, speech_samples

    samples = {sample.stem: sample for sample in speech_samples("zh")}
    texts = {name: _chinese(base_provider, samples[name]) for name in ("nihao_shijie", "pangrama")}
    for text in texts.values():
        assert text and opencc.OpenCC("s2twp").convert(text) == text  # nothing left to make Traditional
        assert " " not in text
    # Traditional characters, not only characters both scripts share (measured: 天地玄皇宇宙洪荒日月影子陳宿列掌)
    assert opencc.OpenCC("t2s").convert(texts["pangrama"]) != texts["pangrama"], texts
    references = [chinese_characters(samples[name].with_suffix(".txt").read_text()) for name in texts]
    cer = jiwer.cer(references, [chinese_characters(text) for text in texts.values()])
    assert cer <= 0.40, (cer, texts)


@pytest.mark.parametrize(("start", "ladder"), [(None, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
                                               (0.0, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
                                               (0.3, (0.3, 0.5, 0.7, 0.9)), (0.5, (0.5, 0.7, 0.9)),
                                               (0.2, (0.2, 0.4, 0.6, 0.8, 1.0)), (1.0, (1.0,))])
def test_a_temperature_starts_the_fallback_ladder_there(start, ladder):
    from coaching_assistant.stt.whisper import temperatures

    assert temperatures(start) == ladder


def test_the_prompt_and_temperature_reach_the_engine(provider, monkeypatch):
    """The hints arrive as faster-whisper's initial_prompt and temperatures, on the real model, and
    the transcript stays as accurate."""
    from coaching_assistant.stt.base import Hints

    model = provider.model
    calls: list[dict] = []
    real = model.transcribe

    def recording(audio, **options):
        calls.append(options)
        return real(audio, **options)

    monkeypatch.setattr(model, "transcribe", recording)
    segments = provider.transcribe(decode(CONVERSATION), language="en-US", on_progress=lambda s: None,
                                   hints=Hints(prompt="Coach and client talk about goals.",
                                               temperature=0.4))
    assert calls[0]["initial_prompt"] == "Coach and client talk about goals."
    assert calls[0]["temperature"] == (0.4, 0.6, 0.8, 1.0)
    assert word_error_rate(reference_text(), " ".join(s.text for s in segments)) <= 0.10
