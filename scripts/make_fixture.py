#!/usr/bin/env python3
"""Generate the synthetic two-voice coaching conversations used by tests and benchmarks.

Needs Debian's ``espeak-ng`` and ``sox`` (with ``libsox-fmt-mp3``). The output is committed, so
only run this when the dialogue changes:

    python3 scripts/make_fixture.py [NAME ...]      # default: every fixture

For each NAME it writes, under ``tests/fixtures/``:
  NAME.mp3   mono 16 kHz MP3 (small enough to commit)
  NAME.txt   the reference text (one turn per line)
  NAME.json  speakers, voices and turn start/end times in seconds

coaching_conversation: a male coach and a female client. coaching_two_men: two male voices.
coaching_mentoring: a mentoring session, where the coach talks most and the client asks the
questions, in the first two fixtures' coach voice (the voice-profile tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
RATE = 16000
PAUSE_SECONDS = 0.6

CONVERSATION = [
    ("coach", "Hi Sarah, thanks for coming in today. What would you like to focus on in our session?"),
    ("client", "I want to talk about my new role. I feel overwhelmed by all the meetings, "
               "and I have no time left for deep work."),
    ("coach", "That sounds difficult. What does a good week look like for you?"),
    ("client", "A good week has two quiet mornings without meetings, so I can plan and write."),
    ("coach", "What is one small step you could take this week to protect those mornings?"),
    ("client", "I could block Tuesday and Thursday mornings in my calendar and tell my team why."),
    ("coach", "How will you know that it is working?"),
    ("client", "I will finish the project plan by Friday, and I will feel less stressed."),
    ("coach", "Great. Let us check in on that next time."),
]

TWO_MEN = [
    ("coach", "Good morning David. What is on your mind this week?"),
    ("client", "I have a difficult conversation coming up with one of my senior engineers. "
               "He keeps missing deadlines and the rest of the team is starting to notice."),
    ("coach", "What have you tried so far?"),
    ("client", "Mostly hints in our weekly meeting. I have not told him directly, because "
               "I do not want him to feel attacked."),
    ("coach", "What would it sound like if you said it plainly and kindly?"),
    ("client", "I would tell him that I value his work, that the last three deadlines slipped, "
               "and that I want to understand what is getting in the way."),
    ("coach", "How do you expect him to respond?"),
    ("client", "He might get defensive at first. But I think he would be relieved to talk about it."),
    ("coach", "When will you have that conversation?"),
    ("client", "On Wednesday afternoon, after our planning meeting."),
]

MENTORING = [
    ("client", "Can I ask you about the competencies? How do I show active listening in a recorded session?"),
    ("coach", "Good question. Active listening shows when you reflect the client's own words back to them, "
               "when you notice what is not said, and when your next question builds on their last answer "
               "rather than on your plan. Assessors listen for that connection."),
    ("client", "So should I summarise more often?"),
    ("coach", "Summaries help, but keep them short and in the client's language. A long summary turns the "
               "attention to you. One sentence that captures the feeling and the fact is usually enough, and "
               "then you leave space for the client to correct you."),
    ("client", "What about silence? Is it okay to wait?"),
    ("coach", "Yes. Silence is often where the thinking happens. Count to five in your head before you speak. "
               "In your last recording you filled every pause, and the client never had the chance to go "
               "deeper on her own."),
    ("client", "Thank you, that is really helpful."),
]

FIXTURE_SET = {
    "coaching_conversation": ({"coach": "en-us+m3", "client": "en-us+f2"}, CONVERSATION),
    "coaching_two_men": ({"coach": "en-us+m3", "client": "en-gb+m7"}, TWO_MEN),
    "coaching_mentoring": ({"coach": "en-us+m3", "client": "en-gb+f4"}, MENTORING),
}


def _duration(path: Path) -> float:
    out = subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def make(name: str) -> None:
    voices, dialogue = FIXTURE_SET[name]
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        silence = tmpdir / "silence.wav"
        subprocess.run(["sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(silence),
                        "trim", "0", str(PAUSE_SECONDS)], check=True)
        parts: list[Path] = [silence]
        turns = []
        cursor = PAUSE_SECONDS
        for index, (speaker, text) in enumerate(dialogue):
            raw = tmpdir / f"turn{index}_raw.wav"
            wav = tmpdir / f"turn{index}.wav"
            subprocess.run(["espeak-ng", "-v", voices[speaker], "-s", "165", "-w", str(raw), text],
                           check=True)
            subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)],
                           check=True)
            length = _duration(wav)
            turns.append({"speaker": speaker, "voice": voices[speaker], "text": text,
                          "start": round(cursor, 3), "end": round(cursor + length, 3)})
            cursor += length + PAUSE_SECONDS
            parts += [wav, silence]
        joined = tmpdir / "joined.wav"
        subprocess.run(["sox", *map(str, parts), str(joined)], check=True)
        mp3 = FIXTURES / f"{name}.mp3"
        subprocess.run(["sox", str(joined), "-C", "48", str(mp3)], check=True)

    (FIXTURES / f"{name}.txt").write_text("\n".join(text for _, text in dialogue) + "\n")
    (FIXTURES / f"{name}.json").write_text(json.dumps(
        {"audio": mp3.name, "sample_rate": RATE, "duration_seconds": round(cursor, 3),
         "speakers": voices, "turns": turns}, indent=2) + "\n")
    print(f"{mp3}: {mp3.stat().st_size} bytes, {cursor:.1f} s, {len(turns)} turns")


if __name__ == "__main__":
    for fixture in sys.argv[1:] or FIXTURE_SET:
        make(fixture)
