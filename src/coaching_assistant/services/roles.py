"""Coach and client: roles from evidence, role labels, and the statistics a coach reads.

Roles are guessed from four kinds of evidence, weighted: the coach asks more open questions
("What…", "How…", "Tell me…"; services/questions.py) (0.4), asks more questions of any kind
(0.2), talks less (0.25) and opens the session (0.15). Open questions come first because they
survive a client who asks a lot of closed ones ("Is it normal…? Should I…?").

The confidence says how far the evidence can be trusted, and evidence alone can be wrong in a
way no weighting fixes: in a mentoring session the coach explains at length and the client asks,
so every piece points the wrong way. Measured on the generated set (bench/roles_accuracy.py),
the evidence gave both mentoring conversations' roles the wrong way round. So the
confidence of a guess from evidence is at most EVIDENCE_CONFIDENCE (0.75): 0.5 plus the share of
the way there that the agreeing weight, less the disagreeing weight, goes; 0.5 when the evidence
is even. Only the user (`source: user`), an imported file (`source: import`) or the coach's own
voice (`source: voice`: the speaker whose voice matches the user's voice profile, with the
confidence the match earns; services/voice_profiles.py) give more. A user's choice always wins
and is never re-guessed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coaching_assistant.services import questions

ROLES = ("coach", "client", "unknown")
LABELS = {"en": {"coach": "Coach", "client": "Client"}, "zh": {"coach": "教練", "client": "客戶"}}
_QUESTION = re.compile(r"[?？]")
_CJK_CHARACTER = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PUNCTUATION_ONLY = re.compile(r"(?<!\S)[^\w\s]+(?!\S)|[\u3000-\u303f\uff00-\uff0f\uff1a-\uff20]")
EVIDENCE_WEIGHTS = {"open_questions": 0.4, "questions": 0.2, "talks_less": 0.25, "opens": 0.15}
EVIDENCE_CONFIDENCE = 0.75  # the most a guess from evidence alone may claim (see the module's doc)
MAX_NAME_CHARS = 40  # a speaker name (imported or written into an export)


@dataclass(frozen=True)
class Line:
    """One segment as roles and statistics see it."""

    speaker_id: int
    start: float
    end: float
    text: str
    role: str = "unknown"  # the effective role (after overrides)


@dataclass(frozen=True)
class VoiceMatch:
    """The speaker whose voice is the coach's (services/voice_profiles.match), and the speakers
    whose voices are not, each with how sure that is."""

    speaker_id: int
    similarity: float
    confidence: float
    clients: Mapping[int, float] = field(default_factory=dict)  # speaker id -> confidence


def questions_in(text: str) -> int:
    """Question marks, half- or full-width (？ in Chinese)."""
    return len(_QUESTION.findall(text))


def words_in(text: str) -> int:
    """Words as a reader counts them: each Chinese or Japanese character, and each run of other
    letters between spaces (Chinese is written without spaces, so splitting alone counts a
    whole sentence as one word)."""
    return len(_CJK_CHARACTER.findall(text)) + len(_CJK_CHARACTER.sub(" ", _PUNCTUATION_ONLY.sub(" ", text)).split())


def assign_roles(lines: Sequence[Line], voice: VoiceMatch | None = None) -> dict[str, dict[str, Any]]:
    """{"<speaker id>": {"role", "confidence", "source": "auto", "evidence"}} for every speaker.
    With `voice`, its speakers are the coach and the clients (`source: voice`), whatever the
    evidence says; a speaker it could not judge (too little speech) stays `unknown`."""
    speakers = sorted({line.speaker_id for line in lines})
    talk = {s: sum(line.end - line.start for line in lines if line.speaker_id == s) for s in speakers}
    asked = {s: sum(questions_in(line.text) for line in lines if line.speaker_id == s) for s in speakers}
    opened = {s: sum(questions.count(line.text)["open"] for line in lines if line.speaker_id == s) for s in speakers}
    roles: dict[str, dict[str, Any]] = {
        str(s): {"role": "unknown", "confidence": None, "source": "auto",
                 "evidence": {"talk_seconds": round(talk[s], 2), "questions": asked[s], "open_questions": opened[s]}}
        for s in speakers}
    if voice is not None and voice.speaker_id in speakers:
        return _by_voice(roles, voice)
    if len(speakers) < 2:
        return roles
    opener = min(lines, key=lambda line: line.start).speaker_id

    def most(values: Mapping[int, float], s: int) -> bool:  # the one speaker with the most (no tie)
        return values[s] == max(values.values()) and list(values.values()).count(values[s]) == 1

    def score(s: int) -> float:
        return (EVIDENCE_WEIGHTS["open_questions"] * most(opened, s) + EVIDENCE_WEIGHTS["questions"] * most(asked, s)
                + EVIDENCE_WEIGHTS["talks_less"] * most({k: -v for k, v in talk.items()}, s)
                + EVIDENCE_WEIGHTS["opens"] * (s == opener))

    coach = max(speakers, key=lambda s: (score(s), opened[s], asked[s], -talk[s]))
    client = max((s for s in speakers if s != coach), key=lambda s: talk[s])
    agree = score(coach)
    others = [s for s in speakers if s != coach]
    disagree = 0.0
    if opened[coach] < max(opened[s] for s in others):
        disagree += EVIDENCE_WEIGHTS["open_questions"]
    if asked[coach] < max(asked[s] for s in others):
        disagree += EVIDENCE_WEIGHTS["questions"]
    if talk[coach] > min(talk[s] for s in others):
        disagree += EVIDENCE_WEIGHTS["talks_less"]
    if opener != coach:
        disagree += EVIDENCE_WEIGHTS["opens"]
    confidence = round(0.5 + (EVIDENCE_CONFIDENCE - 0.5) * max(0.0, min(1.0, agree - disagree)), 2)
    roles[str(coach)].update(role="coach", confidence=confidence)
    roles[str(client)].update(role="client", confidence=confidence)
    return roles


def _by_voice(roles: dict[str, dict[str, Any]], voice: VoiceMatch) -> dict[str, dict[str, Any]]:
    chosen = {voice.speaker_id: ("coach", voice.confidence)}
    chosen |= {speaker: ("client", confidence) for speaker, confidence in voice.clients.items()
               if speaker != voice.speaker_id}
    for speaker, (role, confidence) in chosen.items():
        if str(speaker) in roles:
            roles[str(speaker)].update(role=role, confidence=confidence, source="voice")
    roles[str(voice.speaker_id)]["evidence"]["voice_similarity"] = round(voice.similarity, 3)
    return roles


def clean_name(name: object) -> str | None:
    """A speaker name as one short line, or None when nothing is left.

    A name is written into every cue of an export (`<v Name>` in VTT, `Name:` in SRT, a TXT
    heading, an XLSX cell): a line break in it ends the cue and lets the rest of the name forge a
    cue of its own, `<` or `>` ends the voice tag, and control characters break XLSX. So any kind
    of space or line break becomes one space, other invisible characters (controls, format
    characters such as bidi overrides) and `<`/`>` go, and the name is cut to MAX_NAME_CHARS.
    Applied when a file is imported and again whenever a label is written, for names stored
    before this rule existed."""
    if not isinstance(name, str):
        return None
    kept = "".join(" " if ch.isspace() else ch for ch in name
                   if ch.isspace() or (ch.isprintable() and ch not in "<>"))
    return " ".join(kept.split())[:MAX_NAME_CHARS].rstrip() or None


def label(role: str, speaker_id: int, language: str, name: str | None = None, chosen: str | None = None) -> str:
    """The label the user chose for the speaker (PATCH speaker-labels), else Coach / Client
    (教練 / 客戶 for Chinese sessions); a speaker without a role keeps the name an imported file
    gave it, else is `Speaker N`. Names are cleaned (see clean_name) each time they are written."""
    names = LABELS["zh" if language.lower().startswith(("zh", "cmn", "yue")) else "en"]
    return clean_name(chosen) or names.get(role) or clean_name(name) or f"Speaker {speaker_id}"


def turns(lines: Sequence[Line]) -> list[list[Line]]:
    """Runs of consecutive lines with the same speaker and role."""
    runs: list[list[Line]] = []
    for line in lines:
        if runs and (runs[-1][-1].speaker_id, runs[-1][-1].role) == (line.speaker_id, line.role):
            runs[-1].append(line)
        else:
            runs.append([line])
    return runs


def statistics(lines: Sequence[Line], duration: float | None) -> dict[str, Any]:
    """Talk time and share, turns and questions per role (`questions`: question marks;
    `open_questions`, `closed_questions`: services/questions.py, which also counts "Tell me…"
    without a mark); longest monologue; average client turn; total silence (time no segment covers)."""
    total = duration if duration is not None else max((line.end for line in lines), default=0.0)
    runs = turns(lines)
    spoken = sum(line.end - line.start for line in lines)
    per_role: dict[str, dict[str, Any]] = {}
    for role in ROLES:
        mine = [line for line in lines if line.role == role]
        if not mine and role == "unknown":
            continue
        seconds = sum(line.end - line.start for line in mine)
        asked = sum((questions.count(line.text) for line in mine), Counter())
        per_role[role] = {"talk_seconds": round(seconds, 2),
                          "talk_share": round(seconds / spoken, 4) if spoken else 0.0,
                          "turns": sum(1 for run in runs if run[0].role == role),
                          "questions": sum(questions_in(line.text) for line in mine),
                          "open_questions": asked["open"], "closed_questions": asked["closed"],
                          "words": sum(words_in(line.text) for line in mine)}
    longest = max(runs, key=lambda run: run[-1].end - run[0].start, default=None)
    client_runs = [run[-1].end - run[0].start for run in runs if run[0].role == "client"]
    covered, cursor = 0.0, 0.0
    for line in sorted(lines, key=lambda item: item.start):
        start, end = max(line.start, cursor), max(line.end, cursor)
        covered += end - start
        cursor = end
    return {
        "duration_seconds": round(total, 2),
        "roles": per_role,
        "turns": len(runs),
        "longest_monologue": None if longest is None else {
            "role": longest[0].role, "speaker_id": longest[0].speaker_id,
            "start_seconds": round(longest[0].start, 2),
            "seconds": round(longest[-1].end - longest[0].start, 2)},
        "average_client_turn_seconds": round(sum(client_runs) / len(client_runs), 2) if client_runs else None,
        "silence_seconds": round(max(0.0, total - covered), 2),
    }
