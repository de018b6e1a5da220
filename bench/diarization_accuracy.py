#!/usr/bin/env python3
"""Speaker attribution on the fixtures: the real engine, then diarization, scored word by word.

    .venv/bin/python bench/diarization_accuracy.py [--runs 3]

For each fixture and for num_speakers 2 and auto: the share of Whisper's words given to the right
speaker (under the best matching of speaker ids to the fixture's turns), the speakers found, the
roles guessed, and the diarization time and real-time factor (median of the runs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import CONVERSATION, TWO_MEN, speaker_accuracy, turns_of  # noqa: E402

from coaching_assistant.core.config import Settings  # noqa: E402
from coaching_assistant.diarization import diarize, get_encoder  # noqa: E402
from coaching_assistant.services import audio, roles  # noqa: E402
from coaching_assistant.stt.whisper import WhisperProvider  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    provider = WhisperProvider(Settings(stt_provider="whisper"))
    get_encoder(None)  # load once, as a worker does
    print("| fixture | num_speakers | words | right | speakers found | roles right | diarization s | RTF |")
    print("|---|---|---:|---:|---:|---|---:|---:|")
    for name, fixture in (("male + female", CONVERSATION), ("two male voices", TWO_MEN)):
        samples = audio.decode(fixture, max_seconds=600)
        segments = provider.transcribe(samples, language="en", on_progress=lambda seconds: None)
        turns = turns_of(fixture)
        for wanted in (2, None):
            times, result = [], segments
            for _ in range(args.runs):
                started = time.perf_counter()
                result = diarize(samples, segments, num_speakers=wanted).segments
                times.append(time.perf_counter() - started)
            accuracy, words, matching = speaker_accuracy(result, turns)
            guessed = roles.assign_roles([roles.Line(s.speaker_id, s.start, s.end, s.text) for s in result])
            roles_right = all(guessed[str(speaker)]["role"] == truth for speaker, truth in matching.items())
            seconds = statistics.median(times)
            print(f"| {name} | {wanted or 'auto'} | {words} | {accuracy:.1%} | {len({s.speaker_id for s in result})}"
                  f" | {'yes' if roles_right else 'no'} | {seconds:.2f} | {seconds / (len(samples) / 16000):.3f} |")


if __name__ == "__main__":
    main()
