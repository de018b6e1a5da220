"""Chinese text as Chinese is written: script, punctuation, spaces, sentences, numbers, questions."""

from __future__ import annotations

import pytest

from coaching_assistant.services import chinese, roles
from coaching_assistant.stt.base import Segment, Word


@pytest.mark.parametrize("raw, expected", [
    ("你今天想谈什么?", "你今天想談什麼？"),  # Simplified to Traditional (Taiwan), ? to ？
    ("我 想 谈 一 下 工作", "我想談一下工作"),  # no spaces between characters
    ("我想用 Python 写程式,可以吗?", "我想用 Python 寫程式，可以嗎？"),  # English keeps its spaces
    ("我用 Python?", "我用 Python?"),  # after a Latin word the ASCII mark stays (and still counts)
    ("好的。 那 我们 开始吧!", "好的。那我們開始吧！"),
    ("今天，我们聊聊。", "今天，我們聊聊。"),  # full-width kept as it is
    ("一二三四五六七八九十。", "一二三四五六七八九十。"),  # numerals left as spoken
    ("我有3个目标,第1个是2.5公里", "我有3個目標，第1個是2.5公里"),  # digits too; a decimal point stays
    ("Coaching 的 GROW model 很好用: 先谈目标", "Coaching 的 GROW model 很好用：先談目標"),
])
def test_taiwan_text(raw, expected):
    assert chinese.written(raw, chinese.script_of("zh-TW")) == expected


@pytest.mark.parametrize("language, script", [
    ("zh-TW", "s2twp"), ("cmn-Hant-TW", "s2twp"), ("zh-Hant", "s2twp"), ("zh-CN", "t2s"), ("cmn-Hans-CN", "t2s"),
    ("zh", None),
])
def test_the_script_follows_the_tag(language, script):
    assert chinese.script_of(language) == script


def test_simplified_for_mainland_tags():
    assert chinese.written("你今天想談什麼?", chinese.script_of("zh-CN")) == "你今天想谈什么？"


def _words(*tokens: str) -> list[Word]:
    return [Word(token, i * 0.5, i * 0.5 + 0.4, 0.9) for i, token in enumerate(tokens)]


def test_segments_split_at_sentence_ends_with_the_words_times():
    segment = Segment(start=0.0, end=4.0, text="你好。今天 想谈 什么? 我想用 Python!",
                      words=_words("你好.", "今天", " 想谈", "什么?", "我想用", " Python!"), speaker_id=2)
    pieces = chinese.normalize_segments([segment], "zh-TW")
    assert [p.text for p in pieces] == ["你好。", "今天想談什麼？", "我想用 Python!"]
    assert [(p.start, p.end) for p in pieces] == [(0.0, 0.4), (0.5, 1.9), (2.0, 2.9)]
    assert {p.speaker_id for p in pieces} == {2}
    assert [w.word.strip() for w in pieces[1].words] == ["今天", "想談", "什麼？"]


def test_a_lone_ascii_mark_after_a_chinese_word_becomes_full_width():
    segment = Segment(start=0.0, end=2.0, text="好吗 ?", words=_words("好吗", "?", "对"))
    pieces = chinese.normalize_segments([segment], "zh-TW")
    assert [w.word.strip() for w in pieces[0].words] == ["好嗎", "？"]
    assert [p.text for p in pieces] == ["好嗎？", "對"]


def test_other_languages_are_untouched():
    segment = Segment(start=0.0, end=1.0, text="Hello , world?", words=_words("Hello", ",", "world?"))
    assert chinese.normalize_segments([segment], "en-US") == [segment]


def test_auto_detected_chinese_is_written_for_taiwan():
    from coaching_assistant.services.languages import text_language

    pieces = chinese.normalize_segments([Segment(0.0, 1.0, "什么?", words=_words("什么?"))],
                                        text_language("auto", "zh"))
    assert pieces[0].text == "什麼？"


def test_full_and_half_width_question_marks_count_as_questions():
    lines = [roles.Line(1, 0, 2, "你今天想談什麼？你覺得呢?", "coach"), roles.Line(2, 2, 5, "我想談工作。", "client")]
    stats = roles.statistics(lines, 5.0)
    assert stats["roles"]["coach"]["questions"] == 2
    assert stats["roles"]["client"]["questions"] == 0


def test_chinese_words_are_counted_by_character_and_english_by_word():
    lines = [roles.Line(1, 0, 2, "我想用 Python 寫。", "coach")]
    assert roles.statistics(lines, 2.0)["roles"]["coach"]["words"] == 5  # 我 想 用 Python 寫


def test_a_sentence_cut_from_a_segment_is_written_as_the_same_sentence_alone():
    """Taiwan's phrases (软件 → 軟體, 内存 → 記憶體) apply to a cut sentence's text as to a whole
    segment's; only the words, converted one by one, keep the character conversion."""
    tokens = ("我", "用", "软", "件", "。", "内", "存", "不", "够", "。")
    alone = Segment(0.0, 2.0, "我用软件。", words=_words(*tokens[:5]))
    together = Segment(0.0, 5.0, "我用软件。内存不够。", words=_words(*tokens))
    [whole] = chinese.normalize_segments([alone], "zh-TW")
    cut = chinese.normalize_segments([together], "zh-TW")
    assert whole.text == "我用軟體。"
    assert [p.text for p in cut] == ["我用軟體。", "記憶體不夠。"]
    assert [w.word for w in cut[0].words] == ["我", "用", "軟", "件", "。"]


def test_english_in_chinese_is_rejoined_from_whispers_sub_word_tokens():
    """Whisper's Chinese tokens: characters without spaces, English as pieces whose first carries
    the space (" GROW" as " GR", "OW")."""
    tokens = ("我", "想", "用", " GR", "OW", " model", "。", "你", "觉", "得", "呢", "?")
    segment = Segment(0.0, 6.0, "我想用 GROW model。你觉得呢?", words=_words(*tokens))
    pieces = chinese.normalize_segments([segment], "zh-TW")
    assert [p.text for p in pieces] == ["我想用 GROW model。", "你覺得呢？"]
    [whole] = chinese.normalize_segments([Segment(0.0, 3.0, "我想用 GROW model", words=_words(*tokens[:6]))],
                                         "zh-TW")
    assert whole.text == "我想用 GROW model"


def test_tokens_are_joined_with_their_own_spaces():
    from coaching_assistant.stt.base import join_words

    assert join_words(_words("我", "想", "用", " GR", "OW", " model")) == "我想用 GROW model"
    assert join_words(_words(" Hello", " wor", "ld", ".")) == "Hello world."
