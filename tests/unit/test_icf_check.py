"""A transcript against ICF's credential rules (services/icf_check.py), one rule at a time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from coaching_assistant.services.icf_check import check, likely_surnames


def segment(id_: int, speaker: int, start: float, end: float, text: str = "words", role: str | None = None):
    return SimpleNamespace(id=id_, speaker_id=speaker, start_seconds=start, end_seconds=end, content=text, role=role,
                           translation=None)


def session(segments, duration: float = 30 * 60, roles: dict | None = None, title: str = "Week 3"):
    return SimpleNamespace(status="completed", segments=segments, duration_seconds=duration, language="en-US",
                           detected_language=None, title=title,
                           speaker_roles=roles or {"1": {"role": "coach"}, "2": {"role": "client"}})


GOOD = [segment(1, 1, 0, 5, "Hi Sarah, what would you like to focus on?"), segment(2, 2, 5, 40, "My new role."),
        segment(3, 1, 40, 45, "What makes it hard?"), segment(4, 2, 45, 1790, "Too many meetings.")]


def rules_of(result: dict) -> dict:
    return {rule["rule"]: rule for rule in result["rules"]}


def test_a_session_that_keeps_every_rule_passes():
    result = check(session(GOOD))
    assert result["passed"] is True
    assert [(r["rule"], r["passed"], r["severity"]) for r in result["rules"]] == [
        ("length", True, "required"), ("two_speakers", True, "required"), ("roles_labelled", True, "required"),
        ("timestamps", True, "required"), ("first_names_only", True, "warning")]


@pytest.mark.parametrize(("duration", "passed", "words"), [
    (19 * 60 + 59, False, "shorter than 20 minutes"), (20 * 60, True, None), (60 * 60, True, None),
    (60 * 60 + 1, False, "longer than 60 minutes"), (46.4, False, "0:46 long")])
def test_length_is_20_to_60_minutes(duration, passed, words):
    rule = rules_of(check(session(GOOD, duration=duration)))["length"]
    assert rule["passed"] is passed
    assert rule["problem"] == (None if passed else "too_short" if duration < 1200 else "too_long")
    assert (words is None and rule["reason"] is None) or words in rule["reason"]
    assert check(session(GOOD, duration=duration))["passed"] is passed


def test_a_third_voice_names_its_segments_and_one_voice_says_so():
    third = [*GOOD, segment(5, 3, 1790, 1795, "Sorry, wrong room."), segment(6, 3, 1795, 1796, "Bye.")]
    rule = rules_of(check(session(third, roles={"1": {"role": "coach"}, "2": {"role": "client"},
                                                 "3": {"role": "client"}})))["two_speakers"]
    assert (rule["passed"], rule["segment_ids"]) == (False, [5, 6]) and "3 voices" in rule["reason"]
    assert (rule["problem"], rule["details"]) == ("extra_voices", {"voices": 3})
    alone = rules_of(check(session([segment(1, 1, 0, 1800)], roles={"1": {"role": "coach"}})))
    assert alone["two_speakers"]["passed"] is False and "one voice" in alone["two_speakers"]["reason"]
    assert alone["roles_labelled"]["passed"] is False and "client" in alone["roles_labelled"]["reason"]


def test_a_third_voice_the_user_gave_a_role_is_one_of_the_two():
    """The speaker separation split the client in two; the user said the third voice is the client."""
    split = [*GOOD, segment(5, 3, 1790, 1795, "And one more thing.")]
    user_said = {"1": {"role": "coach"}, "2": {"role": "client"}, "3": {"role": "client", "source": "user"}}
    assert rules_of(check(session(split, roles=user_said)))["two_speakers"]["passed"] is True
    per_segment = [*GOOD, segment(5, 3, 1790, 1795, "And one more thing.", role="client")]
    assert rules_of(check(session(per_segment)))["two_speakers"]["passed"] is True


def test_every_segment_must_be_coach_or_client_after_overrides():
    roles = {"1": {"role": "coach"}, "2": {"role": "unknown"}}
    unlabelled = [GOOD[0], segment(2, 2, 5, 40), segment(3, 1, 40, 45), segment(4, 2, 45, 1790, role="client")]
    rule = rules_of(check(session(unlabelled, roles=roles)))["roles_labelled"]
    assert (rule["passed"], rule["segment_ids"]) == (False, [2])  # 4 was given a role of its own
    assert (rule["problem"], rule["details"]) == ("unlabelled", {"count": 1})


def test_a_segment_without_a_usable_time_fails_the_timestamps():
    times = [GOOD[0], segment(2, 2, 5, 4), GOOD[2], segment(4, 2, 30, 1790)]
    rule = rules_of(check(session(times)))["timestamps"]
    assert (rule["passed"], rule["segment_ids"]) == (False, [2, 4])  # ends before it starts; goes back in time


def test_likely_surnames_are_a_warning_that_never_fails_the_check():
    named = [segment(1, 1, 0, 5, "Hi Sarah Chen, welcome."), *GOOD[1:3],
             segment(4, 2, 45, 1790, "I told Mr. Lopez and 王先生 on Monday.")]
    result = check(session(named))
    rule = rules_of(result)["first_names_only"]
    assert result["passed"] is True
    assert (rule["passed"], rule["severity"], rule["segment_ids"]) == (False, "warning", [1, 4])
    assert rule["names"] == ["Sarah Chen", "Mr. Lopez", "王先生"]


def test_a_surname_in_the_title_or_a_speakers_name_is_a_warning_too():
    roles = {"1": {"role": "coach"}, "2": {"role": "client", "source": "user", "label": "Amy Wong"}}
    rule = rules_of(check(session(GOOD, roles=roles, title="Session with Tom Baker")))["first_names_only"]
    assert (rule["passed"], rule["segment_ids"], rule["names"]) == (False, [], ["Tom Baker", "Amy Wong"])


@pytest.mark.parametrize(("text", "names"), [
    ("Hi Sarah, thanks for coming in.", []),
    ("What would you like? Great. Let us check in on Tuesday.", []),
    ("I met Anna Schmidt-Weber and Dr Patel.", ["Dr Patel", "Anna Schmidt-Weber"]),
    ("Ms Wong said hello to Sarah.", ["Ms Wong"]),
    ("陳小姐和林老師都來了，這位先生沒有。", ["陳小姐", "林老師"]),
    ("我今天想談工作。", []),
    ("Tell Sarah about it.", []),
    ("我想向老師請教。", []),
])
def test_likely_surnames(text, names):
    assert likely_surnames(text) == names
