#!/usr/bin/env python3
"""Walk one transcription through the running service: broker, workers, a session, its progress.

    python3 apps/web/test_transcription_flow.py                 # check, list pending sessions
    python3 apps/web/test_transcription_flow.py talk.mp3        # upload a file through the API
    python3 apps/web/test_transcription_flow.py --pending       # run the newest pending session
    python3 apps/web/test_transcription_flow.py --session ID    # run that pending session

1. checks that the broker answers and at least one worker replies;
2. lists the most recent pending sessions (and whether their task is in the queue);
3. triggers a transcription: FILE is uploaded through the API (`--server`, key from
   `--api-key`, COACHING_API_KEY or the local CLI user); `--pending` / `--session` queue a
   pending session's task under its own task id, unless that task is already in the queue;
4. follows the session until it ends and prints the outcome: a line whenever its status,
   progress or message changes in the database (the record the API serves too), and a
   `task` line whenever the Celery task's state changes in the result backend. The two are
   read apart and move at different moments (the worker marks the task STARTED before it
   claims the session), so each is printed as a fact of its own, never paired into one line.

The server (3.) is --server, else COACHING_SERVER, else the `make run` running on this DATA_DIR
(its run file), else http://127.0.0.1:8000; the broker is REDIS_URL / CELERY_BROKER_URL (or
.env), else that `make run`'s broker, else redis://localhost:6379/0.

Exits 0 when the transcription completed (or, with nothing to trigger, when the checks pass);
1 otherwise, saying why. No prompts. Run with the system python3, it re-runs itself with the
project's .venv interpreter.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from project_python import ensure_project_python  # noqa: E402

FINAL = ("completed", "failed", "cancelled")


def check_service(timeout: float) -> bool:
    import redis
    from kombu.utils.url import sanitize_url

    from coaching_assistant.core.celery_app import celery_app
    from coaching_assistant.core.config import get_settings
    from coaching_assistant.core.task_queue import queue_length
    from coaching_assistant.launcher import worker_command

    settings = get_settings()
    print("1. Broker and workers")
    try:
        queued = queue_length(timeout=3)
    except redis.RedisError as exc:
        print(f"Broker unreachable at {sanitize_url(settings.broker_url)}: {exc}", file=sys.stderr)
        return False
    print(f"   broker {sanitize_url(settings.broker_url)}: reachable, {queued} message(s) queued")
    replies = celery_app.control.ping(timeout=timeout) or []
    if not replies:
        print(f"No worker answered. Start one with:\n  {' '.join(worker_command())}", file=sys.stderr)
        return False
    for reply in replies:
        print(f"   worker {next(iter(reply))}: ok")
    return True


def list_pending(limit: int) -> list[str]:
    from sqlalchemy import select

    from coaching_assistant.core.database import new_session
    from coaching_assistant.core.task_queue import queued_task_ids
    from coaching_assistant.models import CoachingSession, SessionStatus

    with new_session() as db:
        rows = db.execute(select(CoachingSession.id, CoachingSession.title, CoachingSession.updated_at,
                                 CoachingSession.transcription_job_id)
                          .where(CoachingSession.status == SessionStatus.PENDING)
                          .order_by(CoachingSession.updated_at.desc()).limit(limit)).all()
    print(f"2. Recent pending sessions ({len(rows)})")
    queued = queued_task_ids() if rows else set()
    for sid, title, updated, task_id in rows:
        where = "in the queue" if task_id in queued else "not in the queue"
        print(f"   {sid}  {updated:%Y-%m-%d %H:%M:%S}  task {task_id} ({where})  {title[:40]}")
    return [str(row[0]) for row in rows]


def requeue_pending(session_id: str) -> str:
    """Publish a pending session's task again under the task id stored on its row."""
    from coaching_assistant.core.database import new_session
    from coaching_assistant.core.task_queue import enqueue_transcription, queued_task_ids
    from coaching_assistant.models import CoachingSession, SessionStatus

    with new_session() as db:
        row = db.get(CoachingSession, uuid.UUID(session_id))
        if row is None:
            raise SystemExit(f"No session {session_id}.")
        if row.status != SessionStatus.PENDING or not row.transcription_job_id or not row.audio_uri:
            raise SystemExit(f"Session {session_id} is '{row.status}', not pending with stored audio; "
                             "use POST /api/v1/sessions/{id}/retry for failed or cancelled sessions.")
        args = (str(row.id), row.audio_uri, row.language, row.audio_filename, row.transcription_job_id)
    if args[4] in queued_task_ids():
        print(f"3. Session {session_id}: task {args[4]} is already queued; following it")
    else:
        enqueue_transcription(*args)
        print(f"3. Queued session {session_id} as task {args[4]}")
    return session_id


def upload(file: Path, server: str, api_key: str | None, language: str) -> str:
    import httpx

    from coaching_assistant.cli import local_api_key
    from coaching_assistant.core.config import get_settings

    def ok(response: httpx.Response) -> dict:
        if response.is_error:
            raise SystemExit(f"{response.request.method} {response.request.url.path}: "
                             f"HTTP {response.status_code}: {response.text[:300]}")
        return response.json()

    headers = {"Authorization": f"Bearer {api_key or get_settings().coaching_api_key or local_api_key()}"}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=120) as client:
        try:
            session = ok(client.post("/api/v1/sessions", json={"title": f"Flow test: {file.name}",
                                                               "language": language}))
            with file.open("rb") as handle:
                queued = ok(client.post(f"/api/v1/sessions/{session['id']}/audio",
                                        files={"file": (file.name, handle)}))
        except httpx.HTTPError as exc:
            raise SystemExit(f"Cannot reach the API at {server}: {exc}") from exc
    print(f"3. Uploaded {file.name}: session {queued['session_id']}, task {queued['task_id']}")
    return str(queued["session_id"])


def read_session(session_id: str) -> tuple[tuple[str, int, str | None], tuple, str | None] | None:
    """(status, progress, message), (segments, duration, error code, error message) and the task
    id of a session, read in one database session; None when it is gone."""
    from sqlalchemy.orm import joinedload

    from coaching_assistant.core.database import new_session
    from coaching_assistant.models import CoachingSession

    with new_session() as db:  # the session and its progress in one statement: of one moment
        row = db.get(CoachingSession, uuid.UUID(session_id), options=[joinedload(CoachingSession.processing_status)])
        if row is None:
            return None
        progress = row.processing_status
        return ((row.status, progress.progress if progress else 0, progress.message if progress else None),
                (row.segments_count, row.duration_seconds, row.error_code, row.error_message),
                row.transcription_job_id)


def follow(session_id: str, timeout: float) -> int:
    from coaching_assistant.core.task_queue import session_task_state

    print("4. Progress (the session in the database; its Celery task as the status endpoint reports it)")
    started = time.monotonic()
    shown_session: tuple[str, int, str | None] | None = None
    shown_task: str | None = None
    while time.monotonic() - started < timeout:
        found = read_session(session_id)
        if found is None:
            print(f"Session {session_id} was deleted.", file=sys.stderr)
            return 1
        session, outcome, job_id = found
        task = session_task_state(session[0], job_id)
        elapsed = time.monotonic() - started
        if session != shown_session:
            print(f"   {elapsed:6.1f}s  {session[1]:3d}%  {session[0]:<10}  {session[2] or ''}", flush=True)
            shown_session = session
        if task != shown_task:
            print(f"   {elapsed:6.1f}s        task {task}", flush=True)
            shown_task = task
        if session[0] in FINAL:
            break
        time.sleep(0.5)
    else:
        print(f"Still '{shown_session[0] if shown_session else '?'}' after {timeout:.0f}s; giving up following it.",
              file=sys.stderr)
        return 1
    segments, duration, code, message = outcome
    if session[0] != "completed":
        print(f"Transcription {session[0]}: {message or ''} ({code})", file=sys.stderr)
        return 1
    print(f"Completed: {segments} segments, {duration or 0:.1f}s of audio, followed for {elapsed:.1f}s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help="audio file to upload through the API")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pending", action="store_true", help="transcribe the newest pending session")
    which.add_argument("--session", help="transcribe this pending session")
    parser.add_argument("--server", help="API URL (default: COACHING_SERVER, else the running `make run`, "
                                         "else http://127.0.0.1:8000)")
    parser.add_argument("--api-key", help="API key (default: COACHING_API_KEY, else the local CLI user)")
    parser.add_argument("--language", default="en-US")
    parser.add_argument("--limit", type=int, default=10, help="pending sessions to list")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to follow the progress")
    parser.add_argument("--ping-timeout", type=float, default=float(os.environ.get("CHECK_TIMEOUT_SECONDS", "2")))
    args = parser.parse_args()
    if args.file and (args.pending or args.session):
        parser.error("give a FILE or --pending/--session, not both")
    if args.file and not args.file.is_file():
        parser.error(f"no such file: {args.file}")

    from coaching_assistant.run_file import server_url, use_running_broker

    use_running_broker()  # before the Celery app reads its broker
    if not check_service(args.ping_timeout):
        return 1
    pending = list_pending(args.limit)
    if args.file:
        session_id = upload(args.file, args.server or server_url(), args.api_key, args.language)
    elif args.session:
        session_id = requeue_pending(args.session)
    elif args.pending:
        if not pending:
            print("No pending session to transcribe.", file=sys.stderr)
            return 1
        session_id = requeue_pending(pending[0])
    else:
        print("3. Nothing triggered: pass an audio FILE, --pending or --session ID.")
        return 0
    return follow(session_id, args.timeout)


if __name__ == "__main__":
    ensure_project_python()
    sys.exit(main())
