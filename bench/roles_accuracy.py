#!/usr/bin/env python3
"""Roles and speaker counts on the generated conversation set (bench/conversations.py): the real
engine, then diarization and roles as a worker runs them, scored word by word.

    .venv/bin/python bench/roles_accuracy.py [--dir DIR]

Prints four tables: per conversation, the voices there are and found (`num_speakers` auto), the
share of words given the right role, the roles' confidence and whether they are right, the share
of words right when the true number of voices is given, and the share right with a voice profile;
the speaker-count confusion (true count by found count, the container variants included); the
share of role guesses from evidence that are right at each confidence; and each voice match. A
word's true role is the role of the turn it falls in; a word of a speaker left `unknown` counts
as wrong.

With a profile: the coach's voice as confirm-roles stores it (the voice of the found speaker
that most of that person's words went to) in every other conversation of the set where that voice
speaks, averaged as services/voice_profiles.py does; then the roles as a worker gives them.
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
from coaching_assistant.diarization import Diarization, diarize, get_encoder  # noqa: E402
from coaching_assistant.services import audio, roles, voice_profiles  # noqa: E402
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


def person_voices(found: Diarization, turns: list[dict]) -> dict[str, tuple]:
    """{person: (voice, seconds)}: the voice of the found speaker most of each person's words went to."""
    votes: dict[str, Counter[int]] = defaultdict(Counter)
    for s in found.segments:
        for w in s.words:
            middle = (w.start + w.end) / 2
            person = min(turns, key=lambda t: 0 if t["start"] <= middle <= t["end"]
                         else min(abs(middle - t["start"]), abs(middle - t["end"])))["speaker"]
            votes[person][s.speaker_id] += 1
    return {person: (found.voices[counts.most_common(1)[0][0]].embedding,
                     found.voices[counts.most_common(1)[0][0]].seconds)
            for person, counts in votes.items() if counts.most_common(1)[0][0] in found.voices}


def lines_of(found: Diarization) -> list[roles.Line]:
    return [roles.Line(s.speaker_id, s.start, s.end, s.text) for s in found.segments]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    make_all(args.dir)
    provider = WhisperProvider(Settings(stt_provider="whisper"))
    get_encoder(None)
    confusion: Counter[tuple[int, int]] = Counter()
    calibration: list[tuple[float, bool]] = []
    results: dict[str, tuple[dict, Diarization]] = {}
    variants: list[tuple[str, int, int]] = []
    inputs = [(c.name, args.dir / f"{c.name}.wav") for c in SET]
    inputs += [(f"{VARIANTS_OF} ({label})", args.dir / f"{VARIANTS_OF}.{label}.{container}")
               for label, (container, _rate) in VARIANTS.items()]
    for name, path in inputs:
        truth = json.loads((args.dir / f"{name.split(' ')[0]}.json").read_text())
        samples = audio.decode(path, max_seconds=600)
        segments = provider.transcribe(samples, language="en", on_progress=lambda seconds: None)
        found = diarize(samples, segments, num_speakers=None)
        count = len({s.speaker_id for s in found.segments})
        confusion[(truth["speakers"], count)] += 1
        if "(" in name:
            variants.append((name, truth["speakers"], count))
            continue
        given = diarize(samples, segments, num_speakers=truth["speakers"])
        results[name] = (truth, found, given, count)

    # Each person's voice in each conversation, to build profiles from the other conversations.
    heard = {name: person_voices(found, truth["turns"]) for name, (truth, found, _, _) in results.items()}
    print("| conversation | style | voices | found | words | right role | confidence | roles right "
          "| right role, count given | right role, with a profile | voice confidence |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    matches = []
    for name, (truth, found, given, count) in results.items():
        guessed = roles.assign_roles(lines_of(found))
        right, words = score(found.segments, guessed, truth["turns"])
        judged = speaker_roles_right(found.segments, guessed, truth["turns"])
        calibration += judged
        confidence = max((c for c, _ in judged), default=0.0)
        right_given, _ = score(given.segments, roles.assign_roles(lines_of(given)), truth["turns"])
        coach = next(person for person, role in truth["roles"].items() if role == "coach")
        voice = truth["voices"][coach]
        samples_elsewhere = [heard[other][person] for other, (t, _, _, _) in results.items() if other != name
                             for person, v in t["voices"].items() if v == voice and person in heard[other]]
        profile = voice_profiles.mean_voice(samples_elsewhere)
        with_profile, voice_confidence = "no other session", ""
        if profile is not None:
            match = voice_profiles.match({s: (v.embedding, v.seconds) for s, v in found.voices.items()}, profile)
            by_voice = roles.assign_roles(lines_of(found), match)
            right_profile, _ = score(found.segments, by_voice, truth["turns"])
            with_profile = f"{right_profile:.1%}"
            voice_confidence = "no match" if match is None else f"{match.confidence:.2f}"
            sims = sorted((float(v.embedding @ profile) for v in found.voices.values()), reverse=True)
            matches.append((name, len(samples_elsewhere), sims, match,
                            speaker_roles_right(found.segments, by_voice, truth["turns"])))
        print(f"| {name} | {truth['style']} | {truth['speakers']} | {count} | {words} | {right:.1%} | "
              f"{confidence:.2f} | {'yes' if judged and all(ok for _, ok in judged) else 'no'} | {right_given:.1%} "
              f"| {with_profile} | {voice_confidence} |")
    for name, voices, count in variants:
        print(f"| {name} | same audio | {voices} | {count} | | | | | | | |")

    print("\nSpeaker count (num_speakers auto): rows are the voices there are, columns the voices found")
    found_counts = sorted({f for _, f in confusion})
    print("| voices | " + " | ".join(f"found {f}" for f in found_counts) + " |")
    print("|---:|" + "---:|" * len(found_counts))
    for voices in sorted({v for v, _ in confusion}):
        print(f"| {voices} | " + " | ".join(str(confusion[(voices, f)] or "") for f in found_counts) + " |")

    print("\nRole guesses from evidence by confidence (each speaker given coach or client)")
    print("| confidence | speakers | right |")
    print("|---|---:|---:|")
    for low, high in ((0.0, 0.5), (0.5, 0.65), (0.65, 0.8), (0.8, 1.01)):
        band = [ok for c, ok in calibration if low <= c < high]
        if band:
            print(f"| {low:.2f}–{min(high, 1.0):.2f} | {len(band)} | {sum(band) / len(band):.0%} |")

    print(f"\nVoice matches (threshold {voice_profiles.MATCH_THRESHOLD}): the found speakers' similarity to "
          "the profile, nearest first")
    print("| conversation | sessions in the profile | similarities | confidence | roles right |")
    print("|---|---:|---|---:|---|")
    for name, sessions, sims, match, judged in matches:
        print(f"| {name} | {sessions} | {', '.join(f'{x:.3f}' for x in sims)} | "
              f"{'no match' if match is None else f'{match.confidence:.2f}'} | "
              f"{'yes' if judged and all(ok for _, ok in judged) else 'no'} |")


if __name__ == "__main__":
    main()
