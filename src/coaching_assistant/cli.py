"""`coaching-assistant`: run the embedded stack, manage users, transcribe a file from the shell."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from coaching_assistant.core.config import get_settings, redacted
from coaching_assistant.core.database import DatabaseUnreachable
from coaching_assistant.core.errors import CoachingError
from coaching_assistant.services.transcript_export import TRANSCRIPT_FORMATS

if TYPE_CHECKING:
    import httpx

CLI_KEY_FILE = "cli-api-key"


class _Commands(click.Group):
    """Failures a person can fix (a database that takes no connection) end in one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DatabaseUnreachable as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Coaching Transcript: offline transcripts of coaching conversations."""
    if ctx.invoked_subcommand != "run":
        from coaching_assistant.run_file import use_running_database

        use_running_database()  # the database `make run` uses, when DATABASE_URL does not say


@main.command()
def migrate() -> None:
    """Apply database migrations (DATABASE_URL, or SQLite in DATA_DIR)."""
    from coaching_assistant.core.database import migrate as run_migrations

    run_migrations()
    click.echo(f"Database is up to date: {redacted(get_settings().sqlalchemy_url)}")


@main.command()
def models() -> None:
    """List the Whisper models sessions may name, joining the base model first if this host has
    not yet (the worker does it at start too)."""
    from coaching_assistant.services.whisper_models import AUTO, model_names
    from coaching_assistant.stt.model_paths import model_directory

    settings = get_settings()
    click.echo(f"{AUTO}: tiny.en for English sessions, base for every other language "
               f"(default: WHISPER_MODEL={settings.whisper_model})")
    for name in model_names(settings)[1:]:
        try:
            click.echo(f"{name}: {model_directory(settings, name)}")
        except CoachingError as exc:
            raise click.ClickException(exc.message) from None


def password_from_stdin() -> str:
    """The first line of stdin without its line ending (so `echo pw | …` and a file both work)."""
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise click.UsageError("--password-stdin: no password on the first line of stdin.")
    return password


def password_refused(exc: CoachingError) -> click.ClickException:
    return click.BadParameter(exc.message, param_hint="password")


@main.command("create-user")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="also set the web sign-in password, read from the first line of stdin")
def create_user(email: str, password_stdin: bool) -> None:
    """Create a user (or issue a new key for one) and print its API key as the last line."""
    from coaching_assistant.core.database import migrate as run_migrations
    from coaching_assistant.core.database import new_session
    from coaching_assistant.services.users import create_user as create

    password = password_from_stdin() if password_stdin else None
    run_migrations()
    with new_session() as db:
        try:
            user, key = create(db, email=email, password=password)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="EMAIL") from exc
        except CoachingError as exc:
            raise password_refused(exc) from exc
    click.echo(f"User {user.email} ({user.id}). Keep this API key; it is not shown again:", err=True)
    click.echo(key)


@main.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
def set_password(email: str, password_stdin: bool) -> None:
    """Set or replace a user's web sign-in password (asked for twice unless --password-stdin)."""
    from coaching_assistant.core.database import migrate as run_migrations
    from coaching_assistant.core.database import new_session
    from coaching_assistant.services.users import normal_email
    from coaching_assistant.services.users import set_password as set_it

    password = (password_from_stdin() if password_stdin
                else click.prompt("Password", hide_input=True, confirmation_prompt=True))
    run_migrations()
    with new_session() as db:
        try:
            found = set_it(db, email=email, password=password)
        except CoachingError as exc:
            raise password_refused(exc) from exc
    if not found:
        raise click.ClickException(f"No user with the email {normal_email(email)!r}.")
    click.echo(f"Set the password of {normal_email(email)}.")


@main.command("revoke-key")
@click.argument("email")
def revoke_key(email: str) -> None:
    """Revoke a user's API key at once (requests with it get 401); `create-user` issues a new one."""
    from coaching_assistant.core.database import migrate as run_migrations
    from coaching_assistant.core.database import new_session
    from coaching_assistant.services.users import revoke_key as revoke

    run_migrations()
    with new_session() as db:
        if not revoke(db, email=email):
            raise click.ClickException(f"No user with the email {email.strip().lower()!r}.")
    click.echo(f"Revoked the API key of {email.strip().lower()}.")


@main.command()
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")), show_default="8000")
@click.option("--concurrency", type=int, default=lambda: int(os.environ.get("CELERY_CONCURRENCY", "2")),
              show_default="2")
def run(host: str, port: int, concurrency: int) -> None:
    """Start the API, one worker and (when REDIS_URL is unset) an embedded Redis. Ctrl-C stops all.

    Prints "Ready" and the next steps once a worker answers. The children end with this process
    however it ends, and when one of them ends, the embedded Redis included, it stops the others
    and exits non-zero (see `coaching_assistant.stack`); one launcher at a time may use a data
    directory's embedded Redis.
    """
    from coaching_assistant import stack

    sys.exit(stack.run(host=host, port=port, concurrency=concurrency))


def local_api_key() -> str:
    """For a server on this machine's database: a CLI user whose key is kept in DATA_DIR."""
    from coaching_assistant.core.database import migrate as run_migrations
    from coaching_assistant.core.database import new_session
    from coaching_assistant.run_file import use_running_database
    from coaching_assistant.services.users import create_user as create

    use_running_database()  # also for the scripts, which call this without the CLI's group
    settings = get_settings()
    key_file = settings.data_dir / CLI_KEY_FILE
    if key_file.exists():
        return key_file.read_text().strip()
    run_migrations()
    with new_session() as db:
        _, key = create(db, email="cli@localhost")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_file.touch(mode=0o600)
    key_file.write_text(key + "\n")
    click.echo(f"Created a local CLI user; its API key is in {key_file}", err=True)
    return key


@main.command()
@click.option("--peak-per-hour", type=float, default=100, show_default=True,
              help="sessions uploaded in the busiest hour")
@click.option("--safety-margin", type=float, default=1.5, show_default=True)
@click.option("--audio-minutes", type=float, default=None,
              help="plan for recordings of this length (measured real-time factor × length) instead of "
                   "the measured task time")
@click.option("--per-worker", type=click.IntRange(1), default=4, show_default=True,
              help="most concurrent tasks on one worker")
@click.option("--last", type=click.IntRange(1), default=1000, show_default=True,
              help="completed sessions to measure")
def capacity(peak_per_hour: float, safety_margin: float, audio_minutes: float | None, per_worker: int,
             last: int) -> None:
    """Workers and concurrency for a peak, from task durations measured in the database."""
    from sqlalchemy.exc import SQLAlchemyError

    from coaching_assistant.core.database import new_session
    from coaching_assistant.services.capacity import Measured, plan, recent_timings

    try:
        with new_session() as db:
            measured = Measured.of(recent_timings(db, last))
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"Cannot read sessions from {redacted(get_settings().sqlalchemy_url)} "
                                   f"(run `coaching-assistant migrate` on a new database): {reason}") from exc
    if measured is None:
        raise click.ClickException("No completed transcription to measure yet: transcribe some recordings "
                                   "(e.g. `make load-test`) and run this again.")
    rtf = measured.realtime_factor
    click.echo(f"Measured from the last {measured.sessions} completed transcriptions:")
    click.echo(f"  task time         mean {measured.mean_task_seconds:.1f} s, p95 {measured.p95_task_seconds:.1f} s")
    click.echo(f"  audio length      mean {measured.mean_audio_seconds:.1f} s")
    click.echo(f"  real-time factor  {rtf:.3f} (processing time / audio time)" if rtf else
               "  real-time factor  unknown (no audio lengths recorded)")
    if audio_minutes is not None:
        if not rtf:
            raise click.ClickException("--audio-minutes needs a measured real-time factor.")
        task_seconds, basis = rtf * audio_minutes * 60, f"{audio_minutes:g}-minute recordings × real-time factor"
    else:
        task_seconds, basis = measured.mean_task_seconds, "the measured mean task time"
    result = plan(task_seconds=task_seconds, peak_per_hour=peak_per_hour, safety_margin=safety_margin,
                  per_worker=per_worker)
    click.echo(f"Peak: {peak_per_hour:g} sessions/hour, safety margin {safety_margin:g}, "
               f"task time {task_seconds:.1f} s ({basis})")
    click.echo(f"  tasks in flight at the peak  {result.tasks_in_flight:.2f}")
    click.echo(f"  required capacity            {result.required_capacity} concurrent tasks")
    click.echo("Recommended configuration:")
    click.echo(f"  Workers: {result.workers}")
    click.echo(f"  Concurrency: {result.concurrency}")
    click.echo(f"  Total capacity: {result.total_capacity} tasks")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--server", default=None,
              help="API URL (default: COACHING_SERVER, else the running `make run` of this DATA_DIR, "
                   "else http://127.0.0.1:8000)")
@click.option("--format", "fmt", type=click.Choice(TRANSCRIPT_FORMATS), default="txt", show_default=True)
@click.option("--api-key",
              help="API key (default: COACHING_API_KEY, else a local CLI user kept in DATA_DIR)")
@click.option("--language", default="en-US", show_default=True,
              help="a BCP-47 tag (en-US, zh-TW, cmn-Hant-TW, es…) or auto to detect it")
@click.option("--model", default=None, help="Whisper model: auto, tiny.en, base… (default: the server's)")
@click.option("--title", default=None, help="session title (default: the file name)")
def transcribe(file: Path, server: str | None, fmt: str, api_key: str | None, language: str, model: str | None,
               title: str | None) -> None:
    """Upload FILE to a running server, show progress, and print the transcript."""
    import httpx

    from coaching_assistant.run_file import server_url
    from coaching_assistant.services.audio import SUPPORTED_FORMATS, extension_of

    if extension_of(file.name) not in SUPPORTED_FORMATS:  # before a session exists to be left behind
        raise click.BadParameter(f"{file.name} is not a recording the server takes; use one of: "
                                 f"{', '.join(sorted(SUPPORTED_FORMATS))}.", param_hint="FILE")
    server = (server or server_url()).rstrip("/")
    headers = {"Authorization": f"Bearer {api_key or get_settings().coaching_api_key or local_api_key()}"}
    with httpx.Client(base_url=server, headers=headers, timeout=120) as client:
        try:
            session_id = _upload(client, file, title=title or file.name, language=language, model=model)
            _follow(client, session_id)
            _print_transcript(client, session_id, fmt)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"Cannot reach the server at {server}: {exc}") from exc


def _answer(response: httpx.Response) -> dict:
    """The JSON body of a successful response; an error response becomes a one-line ClickException."""
    if response.is_error:
        try:
            body = response.json()
            detail = f"{body.get('message')} ({body.get('code')})"
        except ValueError:
            detail = response.text[:200]
        raise click.ClickException(f"{response.request.method} {response.request.url.path}: "
                                   f"HTTP {response.status_code}: {detail}")
    return response.json() if response.content else {}


def _upload(client: httpx.Client, file: Path, *, title: str, language: str, model: str | None = None) -> str:
    """Create a session and upload FILE into it. A session whose upload fails (refused, cut
    off, interrupted) is deleted again, so none is left waiting in `uploading`."""
    body = {"title": title, "language": language, **({"model": model} if model else {})}
    session_id = _answer(client.post("/api/v1/sessions", json=body))["id"]
    try:
        with file.open("rb") as handle:
            _answer(client.post(f"/api/v1/sessions/{session_id}/audio", files={"file": (file.name, handle)}))
    except BaseException:
        client.delete(f"/api/v1/sessions/{session_id}")
        raise
    return str(session_id)


FINAL_STATUSES = ("completed", "failed", "cancelled")
# Reconnections in a row, without an event in between, before the CLI gives up on the server.
MAX_RECONNECTS = 10


def _follow(client: httpx.Client, session_id: str) -> None:
    """A progress bar until the session ends; a failed or cancelled one is a ClickException."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        bar = progress.add_task("Queued", total=100)

        def show(status: dict) -> None:
            progress.update(bar, completed=status["progress"], description=status.get("message") or status["status"])

        status = _stream_status(client, session_id, show)
    if status["status"] == "failed":
        raise click.ClickException(f"Transcription failed: {status.get('message')} ({status.get('error_code')})")
    if status["status"] == "cancelled":
        raise click.ClickException("The transcription was cancelled.")


def _stream_status(client: httpx.Client, session_id: str, show: Callable[[dict], None]) -> dict:
    """Follow GET …/events to the session's final status, which it returns: `show` for each status
    event. A dropped connection, or one the server closes (it does after EVENT_STREAM_MAX_SECONDS),
    is opened again with the last event's id, after the server's `retry:` delay, so nothing is
    repeated or missed; a 429 (the user's streams are all in use) waits its Retry-After."""
    import httpx
    from httpx_sse import SSEError, connect_sse

    status: dict | None = None
    last_event_id: str | None = None
    delay, failures = 3.0, 0
    while status is None or status["status"] not in FINAL_STATUSES:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        try:
            with connect_sse(client, "GET", f"/api/v1/sessions/{session_id}/events", headers=headers,
                             timeout=httpx.Timeout(30, read=60)) as source:  # a keep-alive every 15 s
                response = source.response
                if response.status_code == 429:
                    response.read()
                    time.sleep(float(response.headers.get("Retry-After", delay)))
                    continue
                if response.status_code == 204:  # the last event seen was the final one
                    break
                if response.is_error:
                    response.read()
                    _answer(response)
                for event in source.iter_sse():
                    if event.retry is not None:
                        delay = event.retry / 1000
                    if event.event == "status":
                        status, last_event_id, failures = event.json(), event.id, 0
                        show(status)
        except (httpx.TransportError, SSEError):
            failures += 1
            if failures > MAX_RECONNECTS:
                raise
        if status is None or status["status"] not in FINAL_STATUSES:
            time.sleep(delay)
    assert status is not None  # the loop ends on a final status, or on 204 after one
    return status


def _print_transcript(client: httpx.Client, session_id: str, fmt: str) -> None:
    response = client.get(f"/api/v1/sessions/{session_id}/transcript", params={"format": fmt})
    if fmt == "json":
        click.echo(json.dumps(_answer(response), indent=2, ensure_ascii=False))
        return
    if response.is_error:
        _answer(response)
    click.echo(response.content, nl=False)  # bytes as sent: UTF-8 text, or a binary file (xlsx)


if __name__ == "__main__":
    main()
