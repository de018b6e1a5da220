"""The transcription pipeline a worker runs for one session.

Stages and their progress ranges: claim (0) → decode (2–4) → language detection, for language
`auto` (4–5; Whisper base on the first DETECT_SECONDS, stored on the session) → speech-to-text
(5–75, by audio seconds done) → speaker diarization (75–90) → save (92–100). A session with
`translate` (not in English) has an English translation stage too, segment by segment, and the
ranges make room for it: speech-to-text 5–60, diarization 60–72, translation 72–90. The audio is
decoded to a temporary file and read in blocks (speech-to-text in pieces of at most ten minutes,
diarization ten minutes at a time), so a worker's memory does not grow with the length of the
recording. Chinese text is written as Chinese is (`chinese`) after diarization (which rejoins
split segments' words with spaces) and before translation; roles are guessed from the diarized segments when they are
saved. Progress goes to the `processing_status` row and to a `publish` callback (`progress`).

Delivery is at-least-once, so every run first claims the session atomically and gets a token;
a heartbeat renews the lease while it works (`lease`), and every later write checks the token. A
second copy of the same message finds the session busy (live lease) or done, and never writes.
How a claimed run ends:

- it lost the lease (cancelled, taken over, deleted): it writes nothing and says so;
- PermanentError (bad audio, past the deadline): the session fails with the error's code;
- TransientError, or the database out of reach: the session goes back to `pending` and the task
  retries (resuming its own lease when even that write failed);
- anything else is a bug: the session fails as `internal_error` rather than loop.

Nothing here imports Celery.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from coaching_assistant.core.config import Settings
from coaching_assistant.core.database import session_scope
from coaching_assistant.core.errors import ErrorCode, PermanentError, TransientError
from coaching_assistant.diarization import Voice, diarize
from coaching_assistant.models import CoachingSession, SessionStatus, SpeakerVoice, TranscriptSegment
from coaching_assistant.services import (
    audio,
    chinese,
    languages,
    piecewise,
    roles,
    session_state,
    storage,
    voice_profiles,
    whisper_models,
)
from coaching_assistant.services.lease import TIME_LIMIT_MESSAGE, Heartbeat, LeaseLost
from coaching_assistant.services.progress import ProgressReporter, Publish, publish_quietly
from coaching_assistant.services.session_state import Claim
from coaching_assistant.stt import SpeechToTextProvider, get_provider
from coaching_assistant.stt.base import Hints, Segment

logger = logging.getLogger(__name__)

DECODE_START, DETECT_START, STT_START, STT_END, DIARIZE_END, SAVE_START = 2, 4, 5, 75, 90, 92
TRANSLATING_STT_END, TRANSLATING_DIARIZE_END, TRANSLATE_END = 60, 72, 90  # with a translation stage
DETECT_SECONDS = 120  # the detector looks at up to 3 × 30 s of the speech the VAD finds in these


@dataclass
class Outcome:
    session_id: str
    status: str  # completed | skipped (done or gone) | discarded (lost the lease) | cancelled | busy
    segments_count: int = 0
    duration_seconds: float | None = None
    retry_after: float | None = None  # busy: when the current holder's lease runs out

    def as_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "status": self.status,
                "segments_count": self.segments_count, "duration_seconds": self.duration_seconds}


@dataclass
class _Run:
    """What the stages of one claimed run share."""

    settings: Settings
    session_id: uuid.UUID
    claim: Claim
    language: str
    reporter: ProgressReporter
    provider: SpeechToTextProvider | None
    detection_probability: float | None = None  # language auto: how sure the detection was

    @property
    def translating(self) -> bool:
        """An English translation is added (asked for, and the text is not English already)."""
        return self.claim.translate and languages.base_language(self.language) != "en"

    @property
    def stt_end(self) -> float:
        return TRANSLATING_STT_END if self.translating else STT_END

    @property
    def diarize_end(self) -> float:
        return TRANSLATING_DIARIZE_END if self.translating else DIARIZE_END


def transcribe_session(*, settings: Settings, session_id: str, audio_uri: str, language: str,
                       task_id: str, publish: Publish, provider: SpeechToTextProvider | None = None,
                       resume_token: str | None = None) -> Outcome:
    """Run the whole pipeline for one session. Safe to run twice, even at the same time.

    Raises TransientError (with `.attempt` set once claimed) for failures worth retrying, after
    handing the session back to `pending`; PermanentError and unexpected errors end the session
    `failed` with a code before they propagate.
    """
    sid = uuid.UUID(session_id)
    _check_location(settings, sid, task_id=task_id, audio_uri=audio_uri)
    claimed = claim(sid, task_id=task_id, audio_uri=audio_uri, settings=settings, resume_token=resume_token)
    if isinstance(claimed, Outcome):
        logger.warning("Session %s not claimed by task %s: %s", session_id, task_id, claimed.status)
        return claimed
    # The threads pool does not enforce Celery's time limits, so the run keeps its own deadline.
    heartbeat = Heartbeat(sid, claimed.token, settings.session_lease_seconds,
                          deadline=time.monotonic() + settings.task_soft_time_limit_seconds)
    heartbeat.start()
    reporter = ProgressReporter(session_id=sid, token=claimed.token, publish=publish, heartbeat=heartbeat,
                                min_interval=settings.progress_min_interval_seconds)
    try:
        return _run_stages(_Run(settings, sid, claimed, language, reporter, provider))
    except LeaseLost:
        if heartbeat.timed_out:  # the heartbeat failed the session at the deadline while a stage ran
            raise PermanentError(TIME_LIMIT_MESSAGE, code=ErrorCode.TIME_LIMIT_EXCEEDED) from None
        return _stopped(sid)
    except PermanentError as exc:
        with session_scope() as db:
            session_state.fail(db, sid, token=claimed.token, code=exc.code, message=exc.message)
        raise
    except Exception as exc:
        transient = _as_transient(exc)
        if transient is None:
            _fail_quietly(sid, claimed.token, exc)
            raise
        raise _hand_back(sid, claimed, transient) from exc
    finally:
        heartbeat.stop()


# ---- before the run: where the audio is, and the claim ---------------------------------------

def _check_location(settings: Settings, session_id: uuid.UUID, *, task_id: str, audio_uri: str) -> None:
    try:
        storage.check_location(settings, audio_uri)  # before touching the row: never store a bad URI
    except PermanentError as exc:
        # A stored location that is no longer accepted (storage settings changed) fails the session:
        # otherwise the sweeper would queue it again forever. A stray message leaves it alone.
        give_up(session_id, task_id=task_id, code=exc.code, message=exc.message, stored_uri=audio_uri)
        raise


def give_up(session_id: uuid.UUID, *, task_id: str, code: str, message: str, stored_uri: str | None = None) -> bool:
    """Fail a session this task was queued for and that is waiting for it (retries exhausted),
    and, with `stored_uri`, only if that is where its audio is stored."""
    with session_scope() as db:
        return session_state.give_up(db, session_id, task_id=task_id, code=code, message=message,
                                     stored_uri=stored_uri)


def claim(session_id: uuid.UUID, *, task_id: str, audio_uri: str, settings: Settings,
          resume_token: str | None = None) -> Claim | Outcome:
    """Claim the session for this run (`session_state.claim`), or say why not. A database out of
    reach is a TransientError with no attempt spent."""
    now = datetime.now(UTC)
    try:
        with session_scope() as db:
            claimed = session_state.claim(db, session_id, task_id=task_id, audio_uri=audio_uri, settings=settings,
                                          now=now, resume_token=resume_token)
            return claimed or _unclaimed(db, session_id, settings, now)
    except DBAPIError as exc:
        transient = _as_transient(exc)
        if transient is None:
            raise
        raise transient from exc


def _unclaimed(db: Session, session_id: uuid.UUID, settings: Settings, now: datetime) -> Outcome:
    session = db.get(CoachingSession, session_id)
    if session is None:
        return Outcome(str(session_id), "skipped")
    if left := session_state.lease_left(session, now):
        return Outcome(str(session_id), "busy", retry_after=left)
    if session.attempts >= settings.task_max_attempts:
        session_state.fail_out_of_attempts(db, session_id, attempts=session.attempts,
                                           max_attempts=settings.task_max_attempts, now=now)
    if session.status == SessionStatus.COMPLETED:
        # A late copy of a finished task reports the finished result, not an empty one.
        return Outcome(str(session_id), SessionStatus.COMPLETED, session.segments_count, session.duration_seconds)
    return Outcome(str(session_id), "skipped")


# ---- the stages ------------------------------------------------------------------------------

def _run_stages(run: _Run) -> Outcome:
    run.reporter.update(DECODE_START, "Decoding audio", force=True)
    with _decode(run) as samples:
        duration = round(samples.duration_seconds, 3)  # the decoded length, not the header's
        run.reporter.duration_total = duration
        if run.language == languages.AUTO:
            run.language = _detect_language(run, samples)
        segments = _speech_to_text(run, samples, duration)
        voices: dict[int, Voice] = {}
        if run.settings.diarization_enabled:
            segments, voices = _separate_speakers(run, samples, segments, duration)
        segments = chinese.normalize_segments(segments, run.language)  # after splitting, which rejoins words
        if run.translating:
            segments = _translate(run, samples, segments, duration)
    run.reporter.update(SAVE_START, "Saving transcript", processed=duration, force=True)
    if not save(run.session_id, token=run.claim.token, segments=segments, duration=duration, voices=voices):
        raise LeaseLost(str(run.session_id))
    publish_quietly(run.reporter.publish, {"session_id": str(run.session_id), "progress": 100,
                                           "message": "Transcription complete",
                                           "duration_processed": duration, "duration_total": duration})
    return Outcome(str(run.session_id), SessionStatus.COMPLETED, len(segments), duration)


def _decode(run: _Run) -> audio.DecodedAudio:
    """The session's audio decoded to a nameless file (closing it frees the disk space)."""
    with storage.local_copy(run.settings, run.claim.audio_uri) as path:
        run.settings.audio_dir.mkdir(parents=True, exist_ok=True)  # on the storage disk, not a RAM-backed /tmp
        return audio.decode_to_file(path, work_dir=run.settings.audio_dir, max_seconds=run.settings.max_audio_seconds)


def _detect_language(run: _Run, samples: audio.DecodedAudio) -> str:
    """Detect and store the session's language; the language its text is then written in."""
    run.reporter.update(DETECT_START, "Detecting the language", processed=0.0, force=True)
    detector = run.provider or get_provider(run.settings, whisper_models.DETECTOR)
    detected, probability = detector.detect_language(samples[0:DETECT_SECONDS * audio.SAMPLE_RATE])
    with session_scope() as db:
        if not session_state.record_language(db, run.session_id, token=run.claim.token, language=detected,
                                             probability=probability):
            raise LeaseLost(str(run.session_id))
    logger.info("Session %s: detected language %s (probability %.2f)", run.session_id, detected, probability)
    run.detection_probability = probability
    unsure = "" if probability >= whisper_models.CONFIDENT_DETECTION else ", unsure"
    run.reporter.update(DETECT_START, f"Detected the language: {detected} ({probability:.0%}{unsure})",
                        processed=0.0, force=True)
    return languages.text_language(languages.AUTO, detected)


def _speech_to_text(run: _Run, samples: audio.DecodedAudio, duration: float) -> list[Segment]:
    run.reporter.update(STT_START, "Transcribing audio", processed=0.0, force=True)

    def on_progress(seconds: float) -> None:
        share = seconds / duration if duration else 1.0
        run.reporter.update(STT_START + (run.stt_end - STT_START) * share,
                            f"Transcribing audio: {seconds:.0f} of {duration:.0f} seconds",
                            processed=round(seconds, 3))

    model = whisper_models.resolve(run.settings, run.claim.model, language=run.language,
                                   detection_probability=run.detection_probability)
    engine = run.provider or get_provider(run.settings, model)
    return piecewise.transcribe_in_pieces(engine, samples, language=run.language, on_progress=on_progress,
                                          hints=Hints(prompt=run.claim.prompt, temperature=run.claim.temperature))


def _separate_speakers(run: _Run, samples: audio.DecodedAudio, segments: list[Segment],
                       duration: float) -> tuple[list[Segment], dict[int, Voice]]:
    run.reporter.update(run.stt_end, "Separating speakers", processed=duration, force=True)

    def on_progress(share: float) -> None:
        run.reporter.update(run.stt_end + (run.diarize_end - run.stt_end) * share, "Separating speakers",
                            processed=duration)

    found = diarize(samples, segments, num_speakers=run.claim.num_speakers,
                    weights_path=run.settings.diarization_weights_path, on_progress=on_progress)
    return found.segments, found.voices


def _translate(run: _Run, samples: audio.DecodedAudio, segments: list[Segment], duration: float) -> list[Segment]:
    """Each segment with the English of its own stretch of audio (Whisper's translate task)."""
    run.reporter.update(run.diarize_end, "Translating into English", processed=duration, force=True)
    translator = run.provider or get_provider(run.settings, whisper_models.BASE)
    translated: list[Segment] = []
    for done, segment in enumerate(segments, 1):
        piece = samples[int(segment.start * audio.SAMPLE_RATE):int(segment.end * audio.SAMPLE_RATE)]
        english = translator.translate(piece, language=run.language) if len(piece) else ""
        translated.append(replace(segment, translation=english or None))
        run.reporter.update(run.diarize_end + (TRANSLATE_END - run.diarize_end) * done / len(segments),
                            f"Translating into English: {done} of {len(segments)} segments", processed=duration)
    return translated


def save(session_id: uuid.UUID, *, token: str, segments: list[Segment], duration: float,
         voices: dict[int, Voice] | None = None) -> bool:
    """Replace the session's segments and speakers' voices and complete it in one transaction, if
    this run owns it. Roles come from the user's voice profile when it finds the coach, else
    from the evidence of words."""
    voices = {speaker: voice for speaker, voice in (voices or {}).items()
              if any(s.speaker_id == speaker for s in segments)}
    lines = [roles.Line(s.speaker_id, s.start, s.end, s.text) for s in segments]
    with session_scope() as db:
        user_id = db.scalar(select(CoachingSession.user_id).where(CoachingSession.id == session_id))
        coach = None if user_id is None else voice_profiles.match_for(
            db, user_id, {speaker: (voice.embedding, voice.seconds) for speaker, voice in voices.items()})
        if not session_state.complete(db, session_id, token=token, segments_count=len(segments),
                                      speaker_roles=roles.assign_roles(lines, coach), duration=duration):
            return False
        db.execute(delete(TranscriptSegment).where(TranscriptSegment.session_id == session_id))
        db.execute(delete(SpeakerVoice).where(SpeakerVoice.session_id == session_id))
        db.add_all(SpeakerVoice(session_id=session_id, speaker_id=speaker, embedding=voice_profiles.to_bytes(
            voice.embedding), seconds=voice.seconds) for speaker, voice in voices.items())
        db.add_all(
            TranscriptSegment(session_id=session_id, position=i, speaker_id=s.speaker_id,
                              start_seconds=s.start, end_seconds=s.end, content=s.text,
                              confidence=s.confidence, translation=s.translation,
                              words=[{"word": w.word.strip(), "start": w.start, "end": w.end,
                                      "probability": w.probability} for w in s.words])
            for i, s in enumerate(segments))
        return True


# ---- how a claimed run ends, when it does not complete ---------------------------------------

def _stopped(session_id: uuid.UUID) -> Outcome:
    """The run lost its lease: say whether the user cancelled it or another run took it."""
    if _status(session_id) == SessionStatus.CANCELLED:
        logger.info("Transcription cancelled for session %s; stopped at a progress step", session_id)
        return Outcome(str(session_id), SessionStatus.CANCELLED)
    logger.warning("Session %s was taken over or deleted; this run's result is discarded", session_id)
    return Outcome(str(session_id), "discarded")


def _status(session_id: uuid.UUID) -> str | None:
    try:
        with session_scope() as db:
            return db.scalar(select(CoachingSession.status).where(CoachingSession.id == session_id))
    except Exception:
        return None


def _as_transient(exc: Exception) -> TransientError | None:
    """`exc` as an error worth retrying (a TransientError, or the database out of reach), or None."""
    if isinstance(exc, TransientError):
        return exc
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return TransientError(f"Database unavailable: {exc.__class__.__name__}", code=ErrorCode.DATABASE_UNAVAILABLE)
    return None


def _hand_back(session_id: uuid.UUID, claimed: Claim, error: TransientError) -> TransientError:
    """Release the session to `pending` for the task's retry; `error`, with the attempt it cost."""
    error.attempt = claimed.attempt
    try:
        with session_scope() as db:
            session_state.release(db, session_id, token=claimed.token,
                                  message=f"Retrying after a temporary error: {error.message}")
    except Exception:  # the database may be what is down: the retry may take it back
        logger.warning("Could not release session %s; its retry resumes it (or its lease expires)", session_id)
        error.resume_token = claimed.token
    return error


def _fail_quietly(session_id: uuid.UUID, token: str, exc: Exception) -> None:
    """An unexpected error is a bug, not a blip: fail the session visibly instead of looping."""
    try:
        with session_scope() as db:
            session_state.fail(db, session_id, token=token, code=ErrorCode.INTERNAL_ERROR,
                               message=f"Unexpected error during transcription: {exc.__class__.__name__}")
    except Exception:
        logger.exception("Could not record the failure of session %s", session_id)
