#!/usr/bin/env python3
"""Generate the synthetic two-voice coaching conversation used by tests and benchmarks.

Needs Debian's ``espeak-ng`` and ``sox`` (with ``libsox-fmt-mp3``). The output is committed, so
only run this when the dialogue changes:

    python3 scripts/make_fixture.py

It writes, under ``tests/fixtures/``:
  coaching_conversation.mp3   mono 16 kHz MP3 (small enough to commit)
  coaching_conversation.txt   the reference text (one turn per line)
  coaching_conversation.json  speakers, voices and turn start/end times in seconds
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
NAME = "coaching_conversation"
RATE = 16000
PAUSE_SECONDS = 0.6

VOICES = {"coach": "en-us+m3", "client": "en-us+f2"}

DIALOGUE = [
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


def _duration(path: Path) -> float:
    out = subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        silence = tmpdir / "silence.wav"
        subprocess.run(["sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(silence),
                        "trim", "0", str(PAUSE_SECONDS)], check=True)
        parts: list[Path] = [silence]
        turns = []
        cursor = PAUSE_SECONDS
        for index, (speaker, text) in enumerate(DIALOGUE):
            raw = tmpdir / f"turn{index}_raw.wav"
            wav = tmpdir / f"turn{index}.wav"
            subprocess.run(["espeak-ng", "-v", VOICES[speaker], "-s", "165", "-w", str(raw), text],
                           check=True)
            subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)],
                           check=True)
            length = _duration(wav)
            turns.append({"speaker": speaker, "voice": VOICES[speaker], "text": text,
                          "start": round(cursor, 3), "end": round(cursor + length, 3)})
            cursor += length + PAUSE_SECONDS
            parts += [wav, silence]
        joined = tmpdir / "joined.wav"
        subprocess.run(["sox", *map(str, parts), str(joined)], check=True)
        mp3 = FIXTURES / f"{NAME}.mp3"
        subprocess.run(["sox", str(joined), "-C", "48", str(mp3)], check=True)

    (FIXTURES / f"{NAME}.txt").write_text("\n".join(text for _, text in DIALOGUE) + "\n")
    (FIXTURES / f"{NAME}.json").write_text(json.dumps(
        {"audio": mp3.name, "sample_rate": RATE, "duration_seconds": round(cursor, 3),
         "speakers": VOICES, "turns": turns}, indent=2) + "\n")
    print(f"{mp3}: {mp3.stat().st_size} bytes, {cursor:.1f} s, {len(turns)} turns")


if __name__ == "__main__":
    main()
