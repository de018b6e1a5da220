"""Roles and statistics without audio or a database: which speaker is the coach and how sure we
are, the labels a reader sees, and the numbers a coach reads about a session."""

from __future__ import annotations

import pytest

from coaching_assistant.services.roles import (
    EVIDENCE_CONFIDENCE,
    Line,
    assign_roles,
    label,
    questions_in,
    statistics,
    turns,
)


def test_all_evidence_agreeing_gives_the_most_evidence_may_claim():
    lines = [Line(1, 0, 2, "How are you?"), Line(2, 2, 5, "Fine, a busy week."),
             Line(1, 5, 6, "And then?"), Line(2, 6, 10, "Work, mostly.")]
    assert assign_roles(lines) == {
        "1": {"role": "coach", "confidence": EVIDENCE_CONFIDENCE, "source": "auto",
              "evidence": {"talk_seconds": 3.0, "questions": 2, "open_questions": 1}},
        "2": {"role": "client", "confidence": EVIDENCE_CONFIDENCE, "source": "auto",
              "evidence": {"talk_seconds": 7.0, "questions": 0, "open_questions": 0}},
    }
    assert EVIDENCE_CONFIDENCE < 0.8


def test_evidence_against_the_guess_lowers_the_confidence():
    # Speaker 1 asks the open questions (0.4) and all questions (0.2), but talks more (0.25) and
    # speaker 2 opens (0.15): 0.2 of net evidence, a fifth of the way from 0.5 to 0.75.
    lines = [Line(2, 0, 1, "Hello."), Line(1, 1, 10, "What brings you here? Why now?"), Line(2, 10, 12, "Work.")]
    guessed = assign_roles(lines)
    assert (guessed["1"]["role"], guessed["1"]["confidence"]) == ("coach", 0.55)
    assert (guessed["2"]["role"], guessed["2"]["confidence"]) == ("client", 0.55)


def test_open_questions_outweigh_a_client_who_asks_many_closed_ones():
    lines = [Line(1, 0, 2, "What is on your mind?"),
             Line(2, 2, 9, "Is it normal? Do others feel this? Should I worry?"),
             Line(1, 9, 11, "How would you like to find out?"), Line(2, 11, 14, "Could I ask her? Would that be odd?")]
    guessed = assign_roles(lines)
    assert guessed["1"]["role"] == "coach" and guessed["1"]["confidence"] < EVIDENCE_CONFIDENCE


def test_a_mentoring_session_fools_the_evidence_but_never_with_high_confidence():
    """The coach explains at length, the client opens and asks: all evidence says the client is
    the coach. It cannot be told from the words, so the guess is wrong, and says it may be."""
    lines = [Line(2, 0, 3, "How do I show active listening?"),
             Line(1, 3, 20, "Reflect the client's own words back, and notice what is not said."),
             Line(2, 20, 22, "What about silence?"), Line(1, 22, 35, "Silence is where the thinking happens.")]
    guessed = assign_roles(lines)
    assert guessed["2"]["role"] == "coach"  # wrong, as the evidence says
    assert guessed["2"]["confidence"] <= EVIDENCE_CONFIDENCE < 0.8


def test_a_third_speaker_stays_unknown_and_the_client_is_who_talks_most():
    lines = [Line(1, 0, 1, "Why?"), Line(2, 1, 11, "Because."), Line(3, 11, 14, "Hmm."), Line(1, 14, 15, "And you?")]
    guessed = assign_roles(lines)
    assert {speaker: entry["role"] for speaker, entry in guessed.items()} == {"1": "coach", "2": "client",
                                                                              "3": "unknown"}
    assert guessed["3"]["confidence"] is None and guessed["1"]["confidence"] == EVIDENCE_CONFIDENCE


@pytest.mark.parametrize("lines", [[], [Line(4, 0, 3, "Is anyone there?"), Line(4, 3, 5, "Hello?")]])
def test_fewer_than_two_speakers_get_no_roles(lines):
    guessed = assign_roles(lines)
    assert all(entry["role"] == "unknown" and entry["confidence"] is None for entry in guessed.values())
    assert list(guessed) == sorted({str(line.speaker_id) for line in lines})


def test_full_width_question_marks_count():
    assert questions_in("你今天想談什麼？真的嗎?") == 2 and questions_in("沒有問題。") == 0


@pytest.mark.parametrize(("role", "language", "name", "expected"), [
    ("coach", "zh-TW", None, "教練"), ("client", "cmn-Hans-CN", None, "客戶"), ("coach", "yue-Hant-HK", None, "教練"),
    ("client", "ZH", None, "客戶"), ("coach", "en-US", None, "Coach"), ("client", "ja-JP", None, "Client"),
    ("client", "en-US", "Maria", "Client"),  # a role wins over an imported name
    ("unknown", "zh-TW", "旁聽者", "旁聽者"), ("unknown", "en-US", None, "Speaker 7"),
    ("unknown", "en-US", "", "Speaker 7"),
])
def test_labels(role, language, name, expected):
    assert label(role, 7, language, name=name) == expected


def test_a_turn_ends_when_the_speaker_or_the_role_changes():
    lines = [Line(1, 0, 1, "a", "coach"), Line(1, 1, 2, "b", "coach"), Line(1, 2, 3, "c", "client"),
             Line(2, 3, 4, "d", "client"), Line(2, 4, 5, "e", "client")]
    assert [[line.text for line in run] for run in turns(lines)] == [["a", "b"], ["c"], ["d", "e"]]


SESSION = [Line(1, 0, 2, "How are you?", "coach"), Line(2, 3, 8, "I am fine thanks", "client"),
           Line(2, 8, 10, "Really fine", "client"), Line(1, 9, 11, "Good? Great?", "coach"),
           Line(3, 12, 13, "hm", "unknown")]


def test_statistics_per_role_turns_monologue_and_silence():
    stats = statistics(SESSION, 15.0)
    assert stats["roles"] == {
        "coach": {"talk_seconds": 4.0, "talk_share": 0.3333, "turns": 2, "questions": 3, "open_questions": 1,
                  "closed_questions": 2, "words": 5},
        "client": {"talk_seconds": 7.0, "talk_share": 0.5833, "turns": 1, "questions": 0, "open_questions": 0,
                   "closed_questions": 0, "words": 6},
        "unknown": {"talk_seconds": 1.0, "talk_share": 0.0833, "turns": 1, "questions": 0, "open_questions": 0,
                    "closed_questions": 0, "words": 1},
    }
    assert stats["turns"] == 4 and stats["duration_seconds"] == 15.0
    assert stats["longest_monologue"] == {"role": "client", "speaker_id": 2, "start_seconds": 3.0, "seconds": 7.0}
    assert stats["average_client_turn_seconds"] == 7.0
    assert stats["silence_seconds"] == 4.0  # 15 s less 11 s spoken: the overlap at 9–10 s counts once


def test_statistics_without_a_duration_end_at_the_last_segment():
    stats = statistics(SESSION, None)
    assert stats["duration_seconds"] == 13.0 and stats["silence_seconds"] == 2.0


def test_statistics_of_no_lines():
    stats = statistics([], None)
    assert stats["roles"] == {role: {"talk_seconds": 0, "talk_share": 0.0, "turns": 0, "questions": 0,
                                     "open_questions": 0, "closed_questions": 0, "words": 0}
                              for role in ("coach", "client")}
    assert (stats["turns"], stats["longest_monologue"], stats["average_client_turn_seconds"],
            stats["silence_seconds"], stats["duration_seconds"]) == (0, None, None, 0.0, 0.0)


def test_equal_talk_is_no_evidence_for_either_speaker():
    guessed = assign_roles([Line(1, 0, 0, "Hello."), Line(2, 0, 0, "Hi.")])  # an import without times
    assert guessed["1"]["confidence"] == 0.54  # only who opened: 0.15 of the way
