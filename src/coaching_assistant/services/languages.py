"""Which session languages we accept: BCP-47 tags whose language Whisper knows, or `auto`
(the worker detects it), and the language a session's text is then in."""

from __future__ import annotations

import re

from coaching_assistant.core.errors import CoachingError, ErrorCode

AUTO = "auto"

# ISO 639-1 codes of the languages Whisper was trained on, plus Mandarin/Cantonese aliases.
WHISPER_LANGUAGES = set(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he "
    "hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne "
    "nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk "
    "ur uz vi yi yo zh yue cmn".split()
)
_TAG = re.compile(r"^(?P<primary>[a-z]{2,3})(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$")


def normalize_language(tag: str) -> str | None:
    """Return the tag in canonical case ('en-us' -> 'en-US'), `auto`, or None when we cannot serve it."""
    if tag.strip().lower() == AUTO:
        return AUTO
    parts = tag.strip().replace("_", "-").split("-")
    if not parts or not parts[0]:
        return None
    canonical = [parts[0].lower()]
    for part in parts[1:]:
        canonical.append(part.title() if len(part) == 4 else part.upper())
    result = "-".join(canonical)
    match = _TAG.match(result)
    if not match or match.group("primary") not in WHISPER_LANGUAGES:
        return None
    return result


def base_language(language: str) -> str:
    """'en-US' -> 'en', 'cmn-Hant-TW' -> 'zh', 'zh-TW' -> 'zh'."""
    primary = language.replace("_", "-").split("-")[0].lower()
    return {"cmn": "zh", "yue": "zh"}.get(primary, primary)


def check_language(tag: str) -> str:
    """The tag in canonical case, or 422 `unsupported_language` naming the languages we take."""
    normalized = normalize_language(tag)
    if normalized is None:
        codes = ", ".join(sorted(WHISPER_LANGUAGES))
        raise CoachingError(f"Unsupported language {tag!r}: use auto (detected from the audio) or a BCP-47 tag "
                            f"such as en-US, zh-TW or cmn-Hant-TW whose language is one of: {codes}.",
                            ErrorCode.UNSUPPORTED_LANGUAGE)
    return normalized


def text_language(language: str, detected: str | None) -> str:
    """The language a session's text is in: the one asked for, or for `auto` the detected one
    (`auto` until it is known). Whisper says only `zh` for Chinese; our users write Taiwan's
    Traditional characters, so a detected Chinese session is treated as zh-TW (name zh-CN to
    keep Simplified)."""
    if language != AUTO:
        return language
    if not detected:
        return AUTO
    return "zh-TW" if base_language(detected) == "zh" else detected
