#!/usr/bin/env python3
"""Each Whisper model on real speech in nine languages and on the English fixture.

    .venv/bin/python bench/languages.py [--models tiny.en base] [--languages zh es …]

Speech: tests/fixtures/speech, recordings with reference texts copied from the pytest-audioeval
package (three short clips per language: zh ja en es fr hi it pl pt; Ogg Opus) and
tests/fixtures/coaching_conversation.mp3 (40 s, two voices). Each model runs in a process of its
own, as in a worker (int8, WHISPER_CPU_THREADS, VAD, word timestamps, the session's language
given), so its resident memory is its own. Printed per model and language: audio seconds, real-time
factor (transcription time / audio time), WER (CER for zh and ja: characters,
Traditional/Simplified and punctuation aside), the language base detects and its probability (the
detector is always base), and the process's peak RSS after that row. tiny.en is English-only: its
other rows are skipped. Nothing here is tuned to the samples.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jiwer  # noqa: E402
from tests.helpers import CONVERSATION, chinese_characters, reference_text, speech_samples  # noqa: E402

from coaching_assistant.core.config import Settings  # noqa: E402
from coaching_assistant.services import audio, chinese  # noqa: E402
from coaching_assistant.services.languages import text_language  # noqa: E402

LANGUAGES = ("en", "zh", "ja", "es", "fr", "hi", "it", "pl", "pt")
BY_CHARACTER = {"zh", "ja"}  # written without spaces between words
# The clips that count one to ten: Whisper writes digits (1, 2, 3) where the references spell the
# numbers out, and nothing converts them (numbers stay as recognised), so they are also scored apart.
COUNTING = {"counting", "jishu", "kazoeru", "conteo", "comptage", "ginti", "conteggio", "liczenie", "contagem"}
FIXTURE = "en (fixture)"


def words(text: str) -> str:
    """Lower case, punctuation gone, accents kept (é is a letter of French, not noise)."""
    kept = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text.lower())
    return " ".join(kept.split())


def characters(text: str) -> str:
    return chinese_characters(re.sub(r"\s+", "", text))


def clips(language: str) -> list[tuple[Path, str]]:
    if language == FIXTURE:
        return [(CONVERSATION, reference_text())]
    return [(path, path.with_suffix(".txt").read_text().strip()) for path in speech_samples(language)]


def measure(model: str, language_list: list[str]) -> None:
    """Run in the child: one JSON line per language."""
    from coaching_assistant.stt.whisper import WhisperProvider, detect_language

    settings = Settings(stt_provider="whisper")
    provider = WhisperProvider(settings, model)
    for language in language_list:
        code = "en" if language == FIXTURE else language
        if model == "tiny.en" and code != "en":
            continue
        seconds = spent = 0.0
        references: list[str] = []
        hypotheses: list[str] = []
        counting: list[bool] = []
        detections: list[tuple[str, float]] = []
        for path, reference in clips(language):
            samples = audio.decode(path, max_seconds=600)
            started = time.perf_counter()
            segments = provider.transcribe(samples, language=code, on_progress=lambda _s: None)
            spent += time.perf_counter() - started
            seconds += len(samples) / audio.SAMPLE_RATE
            segments = chinese.normalize_segments(segments, text_language("auto", code))
            hypothesis = ("" if code in BY_CHARACTER else " ").join(s.text for s in segments)
            normal = characters if code in BY_CHARACTER else words
            counting.append(path.stem in COUNTING)
            references.append(normal(reference))
            hypotheses.append(normal(hypothesis))
            detections.append(detect_language(settings, samples))
        score = jiwer.cer if code in BY_CHARACTER else jiwer.wer
        error = score(references, hypotheses)
        spoken = [(r, h) for r, h, numbers in zip(references, hypotheses, counting, strict=True) if not numbers]
        words_only = score([r for r, _ in spoken], [h for _, h in spoken]) if spoken else error
        detected = sorted({found for found, _ in detections})
        print(json.dumps({
            "model": model, "language": language, "seconds": round(seconds, 1), "rtf": round(spent / seconds, 3),
            "metric": "CER" if code in BY_CHARACTER else "WER", "error": round(float(error), 3),
            "without_counting": round(float(words_only), 3),
            "detected": "/".join(detected), "probability": round(min(p for _, p in detections), 2),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--languages", nargs="+", default=[FIXTURE, *LANGUAGES])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    languages = [FIXTURE if name in ("fixture", FIXTURE) else name for name in args.languages]
    if args.child:
        measure(args.child, languages)
        return
    print("| model | language | audio s | RTF | WER/CER | without the counting clip | detected (base) "
          "| lowest probability | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for model in args.models:
        child = subprocess.run([sys.executable, __file__, "--child", model, "--languages", *languages],
                               capture_output=True, text=True, check=False)
        if child.returncode:
            reason = child.stderr.strip().splitlines()[-1] if child.stderr.strip() else f"exit {child.returncode}"
            print(f"| {model} | failed: {reason} |")
            continue
        for line in child.stdout.splitlines():
            if not line.startswith("{"):
                continue
            row = json.loads(line)
            print(f"| {row['model']} | {row['language']} | {row['seconds']} | {row['rtf']} | "
                  f"{row['metric']} {row['error']:.1%} | {row['without_counting']:.1%} | {row['detected']} | "
                  f"{row['probability']} | {row['rss_mb']} |")


if __name__ == "__main__":
    main()
