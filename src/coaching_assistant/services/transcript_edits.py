"""Edits of a completed transcript: the speakers' roles and labels, a role per segment, and new text per
segment with the replaced text kept in the segment's history.

Every edit that can lose another's work is a compare-and-set: read, then write only if what was
read is still there, else read again. SELECT … FOR UPDATE is a no-op on SQLite (20 concurrent
edits of one segment kept 2 of the 20 texts), so the same UPDATE … WHERE version = <read> guards
both databases."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coaching_assistant.core.database import rows_changed
from coaching_assistant.core.errors import CoachingError, EditConflict, ErrorCode, NotFound, StaleVersion
from coaching_assistant.models import CoachingSession, TranscriptSegment
from coaching_assistant.services import roles
from coaching_assistant.services.transcript_parsing import MAX_SEGMENT_CHARS, clean
from coaching_assistant.services.transcripts import completed_segments

# A lost compare-and-set is retried on fresh data; with N concurrent writers of one row each round
# has a winner, so a writer loses at most N - 1 times in a row (jitter spreads the rounds out).
EDIT_ATTEMPTS = 40


def _role(value: object, where: str) -> str:
    role = str(value).strip().lower() if isinstance(value, str) else ""
    if role not in roles.ROLES:
        raise CoachingError(f"{where}: {value!r} is not a role; use coach, client or unknown.",
                            code=ErrorCode.INVALID_ROLE)
    return role


def _until_written(db: Session, write: Callable[[], bool], *, conflict: str) -> None:
    """Commit once `write` wins its compare-and-set; after a lost one, roll back, wait a jittered
    moment (so the losers do not collide again at once) and let `write` read again."""
    for attempt in range(EDIT_ATTEMPTS):
        if write():
            db.commit()
            return
        db.rollback()
        time.sleep(random.uniform(0, min(0.1, 0.002 * 2 ** attempt)))  # noqa: S311 - jitter, not a secret
    raise EditConflict(conflict)


def set_speaker_roles(db: Session, session: CoachingSession, assignments: dict[str, str]) -> None:
    """Roles chosen by the user; a speaker's other keys (an imported name, a label) stay."""
    chosen = _speaker_roles_chosen(session, assignments)

    def apply(current: dict[str, dict[str, Any]]) -> None:
        for speaker, role in chosen.items():
            current[speaker] = {**current.get(speaker, {}), "role": role, "confidence": 1.0, "source": "user"}

    _update_speakers(db, session, apply)


def confirm_speaker_roles(db: Session, session: CoachingSession) -> None:
    """Accept the roles as they are: every speaker's coach or client becomes the user's choice
    (a speaker still `unknown` stays so)."""
    completed_segments(session)

    def apply(current: dict[str, dict[str, Any]]) -> None:
        for entry in current.values():
            if entry.get("role") in ("coach", "client"):
                entry.update(confidence=1.0, source="user")

    _update_speakers(db, session, apply)


def set_speaker_labels(db: Session, session: CoachingSession, labels: dict[str, str | None]) -> None:
    """Names the user gave speakers ("Anna"); null or an empty name removes one, and the role's
    label (Coach, 客戶) or the imported name applies again. Stored as `label` in the speaker's
    speaker_roles entry, so it follows the speaker through a swap of roles."""
    speakers = _speakers_of(session)
    if not labels:
        raise CoachingError("speaker_labels is empty.", code=ErrorCode.INVALID_LABEL)
    chosen: dict[str, str | None] = {}
    for speaker, value in labels.items():
        _check_speaker(speaker, speakers)
        chosen[speaker] = _checked_label(speaker, value)

    def apply(current: dict[str, dict[str, Any]]) -> None:
        for speaker, text in chosen.items():
            entry = {key: value for key, value in current.get(speaker, {}).items() if key != "label"}
            current[speaker] = entry if text is None else {**entry, "label": text}

    _update_speakers(db, session, apply)


def _checked_label(speaker: str, value: str | None) -> str | None:
    """A speaker's label as one line (any run of spaces and line breaks becomes one space), or None
    for none; refuses control and format characters, "<" and ">" (a label is written into every
    cue of an export: see roles.clean_name) and labels longer than roles.MAX_NAME_CHARS."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    if any(not ch.isprintable() or ch in "<>" for ch in text):
        raise CoachingError(f"Speaker {speaker}: a label cannot contain control characters, '<' or '>'.",
                            code=ErrorCode.INVALID_LABEL)
    if len(text) > roles.MAX_NAME_CHARS:
        raise CoachingError(f"Speaker {speaker}: a label is at most {roles.MAX_NAME_CHARS} characters.",
                            code=ErrorCode.INVALID_LABEL)
    return text


def _update_speakers(db: Session, session: CoachingSession,
                     apply: Callable[[dict[str, dict[str, Any]]], None]) -> None:
    """Change the session's speaker_roles with `apply`. It is one JSON value on the session, so two
    requests that each change one speaker would overwrite each other: the write is a
    compare-and-set on speaker_roles_version, and a lost race re-applies the change to the
    speakers as they are now."""

    def write() -> bool:
        row = db.execute(select(CoachingSession.speaker_roles, CoachingSession.speaker_roles_version)
                         .where(CoachingSession.id == session.id)).first()
        if row is None:
            raise NotFound("The session was deleted.")
        current = {speaker: dict(entry) for speaker, entry in (row.speaker_roles or {}).items()}
        apply(current)
        return rows_changed(db, update(CoachingSession)
                            .where(CoachingSession.id == session.id,
                                   CoachingSession.speaker_roles_version == row.speaker_roles_version)
                            .values(speaker_roles=current, speaker_roles_version=row.speaker_roles_version + 1)
                            .execution_options(synchronize_session=False)) == 1

    _until_written(db, write, conflict="Too many edits of this transcript at once; try again.")


def _speakers_of(session: CoachingSession) -> set[str]:
    return {str(s.speaker_id) for s in completed_segments(session)}


def _check_speaker(speaker: str, speakers: set[str]) -> None:
    if speaker not in speakers:
        raise CoachingError(f"Speaker {speaker!r} does not exist in this transcript (speakers: "
                            f"{', '.join(sorted(speakers, key=int))}).", code=ErrorCode.UNKNOWN_SPEAKER)


def _speaker_roles_chosen(session: CoachingSession, assignments: dict[str, str]) -> dict[str, str]:
    """{speaker id: role} of a request, refusing an empty request, unknown speakers and roles."""
    speakers = _speakers_of(session)
    if not assignments:
        raise CoachingError("speaker_roles is empty.", code=ErrorCode.INVALID_ROLE)
    chosen: dict[str, str] = {}
    for speaker, value in assignments.items():
        _check_speaker(speaker, speakers)
        chosen[speaker] = _role(value, f"speaker {speaker}")
    return chosen


def _segment_ids(session: CoachingSession, keys: list[str]) -> dict[str, uuid.UUID]:
    """The segment id of each key of a request body, refusing malformed and repeated ids."""
    completed_segments(session)
    if not keys:
        raise CoachingError("No segment given.", code=ErrorCode.INVALID_SEGMENT)
    ids: dict[str, uuid.UUID] = {}
    for key in keys:
        try:
            ids[key] = uuid.UUID(key)
        except ValueError:
            raise CoachingError(f"{key!r} is not a segment id.", code=ErrorCode.INVALID_SEGMENT) from None
    if len(set(ids.values())) != len(ids):
        raise CoachingError("A segment is given more than once.", code=ErrorCode.INVALID_SEGMENT)
    return ids


class _Seen(NamedTuple):
    content: str
    history: list[dict[str, Any]]
    version: int


def _read(db: Session, session_id: uuid.UUID, ids: dict[str, uuid.UUID]) -> dict[uuid.UUID, _Seen]:
    """The segments as they are now, read with a plain SELECT (no ORM object to go stale)."""
    found = {row.id: _Seen(row.content, list(row.history or []), row.version) for row in db.execute(
        select(TranscriptSegment.id, TranscriptSegment.content, TranscriptSegment.history, TranscriptSegment.version)
        .where(TranscriptSegment.session_id == session_id, TranscriptSegment.id.in_(list(ids.values()))))}
    for key, segment_id in ids.items():
        if segment_id not in found:
            raise CoachingError(f"Segment {key} is not in this transcript.", code=ErrorCode.UNKNOWN_SEGMENT)
    return found


def set_segment_roles(db: Session, session: CoachingSession, assignments: dict[str, str | None]) -> None:
    """A role per segment; null removes the override (the speaker's role applies again). A role is
    one value with no history, so the last writer wins: nothing else can be lost."""
    ids = _segment_ids(session, list(assignments))
    chosen = {ids[key]: (None if value is None else _role(value, f"segment {key}"))
              for key, value in assignments.items()}
    _read(db, session.id, ids)
    for segment_id, role in chosen.items():
        db.execute(update(TranscriptSegment)
                   .where(TranscriptSegment.id == segment_id, TranscriptSegment.session_id == session.id)
                   .values(role=role).execution_options(synchronize_session=False))
    db.commit()


def set_segment_content(db: Session, session: CoachingSession, edits: dict[str, str], *, max_history: int,
                        versions: dict[str, int] | None = None) -> None:
    """New text per segment, all or nothing; the replaced text goes to the segment's history.

    Each segment is written with UPDATE … WHERE version = <the version read>; when another edit got
    there first, the whole request is read and applied again, so the text it replaces (the other
    edit's) still lands in the history. `versions` (what the client read) turns that into a 412:
    the caller wants to see the other edit before overwriting it. The history is capped at
    `max_history` entries, so edits cannot grow a segment without bound."""
    ids = _segment_ids(session, list(edits))
    expected = _versions_read(ids, versions or {})
    texts = {ids[key]: _checked_text(key, text) for key, text in edits.items()}

    def write() -> bool:
        seen = _read(db, session.id, ids)
        for segment_id, version in expected.items():
            if seen[segment_id].version != version:
                raise StaleVersion(f"Segment {segment_id} is at version {seen[segment_id].version}, not {version}: it "
                                   "was edited since you read it. Read the transcript again and re-apply your edit.")
        changes = {segment_id: text for segment_id, text in texts.items() if text != seen[segment_id].content}
        for key, segment_id in ids.items():
            if segment_id in changes and len(seen[segment_id].history) >= max_history:
                raise EditConflict(f"Segment {key} already keeps {max_history} earlier versions, the most a segment "
                                   "may keep; it cannot be edited again.", code=ErrorCode.EDIT_HISTORY_FULL)
        now = datetime.now(UTC).isoformat()
        return all(_replace(db, segment_id, seen[segment_id], text, now) for segment_id, text in changes.items())

    _until_written(db, write, conflict="Too many edits of this segment at once; try again.")


def _versions_read(ids: dict[str, uuid.UUID], versions: dict[str, int]) -> dict[uuid.UUID, int]:
    """{segment id: the version the client read}, only for segments this request edits."""
    expected: dict[uuid.UUID, int] = {}
    for key, version in versions.items():
        try:
            segment_id = uuid.UUID(key)
        except ValueError:
            raise CoachingError(f"versions: {key!r} is not a segment id.", code=ErrorCode.INVALID_SEGMENT) from None
        if segment_id not in ids.values():
            raise CoachingError(f"versions names {key!r}, which this request does not edit.",
                                code=ErrorCode.INVALID_SEGMENT)
        expected[segment_id] = version
    return expected


def _checked_text(key: str, text: object) -> str:
    """A segment's new text, stripped; refuses empty text, control characters and overlong text."""
    if not isinstance(text, str) or not text.strip():
        raise CoachingError(f"Segment {key}: the text must not be empty.", code=ErrorCode.INVALID_CONTENT)
    if clean(text) != text:
        raise CoachingError(f"Segment {key}: the text contains control characters.", code=ErrorCode.INVALID_CONTENT)
    if len(text) > MAX_SEGMENT_CHARS:
        raise CoachingError(f"Segment {key}: the text is longer than {MAX_SEGMENT_CHARS} characters.",
                            code=ErrorCode.INVALID_CONTENT)
    return text.strip()


def _replace(db: Session, segment_id: uuid.UUID, seen: _Seen, text: str, now: str) -> bool:
    """Write the new text if the segment is still the version that was read."""
    return rows_changed(db, update(TranscriptSegment)
                        .where(TranscriptSegment.id == segment_id, TranscriptSegment.version == seen.version)
                        .values(content=text, version=seen.version + 1,
                                history=[*seen.history, {"content": seen.content, "replaced_at": now}])
                        .execution_options(synchronize_session=False)) == 1
