"""Chinese transcripts written the way Chinese is written, whichever engine produced them.

For every Chinese session (zh, cmn, yue tags, and `auto` once Chinese was detected):

- the script: Traditional characters with Taiwan's phrases (OpenCC s2twp) for Taiwan or Hant tags
  (zh-TW, cmn-Hant-TW), Simplified (OpenCC t2s) for mainland or Hans tags (zh-CN, cmn-Hans-CN);
  other Chinese tags keep what the engine wrote;
- punctuation: the ASCII , . ? ! : ; that engines put after a Chinese character become the
  full-width ，。？！：； (punctuation after a Latin word or inside a number, as in 3.5, stays);
  full-width punctuation is kept as it is;
- spaces: none between CJK characters, none around full-width punctuation; English words inside
  Chinese keep theirs (我想用 Python 寫);
- sentences: a segment is split after each 。！？ that ends a word, at that word's time (speaker
  changes were split by diarization before), so each line is one sentence of one speaker;
- numbers: left as spoken and recognised (一二三 stays 一二三, 123 stays 123); nothing converts them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

from coaching_assistant.services.languages import base_language
from coaching_assistant.stt.base import Segment, Word

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_FULL_WIDTH = {",": "，", ".": "。", "?": "？", "!": "！", ":": "：", ";": "；"}
# ASCII punctuation right after a CJK character (spaces between allowed), not followed by a digit
# (so a decimal point after a Chinese unit, rare as it is, is not touched).
_HALF_AFTER_CJK = re.compile(rf"(?<=[{_CJK}])\s*([,.?!:;])(?![0-9])")
_SPACE_AROUND_FULL = re.compile(r"\s*([，。？！：；、])\s*")
SENTENCE_END = ("。", "！", "？")


def is_chinese(language: str) -> bool:
    return base_language(language) == "zh"


def script_of(language: str) -> str | None:
    """'s2twp' (Traditional, Taiwan), 't2s' (Simplified) or None (keep) for a Chinese tag."""
    parts = language.replace("_", "-").split("-")[1:]
    if "Hant" in parts or "TW" in parts or "HK" in parts or "MO" in parts:
        return "s2twp"
    if "Hans" in parts or "CN" in parts or "SG" in parts:
        return "t2s"
    return None


@lru_cache(maxsize=2)
def _converter(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def written(text: str, script: str | None, *, after_cjk: bool = False) -> str:
    """`text` in the script, with full-width punctuation after Chinese and no spaces between CJK.
    `after_cjk`: the text follows a CJK character (a word token after a Chinese word)."""
    if script:
        text = _converter(script).convert(text)
    if after_cjk and text.strip() and text.strip()[0] in _FULL_WIDTH:
        stripped = text.strip()
        text = _FULL_WIDTH[stripped[0]] + stripped[1:]
    text = _HALF_AFTER_CJK.sub(lambda match: _FULL_WIDTH[match.group(1)], text)
    text = _SPACE_AROUND_FULL.sub(r"\1", text)  # full-width punctuation takes its own space
    return _SPACE_BETWEEN_CJK.sub("", text)


def join_words(words: list[Word]) -> str:
    """The text of a run of word tokens: spaces between Latin words, none between Chinese ones."""
    return _SPACE_BETWEEN_CJK.sub("", " ".join(w.word.strip() for w in words if w.word.strip()))


def split_sentences(segment: Segment) -> list[Segment]:
    """The segment cut after every word that ends a sentence (。！？), at the words' times."""
    runs: list[list[Word]] = [[]]
    for index, word in enumerate(segment.words):
        runs[-1].append(word)
        if word.word.strip().endswith(SENTENCE_END) and index < len(segment.words) - 1:
            runs.append([])
    if len(runs) == 1:
        return [segment]
    pieces = []
    for run in runs:
        probabilities = [w.probability for w in run if w.probability is not None]
        confidence = round(sum(probabilities) / len(probabilities), 4) if probabilities else segment.confidence
        pieces.append(Segment(start=run[0].start, end=run[-1].end, text=join_words(run), confidence=confidence,
                              words=run, speaker_id=segment.speaker_id))
    return pieces


def _written_words(words: list[Word], script: str | None) -> list[Word]:
    out: list[Word] = []
    previous = ""
    for word in words:
        text = written(word.word.strip(), script, after_cjk=bool(previous) and bool(_CJK_CHAR.match(previous[-1])))
        out.append(Word(text, word.start, word.end, word.probability))
        previous = text or previous
    return out


def normalize_segments(segments: list[Segment], language: str) -> list[Segment]:
    """Chinese sessions' segments as the module doc says; other languages' unchanged."""
    if not is_chinese(language):
        return segments
    script = script_of(language)
    result: list[Segment] = []
    for segment in segments:
        words = _written_words(segment.words, script)
        converted = replace(segment, text=written(segment.text.strip(), script), words=words)
        result.extend(split_sentences(converted))
    return result
