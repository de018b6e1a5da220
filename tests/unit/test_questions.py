"""Open and closed questions in English and Chinese (services/questions.py)."""

from __future__ import annotations

import pytest

from coaching_assistant.services.questions import classify, count


@pytest.mark.parametrize(("sentence", "kind"), [
    ("What would you like to focus on in our session?", "open"),
    ("How will you know that it is working?", "open"),
    ("So, why does that matter to you?", "open"),
    ("Hi Sarah, what brings you here today?", "open"),
    ("And where would you start?", "open"),
    ("Which of these feels right?", "open"),
    ("Tell me more about that.", "open"),
    ("Okay, walk me through a good week.", "open"),
    ("Describe the moment you noticed it", "open"),
    ("Is that right?", "closed"),
    ("Did you talk to your manager?", "closed"),
    ("Would Tuesday work for you?", "closed"),
    ("Is it what you want?", "closed"),
    ("You mean tomorrow?", "closed"),
    ("I feel overwhelmed.", None),
    ("I wonder what happens next.", None),
    ("你想怎麼做？", "open"),
    ("你為什麼覺得這很重要？", "open"),
    ("那對你來說，成功是什麼樣子？", "open"),
    ("哪一個選項最適合你？", "open"),
    ("说说看你的目标。", "open"),
    ("你有什麼想法嗎？", "closed"),
    ("是不是很累？", "closed"),
    ("有沒有和主管談過？", "closed"),
    ("你明天去？", "closed"),
    ("我覺得很累。", None),
    # what a mentor coach would count otherwise (review of the first rules)
    ("What's important to you about that?", "open"),
    ("So, what’s next?", "open"),
    ("When you say stuck, do you mean at work?", "closed"),
    ("Did you call her, when you got home?", "closed"),
    ("So what you're saying is, you want to quit?", "closed"),
    ("Why don't you just call her?", "closed"),
    ("How about Tuesday?", "closed"),
    ("Which do you prefer, A or B?", "closed"),
    ("What did Dr. Lee say?", "open"),
    ("What does 成功 mean to you?", "open"),
    ("你是不是覺得怎麼做都不對？", "closed"),
    ("你要不要試試看怎麼做？", "closed"),
    ("你幾乎每天都加班？", "closed"),
    ("你覺得呢？", "open"),
    ("多說一點。", "open"),
    ("請分享你的想法。", "open"),
    ("分享一個好消息：我升職了！", None),
])
def test_each_sentence_is_open_closed_or_not_a_question(sentence, kind):
    assert classify(sentence) == kind


def test_sentences_end_at_their_marks_not_inside_numbers_or_titles():
    from coaching_assistant.services.questions import sentences

    assert sentences("What did Dr. Lee say? It took 3.5 hours. 好。你呢？") == [
        "What did Dr. Lee say?", "It took 3.5 hours.", "好。", "你呢？"]


def test_a_turn_counts_every_question_in_it():
    assert count("Hi Sarah. What would you like? Is that ok? Tell me more.") == {"open": 2, "closed": 1}
    assert count("我懂。你想怎麼開始？是不是要先休息？") == {"open": 1, "closed": 1}
    assert count("Thanks.") == {}
