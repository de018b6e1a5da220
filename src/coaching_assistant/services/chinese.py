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
  changes were split by diarization before), so each line is one sentence of one speaker; a
  sentence's text is converted as a whole (Taiwan phrases), its words one by one by character, so
  the words may differ from the text (軟件 / 軟體);
- numbers: left as spoken and recognised (一二三 stays 一二三, 123 stays 123); nothing converts them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

from coaching_assistant.services.languages import base_language
from coaching_assistant.stt.base import Segment, Word, join_words

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


def _sentence_runs(words: list[Word]) -> list[tuple[int, int]]:
    """[start, end) index ranges of `words` (already written: full-width marks after Chinese), cut
    after every word that ends a sentence (。！？)."""
    runs: list[tuple[int, int]] = []
    first = 0
    for index, word in enumerate(words):
        if word.word.strip().endswith(SENTENCE_END) and index < len(words) - 1:
            runs.append((first, index + 1))
            first = index + 1
    runs.append((first, len(words)))
    return runs


def _words_script(script: str | None) -> str | None:
    """A token alone has no phrase around it: words are converted character by character (s2tw),
    the text by phrase (s2twp), so 软件 is 軟件 among the words and 軟體 in the text."""
    return "s2tw" if script == "s2twp" else script


def _written_words(words: list[Word], script: str | None) -> list[Word]:
    """Each token written (script, full-width mark after Chinese), keeping its leading space."""
    out: list[Word] = []
    previous = ""
    for word in words:
        token = word.word.strip()
        lead = word.word[:len(word.word) - len(word.word.lstrip())]
        text = written(token, _words_script(script),
                       after_cjk=bool(previous) and bool(_CJK_CHAR.match(previous[-1])))
        out.append(Word(lead + text if text else "", word.start, word.end, word.probability))
        previous = text or previous
    return out


def _confidence(words: list[Word], default: float | None) -> float | None:
    probabilities = [w.probability for w in words if w.probability is not None]
    return round(sum(probabilities) / len(probabilities), 4) if probabilities else default


def normalize_segments(segments: list[Segment], language: str) -> list[Segment]:
    """Chinese sessions' segments as the module doc says; other languages' unchanged.

    A segment is cut into sentences on its tokens first; each sentence's text is then the engine's
    tokens joined as they came (their own leading spaces: sub-word pieces of an English word stay
    together) and written as a whole, with phrase conversion, as an uncut segment's text (the
    engine's, the same tokens joined) is. Words are converted one by one, character by character,
    so a word may read differently from the same characters in the text (軟件 / 軟體)."""
    if not is_chinese(language):
        return segments
    script = script_of(language)
    result: list[Segment] = []
    for segment in segments:
        words = _written_words(segment.words, script)
        runs = _sentence_runs(words)
        if len(runs) == 1:
            result.append(replace(segment, text=written(segment.text.strip(), script), words=words))
            continue
        for first, end in runs:
            run = words[first:end]
            result.append(Segment(start=run[0].start, end=run[-1].end,
                                  text=written(join_words(segment.words[first:end]), script),
                                  confidence=_confidence(run, segment.confidence), words=run,
                                  speaker_id=segment.speaker_id))
    return result
