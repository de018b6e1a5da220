#!/usr/bin/env python3
"""Roles and speaker counts on the generated conversation set (bench/conversations.py): the real
engine, then diarization and roles as a worker runs them, scored word by word.

    .venv/bin/python bench/roles_accuracy.py [--dir DIR]

Prints three tables: per conversation, the voices there are and found (`num_speakers` auto), the
share of words given the right role, the roles' confidence and whether they are right, and the
share of words right when the true number of voices is given; the
speaker-count confusion (true count by found count, the container variants included); and the
share of role guesses that are right at each confidence. A word's true role is the role of the
turn it falls in; a word of a speaker left `unknown` counts as wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.conversations import DEFAULT_DIR, SET, VARIANTS, VARIANTS_OF, make_all  # noqa: E402

from coaching_assistant.core.config import Settings  # noqa: E402
from coaching_assistant.diarization import diarize, get_encoder  # noqa: E402
from coaching_assistant.services import audio, roles  # noqa: E402
from coaching_assistant.stt.base import Segment  # noqa: E402
from coaching_assistant.stt.whisper import WhisperProvider  # noqa: E402


def true_role(turns: list[dict], seconds: float) -> str:
    def distance(turn: dict) -> float:
        return 0.0 if turn["start"] <= seconds <= turn["end"] else min(abs(seconds - turn["start"]),
                                                                        abs(seconds - turn["end"]))
    return min(turns, key=distance)["role"]


def score(segments: list[Segment], guessed: dict, turns: list[dict]) -> tuple[float, int]:
    """The share of words whose speaker's role is the role of the turn they fall in."""
    pairs = [(true_role(turns, (w.start + w.end) / 2), guessed[str(s.speaker_id)]["role"])
             for s in segments for w in s.words]
    return (sum(truth == given for truth, given in pairs) / len(pairs) if pairs else 0.0), len(pairs)


def speaker_roles_right(segments: list[Segment], guessed: dict, turns: list[dict]) -> list[tuple[float, bool]]:
    """(confidence, right) for each speaker given coach or client: right when most of its words
    are in turns of that role."""
    votes: dict[int, Counter[str]] = defaultdict(Counter)
    for s in segments:
        for w in s.words:
            votes[s.speaker_id][true_role(turns, (w.start + w.end) / 2)] += 1
    return [(float(entry["confidence"]), votes[int(speaker)].most_common(1)[0][0] == entry["role"])
            for speaker, entry in guessed.items() if entry["role"] in ("coach", "client") and votes[int(speaker)]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    make_all(args.dir)
    provider = WhisperProvider(Settings(stt_provider="whisper"))
    get_encoder(None)
    confusion: Counter[tuple[int, int]] = Counter()
    calibration: list[tuple[float, bool]] = []
    print("| conversation | style | voices | found | words | right role | confidence | roles right "
          "| right role, count given |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|")
    inputs = [(c.name, args.dir / f"{c.name}.wav") for c in SET]
    inputs += [(f"{VARIANTS_OF} ({label})", args.dir / f"{VARIANTS_OF}.{label}.{container}")
               for label, (container, _rate) in VARIANTS.items()]
    for name, path in inputs:
        truth = json.loads((args.dir / f"{name.split(' ')[0]}.json").read_text())
        samples = audio.decode(path, max_seconds=600)
        segments = provider.transcribe(samples, language="en", on_progress=lambda seconds: None)
        found = diarize(samples, segments, num_speakers=None)
        count = len({s.speaker_id for s in found})
        confusion[(truth["speakers"], count)] += 1
        if "(" in name:
            print(f"| {name} | same audio | {truth['speakers']} | {count} | | | | | |")
            continue
        guessed = roles.assign_roles([roles.Line(s.speaker_id, s.start, s.end, s.text) for s in found])
        right, words = score(found, guessed, truth["turns"])
        judged = speaker_roles_right(found, guessed, truth["turns"])
        calibration += judged
        confidence = max((c for c, _ in judged), default=0.0)
        given = diarize(samples, segments, num_speakers=truth["speakers"])
        right_given, _ = score(given, roles.assign_roles([roles.Line(s.speaker_id, s.start, s.end, s.text)
                                                         for s in given]), truth["turns"])
        print(f"| {name} | {truth['style']} | {truth['speakers']} | {count} | {words} | {right:.1%} | "
              f"{confidence:.2f} | {'yes' if judged and all(ok for _, ok in judged) else 'no'} | {right_given:.1%} |")

    print("\nSpeaker count (num_speakers auto): rows are the voices there are, columns the voices found")
    found_counts = sorted({f for _, f in confusion})
    print("| voices | " + " | ".join(f"found {f}" for f in found_counts) + " |")
    print("|---:|" + "---:|" * len(found_counts))
    for voices in sorted({v for v, _ in confusion}):
        print(f"| {voices} | " + " | ".join(str(confusion[(voices, f)] or "") for f in found_counts) + " |")

    print("\nRole guesses by confidence (each speaker given coach or client)")
    print("| confidence | speakers | right |")
    print("|---|---:|---:|")
    for low, high in ((0.0, 0.5), (0.5, 0.65), (0.65, 0.8), (0.8, 1.01)):
        band = [ok for c, ok in calibration if low <= c < high]
        if band:
            print(f"| {low:.2f}–{min(high, 1.0):.2f} | {len(band)} | {sum(band) / len(band):.0%} |")


if __name__ == "__main__":
    main()
