"""A completed session's transcript in the shapes OpenAI's audio API answers with
(`POST /v1/audio/transcriptions`), and the form fields that ask for them.

json `{"text"}`; text; srt and vtt (our downloads, speaker-labelled: `Coach: …`, `<v Coach>`);
verbose_json with `segments` and/or `words` as `timestamp_granularities[]` asks; diarized_json
with each segment's `speaker` (our label: Coach, Client, a name). verbose_json's segment fields
that Whisper computes but we do not keep are approximations, said in the README: `tokens` is
empty, `seek` is the start in 10 ms frames, `avg_logprob` is the log of the segment's mean word
probability, `no_speech_prob` is 0. Each verbose segment also carries our `speaker` and `role`.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError, ErrorCode
from coaching_assistant.models import CoachingSession
from coaching_assistant.services import languages, sessions, transcript_export, transcripts, whisper_models

OPENAI_MODEL = "whisper-1"  # OpenAI's name; here the server's WHISPER_MODEL
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
GRANULARITIES = ("segment", "word")
OWNER = "coaching-transcript"


@dataclass(frozen=True)
class TranscriptionForm:
    """The form fields of one request, checked."""

    model: str  # ours (auto, tiny.en, base, an operator's)
    language: str  # ours (a BCP-47 tag or auto)
    prompt: str | None
    temperature: float | None
    response_format: str
    granularities: tuple[str, ...]


def model_ids(settings: Settings) -> list[str]:
    """What GET /v1/models lists: whisper-1 first, then every name a session may ask for."""
    return [OPENAI_MODEL, *whisper_models.model_names(settings)]


def model_entry(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": OWNER}


def _one(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[-1].strip() if values else None


def _invalid(param: str, message: str) -> CoachingError:
    return CoachingError(f"{param}: {message}", ErrorCode.VALIDATION_ERROR, param=param)


def read_form(settings: Settings, fields: dict[str, list[str]]) -> TranscriptionForm:
    """The request's options, or a refusal naming the field (`param`), before anything is stored."""
    requested = _one(fields, "model")
    if not requested:
        raise _invalid("model", "required (whisper-1, or one of GET /v1/models).")
    try:
        language = languages.check_language(_one(fields, "language") or languages.AUTO)
    except CoachingError as exc:
        raise _naming("language", exc) from None
    try:
        model = whisper_models.check_model(settings, settings.whisper_model if requested == OPENAI_MODEL
                                           else requested, language=language)
    except CoachingError as exc:
        raise _naming("language" if exc.code == ErrorCode.UNSUPPORTED_LANGUAGE else "model", exc) from None
    response_format = _one(fields, "response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        raise _invalid("response_format", f"one of {', '.join(RESPONSE_FORMATS)}.")
    granularities = tuple(dict.fromkeys(v.strip() for name in ("timestamp_granularities[]", "timestamp_granularities")
                                        for v in fields.get(name, [])))
    if unknown := [g for g in granularities if g not in GRANULARITIES]:
        raise _invalid("timestamp_granularities", f"{unknown[0]!r} is not one of {', '.join(GRANULARITIES)}.")
    if granularities and response_format != "verbose_json":
        raise _invalid("timestamp_granularities", "response_format must be verbose_json to use them.")
    if (_one(fields, "stream") or "false").lower() not in ("false", "0"):
        raise _invalid("stream", "streaming is not offered; the answer comes when the transcript is ready.")
    temperature_text = _one(fields, "temperature")
    try:
        temperature = float(temperature_text) if temperature_text else None
    except ValueError:
        raise _invalid("temperature", "a number between 0 and 1.") from None
    prompt = _one(fields, "prompt")
    prompt, temperature = sessions.check_hints(prompt, temperature)
    return TranscriptionForm(model=model, language=language, prompt=prompt, temperature=temperature,
                             response_format=response_format, granularities=granularities or ("segment",))


def _naming(param: str, exc: CoachingError) -> CoachingError:
    """The refusal `exc`, saying which form field it is about."""
    return CoachingError(exc.message, exc.code, param=param)


def render(session: CoachingSession, form: TranscriptionForm) -> tuple[bytes, str]:
    """The answer's body and media type for a completed session. A recording in which nothing was
    said has no segments: its answer is empty, as OpenAI's is (where our API answers no_segments)."""
    said = bool(session.segments)
    if form.response_format in ("srt", "vtt"):
        export = transcript_export.EXPORTS[form.response_format]
        return export.write(transcripts.rows(session) if said else []), export.media_type
    segments = transcripts.transcript_json(session)["segments"] if said else []
    joiner = "" if languages.base_language(transcripts.text_language(session)) == "zh" else " "
    text = joiner.join(s["content"].strip() for s in segments)  # without spaces in Chinese
    if form.response_format == "text":
        return (text + "\n").encode(), "text/plain; charset=utf-8"
    duration = float(session.duration_seconds or 0.0)
    usage = {"type": "duration", "seconds": math.ceil(duration)}
    body: dict[str, Any]
    if form.response_format == "json":
        body = {"text": text, "usage": usage}
    elif form.response_format == "diarized_json":
        body = {"task": "transcribe", "duration": duration, "text": text, "usage": usage,
                "segments": [{"type": "transcript.text.segment", "id": f"seg_{s['id']}", "start": s["start_seconds"],
                              "end": s["end_seconds"], "text": s["content"], "speaker": s["label"]}
                             for s in segments]}
    else:
        body = _verbose(session, form, segments, text, duration, usage)
    return json.dumps(body, ensure_ascii=False).encode(), "application/json"


def _verbose(session: CoachingSession, form: TranscriptionForm, segments: list[dict[str, Any]], text: str,
             duration: float, usage: dict[str, Any]) -> dict[str, Any]:
    language = session.detected_language or languages.base_language(session.language)
    body: dict[str, Any] = {"task": "transcribe", "language": language, "duration": duration, "text": text,
                            "usage": usage}
    if "segment" in form.granularities:
        body["segments"] = [
            {"id": index, "seek": round(s["start_seconds"] * 100), "start": s["start_seconds"],
             "end": s["end_seconds"], "text": s["content"], "tokens": [], "temperature": session.temperature or 0.0,
             "avg_logprob": round(math.log(s["confidence"]), 4) if s["confidence"] else 0.0,
             "compression_ratio": compression_ratio(s["content"]), "no_speech_prob": 0.0,
             "speaker": s["label"], "role": s["role"]}
            for index, s in enumerate(segments)]
    if "word" in form.granularities:
        body["words"] = [{"word": w["word"], "start": w["start"], "end": w["end"]}
                         for s in segments for w in (s["words"] or [])]
    return body


def compression_ratio(text: str) -> float:
    """Whisper's repetition check: the text's UTF-8 length over its zlib-compressed length."""
    raw = text.encode()
    return round(len(raw) / len(zlib.compress(raw)), 4) if raw else 0.0
