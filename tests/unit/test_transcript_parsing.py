"""Reading VTT and SRT files: what real files look like (and what the `srt` package accepted),
the linear-time guarantees, and the limits on cue times, cue text and speaker names."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from coaching_assistant.core.errors import CoachingError
from coaching_assistant.services import roles
from coaching_assistant.services.transcript_parsing import MAX_SEGMENT_CHARS, MAX_TRANSCRIPT_SEGMENTS, parse_transcript


def cues(text: str, name: str = "t.srt") -> list[tuple[float, float, str | None, str]]:
    return [tuple(cue) for cue in parse_transcript(text.encode(), name)]  # type: ignore[misc]


def refusal(text: str, name: str = "t.srt") -> CoachingError:
    with pytest.raises(CoachingError) as caught:
        parse_transcript(text.encode(), name)
    assert caught.value.status_code == 422
    return caught.value


TWO = [(0.0, 1.0, None, "Hello"), (1.0, 2.5, None, "World")]


@pytest.mark.parametrize("text", [
    "1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,000 --> 00:00:02,500\nWorld\n",
    "\ufeff1\r\n00:00:00,000 --> 00:00:01,000\r\nHello\r\n\r\n2\r\n00:00:01,000 --> 00:00:02,500\r\nWorld\r\n",
    "1\r00:00:00,000 --> 00:00:01,000\rHello\r\r2\r00:00:01,000 --> 00:00:02,500\rWorld\r",  # classic Mac
    "\n\n1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,000 --> 00:00:02,500\nWorld",  # blank start, no end
    "00:00:00,000 --> 00:00:01,000\nHello\n\n00:00:01,000 --> 00:00:02,500\nWorld\n",  # no numbers
    "1\n00:00:00,000 --> 00:00:01,000\nHello\n2\n00:00:01,000 --> 00:00:02,500\nWorld\n",  # no blank line
    " 1 \n00:00:00.000 --> 00:00:01.000 X1:40 X2:600\nHello\n\n\n\n2\n0:00:01.000 --> 0:00:02.500\nWorld\n",
])
def test_srt_files_as_real_tools_write_them(text):
    assert cues(text) == TWO


@pytest.mark.parametrize("text", [
    "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello\n\n00:00:01.000 --> 00:00:02.500\nWorld\n",
    "\ufeffWEBVTT\r\n\r\n1\r\n00:00:00.000 --> 00:00:01.000\r\nHello\r\n\r\n"
    "00:01.000 --> 00:02.500 align:start\r\nWorld\r\n",  # BOM, CRLF, a cue id, short times, settings
    "WEBVTT - a title\nKind: captions\n\nNOTE a note\nover two lines\n\nSTYLE\n::cue { color: red }\n\n"
    "id-1\n00:00:00.000 --> 00:00:01.000 position:30%,line-left\nHello\n\nid-2\n00:00:01.000 --> 00:00:02.500\nWorld",
])
def test_vtt_files_as_real_tools_write_them(text):
    assert cues(text, "t.vtt") == TWO


@pytest.mark.parametrize("name", ["t.srt", "t.vtt"])
def test_times_past_the_first_hour(name):
    separator = "," if name == "t.srt" else "."
    text = (("WEBVTT\n\n" if name == "t.vtt" else "")
            + f"01:02:03{separator}456 --> 10:00:00{separator}000\nLate\n\n"
            + f"99:59:59{separator}999 --> 100:00:00{separator}000\nLater\n")
    assert cues(text, name) == [(3723.456, 36000.0, None, "Late"), (359999.999, 360000.0, None, "Later")]


def test_chinese_speakers_with_full_width_colons_and_voice_tags():
    srt = "1\n00:00:00,000 --> 00:00:01,000\n教練：你好嗎？\n\n2\n00:00:01,000 --> 00:00:03,000\n客户： 还好。\n"
    assert cues(srt) == [(0.0, 1.0, "教練", "你好嗎？"), (1.0, 3.0, "客户", "还好。")]
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v 客戶>我很好，<i>謝謝</i>。\n"
    assert cues(vtt, "t.vtt") == [(0.0, 1.0, "客戶", "我很好，謝謝。")]


def test_vtt_character_references_are_read_and_srt_has_none():
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Tom &amp; Jerry>a &lt;b&gt; &amp;amp; c&nbsp;d <i>e</i>\n"
    assert cues(vtt, "t.vtt") == [(0.0, 1.0, "Tom & Jerry", "a <b> &amp; c d e")]
    assert cues("1\n00:00:00,000 --> 00:00:01,000\nTom &amp; Jerry\n") == [(0.0, 1.0, None, "Tom &amp; Jerry")]


def test_srt_text_keeps_its_lines_numbers_and_blank_lines():
    text = ("1\n00:00:00,000 --> 00:00:01,000\nIn\n2020\nwe met\n\nagain.\n\n"
            "2\n00:00:01,000 --> 00:00:02,500\n<i>World</i> <font color=\"red\">red</font>\n\n"
            "3\n00:00:03,000 --> 00:00:04,000\n\n")
    assert cues(text) == [(0.0, 1.0, None, "In 2020 we met again."), (1.0, 2.5, None, "World red")]


def test_voice_tags_and_name_prefixes():
    text = ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v.loud.x-y Coach>Hi <b>there</b></v>  \n\n"
            "00:00:01.000 --> 00:00:02.000\n<v   Client   >a < b and c > d\n\n"
            "00:00:02.000 --> 00:00:03.000\n<v Client>\n\n"
            "00:00:03.000 --> 00:00:04.000\n<vx Coach>not a voice\n\n"
            "00:00:04.000 --> 00:00:05.000\nCoach: prefixed\n")
    assert cues(text, "t.vtt") == [(0.0, 1.0, "Coach", "Hi there"), (1.0, 2.0, "Client", "a d"),
                                   (3.0, 4.0, None, "not a voice"), (4.0, 5.0, "Coach", "prefixed")]


def test_speaker_names_are_one_line_without_control_characters_and_capped():
    assert roles.clean_name("  Ev\r\nil\t\x00<x>\u2028 \u200b One ") == "Ev il x One"
    assert roles.clean_name("\r\n\x01") is None and roles.clean_name(None) is None
    assert roles.clean_name("教練 " * 30) == ("教練 " * 14 + "教練")[:roles.MAX_NAME_CHARS]
    assert len(roles.clean_name("x" * 500) or "") == roles.MAX_NAME_CHARS
    # applied when a label is written, for names stored before names were cleaned
    assert roles.label("unknown", 3, "en-US", name="A\r\r00:00:00.000 --> 10:00:00.000\r") \
        == "A 00:00:00.000 -- 10:00:00.000"
    assert roles.label("unknown", 3, "en-US", name="\r\n") == "Speaker 3"
    text = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v " + "Name " * 20 + ">Hi\n"
    assert cues(text, "t.vtt")[0][2] == ("Name " * 8).strip()


@pytest.mark.parametrize(("text", "name", "where"), [
    ("1\n99999999999999999999:00:00,000 --> 99999999999999999999:00:01,000\nHi\n", "t.srt", "Line 2"),
    ("WEBVTT\n\nNOTE x\n\n00:00:00.000 --> 100:00:00.500\nHi\n", "t.vtt", "Line 5"),
    ("1\n00:00:00,000 --> 00:00:01,000\nHi\n\n2\n00:00:01,000 --> 00:00:60,000\nThere\n", "t.srt", "Line 6"),
    ("1\n00:00:00,000 --> 00:00:01,000\r\nHi\r\n2\r\n00:00:01,000 -->\r\n", "t.srt", "Line 5"),
    ("\ufeff1\r\n00:00:00,000 --> 00:00:01,000\r\nHi\r\n\r\n2\r\n00:00:01,000 --> 00:61:02,000\r\nThere\r\n", "t.srt",
     "Line 6"),  # the BOM is no line, CRLF one break
    ("WEBVTT\r\n\r\n00:00:00.000 --> 00:00:01.000\r\nA\r\n\r\n00:00:01.000-->00:00:02.000\r\nB\r\n", "t.vtt", "Line 6"),
    ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nA\n\n00:00:01,000 --> 00:00:02,000\nB\n", "t.vtt", "Line 6"),
])
def test_absurd_or_unreadable_cue_times_name_their_line(text, name, where):
    error = refusal(text, name)
    assert error.code == "invalid_transcript" and error.message.startswith(where + ":"), error.message


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe\x00garbage", "The transcript file is not UTF-8 text."),
    (b"", "The transcript file is empty."),
    (b"\xef\xbb\xbf \r\n\t\n", "The transcript file is empty."),
    (b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Coach>\n\n00:00:01.000 --> 00:00:02.000\n<b></b>\n",
     "The transcript file has no cues with text."),
    (b"1\n01:00:05,000 --> 01:00:01,500\nBackwards\n", "A cue ends before it starts (01:00:05.000 --> 01:00:01.500)."),
])
def test_files_without_a_transcript_are_refused_with_the_reason(data, message):
    with pytest.raises(CoachingError) as caught:
        parse_transcript(data, "t.srt")
    assert (caught.value.code, caught.value.message) == ("invalid_transcript", message)


def test_text_before_the_first_cue_is_refused():
    assert refusal("just some words\nwith no timings\n").message.startswith("Not a valid SRT or WebVTT file")
    error = refusal("hello\n1\n00:00:00,000 --> 00:00:01,000\nHi\n")
    assert error.code == "invalid_transcript" and error.message.startswith("Line 1: text before the first cue")
    assert refusal("\n1\nhello\n00:00:00,000 --> 00:00:01,000\nHi\n").message.startswith("Line 3: ")


def test_cue_and_file_limits():
    long = ("1\n00:00:00,000 --> 00:00:01,000\nok\n\n2\n00:00:02,000 --> 00:00:03,000\n"
            + "y" * (MAX_SEGMENT_CHARS + 1) + "\n")
    error = refusal(long)
    assert error.code == "cue_too_long" and "Cue 2 (00:00:02.000 --> 00:00:03.000)" in error.message
    many = "".join(f"{i + 1}\n00:00:00,000 --> 00:00:01,000\nx\n\n" for i in range(MAX_TRANSCRIPT_SEGMENTS + 1))
    assert refusal(many).code == "too_many_cues"
    assert len(cues(many.rsplit("\n\n", 2)[0])) == MAX_TRANSCRIPT_SEGMENTS


@pytest.mark.timeout(60)
def test_a_five_megabyte_file_is_read_in_linear_time():
    line = "we talked about the week, what went well and what did not, " * 4
    body = "".join(f"{i + 1}\n{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d},000 --> "
                   f"{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d},900\nCoach: {line}{i}\n\n"
                   for i in range(MAX_TRANSCRIPT_SEGMENTS))
    assert len(body.encode()) > 5_000_000
    parsed = cues(body)
    assert len(parsed) == MAX_TRANSCRIPT_SEGMENTS and parsed[-1][2] == "Coach" and parsed[-1][3].endswith("19999")


# Mostly readable pieces (repeated, so drawn more often), and a few hostile ones.
_HOSTILE_TIMES = ["99:59:59.999", "100:00:00.001", "9" * 30 + ":00:00,000", "00:61:00.000", "00:00:01",
                  "1" * 5000 + ":00.000"]
_STARTS = ["00:00:00.000", "00:00:01,000", "0:01.000"] * 6 + _HOSTILE_TIMES
_ENDS = ["00:00:02,500", "01:02:03.456", "00:00:01.500"] * 6 + _HOSTILE_TIMES
_TEXT = ["text", " ", "Coach: ", "Name: ", "<v Coach>", "<v.a Name\u2028 X>", "<b>", "</v>", "2020", "\n"] * 3 + [
    "\t", "\r", "\r\n", "-->", "<v ", ">", "<", "\x00", "\x85", "\u202e", "&amp;", "NOTE", "-", "教練：", "x" * 4000]


@st.composite
def transcript_files(draw: st.DrawFn) -> str:
    """Files shaped like transcripts (so most reach the cue-level code), built from hostile pieces."""
    cues = []
    for number in range(draw(st.integers(0, 6))):
        arrow = draw(st.sampled_from([" --> "] * 5 + ["-->", " -->  "]))
        timing = f"{draw(st.sampled_from(_STARTS))}{arrow}{draw(st.sampled_from(_ENDS))}"
        text = "".join(draw(st.lists(st.sampled_from(_TEXT), max_size=8)))
        cues.append(f"{number + 1}\n{timing}\n{text}" if draw(st.booleans()) else f"{timing}\n{text}")
    header = draw(st.sampled_from(["WEBVTT\n\n", "\ufeffWEBVTT\n\n", "", "\n"]))
    return header + draw(st.sampled_from(["\n\n", "\r\n\r\n", "\n"])).join(cues)


@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcript_files(), st.sampled_from(["t.vtt", "t.srt"]))
def test_any_file_gives_cues_or_a_named_refusal(file, name):
    """Never an OverflowError, ValueError or IndexError (a 500): cues within the limits, or a 422."""
    try:
        parsed = parse_transcript(file.encode(), name)
    except CoachingError as error:
        assert error.status_code == 422 and error.code in {"invalid_transcript", "cue_too_long", "too_many_cues"}
        return
    for start, end, speaker, text in parsed:
        assert 0 <= start <= end <= 100 * 3600 and text and len(text) <= MAX_SEGMENT_CHARS
        assert text == " ".join(text.split()) and "\x00" not in text
        assert speaker is None or (speaker == roles.clean_name(speaker) and len(speaker) <= roles.MAX_NAME_CHARS)
