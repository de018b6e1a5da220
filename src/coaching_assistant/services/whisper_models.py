"""Which Whisper model transcribes a session, and where its files are.

Names: `tiny.en` (the bundled English-only model, or WHISPER_MODEL_PATH when set), `base` (the
multilingual model joined from its two packages, `base_model`), and one name per
WHISPER_MODEL_PATH_<NAME> the operator sets (`WHISPER_MODEL_PATH_LARGE_V3=/srv/large-v3` →
`large-v3`). `auto` picks by language: tiny.en for English, base for every other language (and
for detecting the language). A session asks for a name (or gets WHISPER_MODEL); the worker
resolves `auto` once the language is known. Where a model's files are is the worker's business
(`stt.model_paths`); the API only checks names.
"""

from __future__ import annotations

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError, ErrorCode
from coaching_assistant.services.languages import base_language

AUTO = "auto"
TINY_EN = "tiny.en"
BASE = "base"
DETECTOR = BASE  # the model that detects a session's language
# Below this detection probability `auto` does not trust an "English" guess with the English-only
# model (measured: Polish heard as en/cs at 0.34): base transcribes, as for any other language.
CONFIDENT_DETECTION = 0.5
ENGLISH_ONLY = frozenset({TINY_EN})


def model_names(settings: Settings) -> list[str]:
    """Every name a session may ask for, `auto` first."""
    return [AUTO, TINY_EN, BASE, *sorted(name for name in settings.whisper_model_paths if name not in (TINY_EN, BASE))]


def check_model(settings: Settings, name: str, *, language: str) -> str:
    """The name in canonical form, or 422: `unknown_model` listing the names, or
    `unsupported_language` for an English-only model asked to transcribe another language."""
    canonical = name.strip().lower()
    names = model_names(settings)
    if canonical not in names:
        raise CoachingError(f"Unknown model {name!r}; this server offers: {', '.join(names)}.",
                            ErrorCode.UNKNOWN_MODEL)
    if canonical in ENGLISH_ONLY and language != "auto" and base_language(language) != "en":
        raise CoachingError(f"The model {canonical} is English-only and cannot transcribe {language!r}; use "
                            f"auto or {BASE}.", ErrorCode.UNSUPPORTED_LANGUAGE)
    return canonical


def resolve(settings: Settings, requested: str | None, *, language: str,
            detection_probability: float | None = None) -> str:
    """The model that transcribes a session in `language` (a known language, never `auto`);
    `detection_probability`: how sure the detection of that language was, when it was detected."""
    name = requested or settings.whisper_model
    if name != AUTO:
        return name
    if base_language(language) != "en":
        return BASE
    unsure = detection_probability is not None and detection_probability < CONFIDENT_DETECTION
    return BASE if unsure else TINY_EN
