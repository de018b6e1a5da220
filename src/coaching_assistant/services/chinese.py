"""Traditional Chinese for Taiwan sessions, whichever engine produced the text.

For zh-TW / cmn-Hant-TW (any Chinese tag with the Hant script or the TW region), Simplified
characters become Traditional ones (OpenCC, Taiwan standard with Taiwanese phrases) and the
spaces engines put between CJK characters are removed (spaces next to Latin words stay).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

from coaching_assistant.stt.base import Segment, Word

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")


def wants_traditional(language: str) -> bool:
    parts = language.replace("_", "-").split("-")
    return parts[0].lower() in ("zh", "cmn") and ("Hant" in parts[1:] or "TW" in parts[1:])


@lru_cache(maxsize=1)
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("s2twp")


def to_traditional(text: str) -> str:
    return _SPACE_BETWEEN_CJK.sub("", _converter().convert(text))


def normalize_segments(segments: list[Segment], language: str) -> list[Segment]:
    if not wants_traditional(language):
        return segments
    return [replace(segment, text=to_traditional(segment.text),
                    words=[Word(to_traditional(w.word), w.start, w.end, w.probability) for w in segment.words])
            for segment in segments]
