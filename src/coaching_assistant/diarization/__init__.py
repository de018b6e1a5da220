"""Who spoke when, offline: speaker embeddings of speech windows, clustered, given to each word.

1.6 s windows every 0.25 s → keep the windows whose centre the VAD marks as speech → Resemblyzer
speaker embeddings (numpy port, see encoder.py) → each averaged with its neighbours within
CONTEXT_SECONDS → agglomerative clustering (average linkage, cosine distance; over-clustered, the
largest clusters are the voices) into the number of speakers given, or estimated → k-means steps
until no window moves → a majority vote over neighbouring windows → each word takes the speaker
of the nearest window, and a change of speaker shorter than MIN_RUN_SECONDS inside one of the
engine's segments is undone → segments are split where the speaker changes or a long pause falls.
(Spectral clustering was measured too: 90 % of words right on two male voices, against 99 % for
average linkage. The neighbours and the k-means steps were measured on the generated set of
bench/conversations.py and the fixtures: windows in the right voice 94.8 % → 99.5 % on average,
the worst conversation 61 % → 95 %; and the speaker count right on all 48 recordings, 32 before.)
Each speaker's voice, the
mean of its windows' embeddings, comes out too: stored with the transcript, it is what a coach's
voice profile is made of (services/voice_profiles.py).

The audio is read BLOCK_SECONDS at a time (an ndarray, or the pipeline's decoded file), so memory
stays flat however long the recording: a float32 copy of four hours is almost a gigabyte.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from coaching_assistant.core.errors import ErrorCode, PermanentError
from coaching_assistant.diarization.encoder import (
    HOP,
    N_MELS,
    PARTIAL_FRAMES,
    SAMPLE_RATE,
    SpeakerEncoder,
    default_weights_path,
    mel_spectrogram,
)
from coaching_assistant.stt.base import Segment, Word, join_words

logger = logging.getLogger(__name__)

STEP_SECONDS = 0.25
WINDOW_SECONDS = PARTIAL_FRAMES * HOP / SAMPLE_RATE  # 1.6
MAX_SPEAKERS = 8
MAX_CLUSTER_WINDOWS = 3000  # about 12 minutes of speech; longer recordings are sampled (see cluster)
CONTEXT_SECONDS = 0.75  # a window's embedding is averaged with its neighbours' this near
# Measured on bench/conversations.py, the fixtures and 27 one-voice recordings (see estimate_speakers):
AUTO_DISTANCE = 0.18
AUTO_MIN_SHARE = 0.12
AUTO_MIN_SECONDS = 2.0
OVERCLUSTER = 3  # extra clusters for stray windows (see cluster)
TARGET_DBFS = -30.0  # Resemblyzer's loudness target
PAUSE_SECONDS = 1.5  # a longer silence between words starts a new segment
MIN_RUN_SECONDS = 1.5  # a shorter change of speaker inside one of the engine's segments is undone (see _steady)
BATCH = 64
BLOCK_SECONDS = 600  # audio read, raised and embedded at a time
MEL_BLOCK_FRAMES = 3000  # spectrogram frames transformed at a time (its FFT needs ~5 kB a frame)

Progress = Callable[[float], None]  # share of the diarization done, 0..1


class Samples(Protocol):
    """16 kHz mono audio read by slices as float32: an ndarray, or `audio.DecodedAudio` on disk."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice, /) -> np.ndarray: ...


@dataclass(frozen=True)
class Voice:
    """One speaker's voice in a recording: the mean of its speech windows' embeddings (a unit
    vector) and the seconds of speech they stand for."""

    embedding: np.ndarray
    seconds: float


@dataclass(frozen=True)
class Diarization:
    segments: list[Segment]
    voices: dict[int, Voice] = field(default_factory=dict)  # by speaker id


_encoders: dict[Path, SpeakerEncoder] = {}
_lock = threading.Lock()


def get_encoder(weights_path: str | None) -> SpeakerEncoder:
    """One encoder per weights file per process (loaded on first use, shared by threads)."""
    path = Path(weights_path) if weights_path else default_weights_path()
    if path is None or not path.is_file():
        raise PermanentError("The speaker-encoder weights are missing: install requirements/models.txt "
                             "or set DIARIZATION_WEIGHTS_PATH", code=ErrorCode.DIARIZATION_UNAVAILABLE)
    with _lock:
        if path not in _encoders:
            _encoders[path] = SpeakerEncoder(path)
        return _encoders[path]


def speech_mask(samples: Samples, chunk_seconds: int = 600) -> np.ndarray:
    """Per 10 ms frame: is it speech (Silero VAD from the faster-whisper wheel), ten minutes
    at a time so a long recording is never copied whole."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100)
    mask = np.zeros(len(samples) // HOP + 1, dtype=bool)
    chunk = chunk_seconds * SAMPLE_RATE
    for offset in range(0, len(samples), chunk):
        for span in get_speech_timestamps(samples[offset:offset + chunk], options):
            mask[(offset + span["start"]) // HOP:(offset + span["end"]) // HOP + 1] = True
    return mask


def loudness_gain(samples: Samples, speech: np.ndarray, target_dbfs: float = TARGET_DBFS,
                  block_seconds: float = BLOCK_SECONDS) -> float:
    """The gain that raises quiet speech to `target_dbfs` (never lowers it: at most 1.0 means
    leave it), as Resemblyzer's preprocessing does: the encoder was trained on normalised audio
    and quiet recordings otherwise blur together. Measured on the speech (everything, when the
    VAD heard none), a block at a time."""
    block = max(HOP, int(block_seconds * SAMPLE_RATE) // HOP * HOP)
    voiced_energy = all_energy = 0.0
    voiced_count = 0
    for start in range(0, len(samples), block):
        chunk = samples[start:start + block]
        spoken = np.repeat(speech[start // HOP:(start + len(chunk)) // HOP + 1], HOP)[:len(chunk)]
        voiced_energy += float(np.sum(np.square(chunk[spoken], dtype=np.float64)))
        voiced_count += int(np.count_nonzero(spoken))
        all_energy += float(np.sum(np.square(chunk, dtype=np.float64)))
    energy, count = (voiced_energy, voiced_count) if voiced_count else (all_energy, len(samples))
    rms = float(np.sqrt(energy / count)) if count else 0.0
    if rms <= 1e-6:
        return 1.0
    return float(10 ** ((target_dbfs - 20 * np.log10(rms)) / 20))


def _mel_frames(samples: Samples, first: int, last: int, gain: float) -> np.ndarray:
    """Mel frames [first, last) of the whole recording (raised by `gain` when above 1), computed
    from only the samples they cover: two frames of real audio before `first` give its window
    the audio the whole-recording spectrogram would have seen, not the zero padding of an edge."""
    lead = min(first, 2)
    block = samples[(first - lead) * HOP:min(len(samples), (last + 2) * HOP)]
    if gain > 1:  # a block read from disk is ours to scale in place; a view of the caller's array is not
        block = np.multiply(block, np.float32(gain), out=block if block.flags.owndata else None)
    return mel_spectrogram(block, block=MEL_BLOCK_FRAMES)[lead:lead + last - first]


def embed_windows(encoder: SpeakerEncoder, samples: Samples, on_progress: Progress,
                  block_seconds: float = BLOCK_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """Centres (seconds) and embeddings of the speech windows, `block_seconds` of audio at a time
    (a recording shorter than a block is one block: the same numbers as the whole at once)."""
    speech = speech_mask(samples)
    gain = loudness_gain(samples, speech, block_seconds=block_seconds)
    frames = len(samples) // HOP + 1  # mel frames, one per mask entry
    step = round(STEP_SECONDS * SAMPLE_RATE / HOP)
    half = PARTIAL_FRAMES // 2
    centres = np.flatnonzero(speech[:frames:step]) * step
    block = max(step, round(block_seconds * SAMPLE_RATE / HOP) // step * step)  # whole steps per block
    embeddings = []
    done = 0
    for first in range(0, frames, block):
        last = min(frames, first + block)
        inside = centres[(centres >= first) & (centres < last)]
        if not len(inside):
            continue
        # A window centred on frame c reads frames [c - half, c - half + PARTIAL_FRAMES), zeros
        # beyond the recording's ends; `mel` holds those frames for every centre in the block.
        mel = np.zeros((last - first + PARTIAL_FRAMES, N_MELS), np.float32)
        lo, hi = max(0, first - half), min(frames, last - half + PARTIAL_FRAMES)
        mel[lo - first + half:hi - first + half] = _mel_frames(samples, lo, hi, gain)
        for start in range(0, len(inside), BATCH):
            batch = inside[start:start + BATCH]
            embeddings.append(encoder.embed(np.stack([mel[c - first:c - first + PARTIAL_FRAMES] for c in batch])))
            done += len(batch)
            on_progress(min(1.0, done / max(1, len(centres))) * 0.9)
    times = centres.astype(np.float64) * HOP / SAMPLE_RATE
    vectors = np.concatenate(embeddings) if embeddings else np.zeros((0, 256), np.float32)
    usable = np.linalg.norm(vectors, axis=1) > 0.5  # unit vectors; an all-zero output has no direction
    return times[usable], vectors[usable]


def _agglomerate(embeddings: np.ndarray, **kwargs: object) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    return np.asarray(AgglomerativeClustering(metric="cosine", linkage="average", **kwargs)
                      .fit_predict(embeddings))


def in_context(times: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Each window's embedding averaged with those of the windows within CONTEXT_SECONDS of it
    (unit vectors again). One 1.6 s window is a noisy sample of a voice; its neighbours are mostly
    the same speaker, so the average is a steadier one."""
    summed = np.vstack([np.zeros((1, embeddings.shape[1])), np.cumsum(embeddings, axis=0, dtype=np.float64)])
    first = np.searchsorted(times, times - CONTEXT_SECONDS - 1e-6, side="left")
    last = np.searchsorted(times, times + CONTEXT_SECONDS + 1e-6, side="right")
    means = (summed[last] - summed[first]) / (last - first)[:, None]
    return (means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-8)).astype(np.float32)


def estimate_speakers(embeddings: np.ndarray) -> int:
    """Clusters closer than AUTO_DISTANCE (cosine) merge; count those holding at least
    AUTO_MIN_SHARE and AUTO_MIN_SECONDS of the speech (small ones are one voice's moments, not
    another voice). Meant for embeddings `in_context`.

    The three numbers are the middle of the narrow band where every recording measured gets its
    count: the generated conversations of 1 to 4 voices (also as 22.05/44.1 kHz WAV, MP3 and M4A),
    the three fixtures and the 27 one-voice speech samples. A distance of 0.16 splits a voice of
    three recordings in two; 0.20 hears two similar voices of two as one."""
    if len(embeddings) < 2:
        return 1
    labels = _agglomerate(embeddings, n_clusters=None, distance_threshold=AUTO_DISTANCE)
    counts = np.bincount(labels)
    voices = (counts >= AUTO_MIN_SHARE * len(labels)) & (counts * STEP_SECONDS >= AUTO_MIN_SECONDS)
    return int(np.clip(voices.sum(), 1, MAX_SPEAKERS))


def cluster(embeddings: np.ndarray, num_speakers: int | None, max_windows: int = MAX_CLUSTER_WINDOWS) -> np.ndarray:
    """Average-linkage agglomerative clustering on cosine distance, refined by k-means steps;
    labels 0..k-1.

    Linkage needs every pairwise distance (memory grows with the square of the windows), so a
    long recording is clustered on `max_windows` evenly spaced windows and every window then
    joins the cluster whose mean voice is closest."""
    if len(embeddings) > max_windows:
        sample = np.linspace(0, len(embeddings) - 1, max_windows).round().astype(int)
        sampled = cluster(embeddings[sample], num_speakers, max_windows)
        return _refine(embeddings, [embeddings[sample][sampled == label] for label in np.unique(sampled)])
    k = num_speakers or estimate_speakers(embeddings)
    k = max(1, min(k, len(embeddings)))
    if k == 1:
        return np.zeros(len(embeddings), dtype=int)
    # Over-cluster, keep the k largest clusters as the voices, and give every window to the
    # nearest of them: a few odd windows (a cough, a laugh) can no longer take a whole cluster.
    labels = _agglomerate(embeddings, n_clusters=min(len(embeddings), k + OVERCLUSTER))
    voices = np.argsort(np.bincount(labels))[::-1][:k]
    return _refine(embeddings, [embeddings[labels == voice] for voice in voices])


def _refine(embeddings: np.ndarray, groups: list[np.ndarray], rounds: int = 10) -> np.ndarray:
    """Every window to the nearest group's mean voice, then k-means steps until none moves:
    average linkage can cut a voice in the wrong place, and the means pull it right."""
    labels = _nearest(embeddings, groups)
    for _ in range(rounds):
        moved = _nearest(embeddings, [embeddings[labels == label] for label in np.unique(labels)])
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels


def _nearest(embeddings: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    centroids = np.stack([group.mean(axis=0) for group in groups])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-8)
    return np.asarray((embeddings @ centroids.T).argmax(axis=1))


def smooth(labels: np.ndarray, width: int = 5) -> np.ndarray:
    """Majority vote over neighbouring windows: one stray window does not flip a speaker."""
    if len(labels) < width:
        return labels
    half = width // 2
    padded = np.pad(labels, half, mode="edge")
    return np.array([np.bincount(padded[i:i + width]).argmax() for i in range(len(labels))])


def diarize(samples: Samples, segments: list[Segment], *, num_speakers: int | None,
            weights_path: str | None = None, on_progress: Progress = lambda share: None) -> Diarization:
    """Segments with a speaker each (1, 2, … in order of first appearance), split where the
    speaker changes or a pause longer than PAUSE_SECONDS falls between words; and each of those
    speakers' voice."""
    if not segments:
        return Diarization(segments)
    encoder = get_encoder(weights_path)
    times, embeddings = embed_windows(encoder, samples, on_progress)
    if len(times) == 0:
        return Diarization([replace(s, speaker_id=1) for s in segments])
    labels = smooth(cluster(in_context(times, embeddings), num_speakers))
    on_progress(0.95)

    def speaker_at(seconds: float) -> int:
        return int(labels[np.abs(times - seconds).argmin()])

    pieces: list[tuple[int, Segment]] = []
    for segment in segments:
        if not segment.words:
            pieces.append((speaker_at((segment.start + segment.end) / 2), segment))
            continue
        speakers = _steady(segment.words, [speaker_at((word.start + word.end) / 2) for word in segment.words])
        run: list[Word] = []
        run_speaker = -1
        for word, speaker in zip(segment.words, speakers, strict=True):
            if run and (speaker != run_speaker or word.start - run[-1].end > PAUSE_SECONDS):
                pieces.append((run_speaker, _segment_of(run, segment)))
                run = []
            run.append(word)
            run_speaker = speaker
        pieces.append((run_speaker, _segment_of(run, segment)))

    order: dict[int, int] = {}
    for label, _ in pieces:
        order.setdefault(label, len(order) + 1)
    on_progress(1.0)
    return Diarization([replace(piece, speaker_id=order[label]) for label, piece in pieces],
                       {speaker: voice_of(embeddings[labels == label]) for label, speaker in order.items()})


def _steady(words: list[Word], speakers: list[int]) -> list[int]:
    """The speakers of one segment's words, each run of one speaker shorter than MIN_RUN_SECONDS
    given to the longer run beside it, shortest first. A window hears 1.6 s, so such a short run
    inside one of the engine's segments is more often a window hearing the turn beside it than a
    turn of its own. Measured on the generated set and the fixtures (bench/conversations.py): at
    1.5 s every word of them went to the right speaker (99.4 % without); at 2 s real short turns
    were lost."""
    speakers = list(speakers)
    while True:
        runs, first = [], 0  # (first, last) word of each run of one speaker
        for _, group in itertools.groupby(speakers):
            count = len(list(group))
            runs.append((first, first + count - 1))
            first += count
        if len(runs) < 2:
            return speakers
        lengths = [words[last].end - words[first].start for first, last in runs]
        shortest = int(np.argmin(lengths))
        if lengths[shortest] >= MIN_RUN_SECONDS:
            return speakers
        into = max((i for i in (shortest - 1, shortest + 1) if 0 <= i < len(runs)), key=lambda i: lengths[i])
        first, last = runs[shortest]
        speakers[first:last + 1] = [speakers[runs[into][0]]] * (last - first + 1)


def voice_of(embeddings: np.ndarray) -> Voice:
    """The mean direction of a speaker's window embeddings, and the speech seconds they cover."""
    mean = embeddings.mean(axis=0)
    return Voice((mean / max(float(np.linalg.norm(mean)), 1e-8)).astype(np.float32),
                 round(len(embeddings) * STEP_SECONDS, 2))


def _segment_of(words: list[Word], parent: Segment) -> Segment:
    if len(words) == len(parent.words):
        return parent
    probabilities = [w.probability for w in words if w.probability is not None]
    text = join_words(words)
    return Segment(start=words[0].start, end=words[-1].end, text=text,
                   confidence=float(np.mean(probabilities)) if probabilities else parent.confidence,
                   words=list(words), speaker_id=parent.speaker_id)
