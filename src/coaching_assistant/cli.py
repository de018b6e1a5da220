"""`coaching-assistant`: run the embedded stack, manage users, transcribe a file from the shell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from coaching_assistant.core.config import get_settings
from coaching_assistant.services.transcript_export import TRANSCRIPT_FORMATS

CLI_KEY_FILE = "cli-api-key"


@click.group()
def main() -> None:
    """Coaching Transcript: offline transcripts of coaching conversations."""


@main.command()
def migrate() -> None:
    """Apply database migrations (DATABASE_URL, or SQLite under ./data)."""
    from coaching_assistant.core.database import migrate as run_migrations

    run_migrations()
    click.echo(f"Database is up to date: {_redacted(get_settings().sqlalchemy_url)}")


@main.command("create-user")
@click.argument("email")
def create_user(email: str) -> None:
    """Create a user (or issue a new key for one) and print its API key as the last line."""
    from coaching_assistant.core.database import migrate as run_migrations
    from coaching_assistant.core.database import new_session
    from coaching_assistant.services.users import create_user as create

    run_migrations()
    with new_session() as db:
        try:
            user, key = create(db, email=email)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="EMAIL") from exc
    click.echo(f"User {user.email} ({user.id}). Keep this API key; it is not shown again:", err=True)
    click.echo(key)


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


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@main.command()
@click.option("--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")), show_default="8000")
@click.option("--concurrency", type=int, default=lambda: int(os.environ.get("CELERY_CONCURRENCY", "2")),
              show_default="2")
def run(host: str, port: int, concurrency: int) -> None:
    """Start the API, one worker and (when REDIS_URL is unset) an embedded Redis. Ctrl-C stops all.

    The children end with this process however it ends (see `coaching_assistant.launcher`), and
    when one of them ends, the embedded Redis included, it stops the others and exits non-zero; one
    launcher at a time may use a data directory's embedded Redis.
    """
    from coaching_assistant import launcher
    from coaching_assistant.core.celery_app import worker_command
    from coaching_assistant.core.database import migrate as run_migrations

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["DATABASE_URL"] = settings.sqlalchemy_url
    api_url = f"http://{host}:{port}"
    embedded = not (settings.redis_url or settings.celery_broker_url)
    lock = launcher.DataDirLock(settings.data_dir)
    if embedded:
        try:
            lock.acquire(api=api_url)
        except launcher.AlreadyRunning as exc:
            raise click.ClickException(str(exc)) from None
        for pid in launcher.stop_stale_redis(settings.data_dir):
            click.echo(f"Stopped a stale embedded Redis (pid {pid}) that an earlier launcher left running.",
                       err=True)
    else:
        _require_broker(settings.broker_url, "CELERY_BROKER_URL" if settings.celery_broker_url else "REDIS_URL")
    run_migrations(settings.sqlalchemy_url)
    click.echo(f"Database: {_redacted(settings.sqlalchemy_url)}")

    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    broker: launcher.EmbeddedRedis | None = None
    children: list[subprocess.Popen[bytes]] = []
    exit_code, broker_lost = 0, False
    try:
        if embedded:
            try:
                broker = launcher.EmbeddedRedis.start(settings.data_dir)
            except RuntimeError as exc:
                raise click.ClickException(str(exc)) from None
            lock.describe(api=api_url, redis=broker.url)
            env["REDIS_URL"] = broker.url
            click.echo(f"Embedded Redis: {broker.url} (pid {broker.process.pid}, data in {broker.directory})")
        else:
            click.echo(f"Redis: {_redacted(settings.broker_url)}")
        children.append(subprocess.Popen(  # the worker
            [sys.executable, "-m", *worker_command(concurrency=concurrency), "--hostname=embedded@%h", "-E"],
            env=env,
            preexec_fn=launcher.die_with_launcher(launcher.WORKER_DEATH_SIGNAL)))
        children.append(subprocess.Popen(  # the API: SIGTERM, and open requests get 10 s to finish
            [sys.executable, "-m", "uvicorn", "coaching_assistant.api.main:app", "--host", host,
             "--port", str(port), "--timeout-graceful-shutdown", "10"],
            env=env, preexec_fn=launcher.die_with_launcher()))
        click.echo(f"API: {api_url} (docs at /docs). Press Ctrl-C to stop.")
        while not stopping:
            if broker is not None and (ended := broker.exit_reason()) is not None:
                click.echo(f"The embedded Redis (pid {broker.process.pid}) exited ({ended}; its log: "
                           f"{broker.log}); stopping the rest.", err=True)
                broker_lost, exit_code = True, 1
                break
            if any(child.poll() is not None for child in children):
                click.echo("A service exited; stopping the rest.", err=True)
                exit_code = 1
                break
            time.sleep(0.2)
    finally:
        for child in reversed(children):
            if child.poll() is None:
                # without its broker the worker's warm shutdown would wait for tasks it cannot acknowledge
                lost = broker_lost and child is children[0]
                child.send_signal(launcher.WORKER_DEATH_SIGNAL if lost else signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if broker is not None:
            broker.stop()  # last: the worker acknowledges its messages to it as it stops
        lock.release()
        click.echo("Stopped.")
    sys.exit(exit_code)


def _require_broker(url: str, variable: str) -> None:
    """Refuse to start without the configured broker: the worker and API would wait on it forever."""
    from coaching_assistant.launcher import broker_unreachable

    reason = broker_unreachable(url)
    if reason is not None:
        raise click.ClickException(f"Cannot reach the broker at {_redacted(url)}: {reason}. "
                                   f"Start Redis or unset {variable} to use the embedded one.")


def local_api_key() -> str:
    """For a server on this machine's default database: a CLI user whose key is kept in data/."""
    from coaching_assistant.core.database import migrate as run_migrations
    from coaching_assistant.core.database import new_session
    from coaching_assistant.services.users import create_user as create

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
        raise click.ClickException(f"Cannot read sessions from {_redacted(get_settings().sqlalchemy_url)} "
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
@click.option("--server", default=lambda: os.environ.get("COACHING_SERVER", "http://127.0.0.1:8000"),
              show_default="http://127.0.0.1:8000")
@click.option("--format", "fmt", type=click.Choice(TRANSCRIPT_FORMATS), default="txt", show_default=True)
@click.option("--api-key", envvar="COACHING_API_KEY",
              help="API key (default: COACHING_API_KEY, else a local CLI user in ./data)")
@click.option("--language", default="en-US", show_default=True)
@click.option("--title", default=None, help="session title (default: the file name)")
def transcribe(file: Path, server: str, fmt: str, api_key: str | None, language: str,
               title: str | None) -> None:
    """Upload FILE to a running server, show progress, and print the transcript."""
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    headers = {"Authorization": f"Bearer {api_key or local_api_key()}"}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=120) as client:
        def check(response: httpx.Response) -> dict:
            if response.is_error:
                try:
                    body = response.json()
                    detail = f"{body.get('message')} ({body.get('code')})"
                except ValueError:
                    detail = response.text[:200]
                raise click.ClickException(f"{response.request.method} {response.request.url.path}: "
                                           f"HTTP {response.status_code}: {detail}")
            return response.json() if response.content else {}

        try:
            session = check(client.post("/api/v1/sessions",
                                        json={"title": title or file.name, "language": language}))
            with file.open("rb") as handle:
                check(client.post(f"/api/v1/sessions/{session['id']}/audio",
                                  files={"file": (file.name, handle)}))
            columns = (TextColumn("{task.description}"), BarColumn(),
                       TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
            with Progress(*columns, console=console) as progress:
                bar = progress.add_task("Queued", total=100)
                seen = 0
                while True:  # long-poll: the server answers when progress moves
                    status = check(client.get(f"/api/v1/sessions/{session['id']}/status",
                                              params={"wait": 20, "after": seen}))
                    seen = status["progress"]
                    progress.update(bar, completed=seen, description=status.get("message") or status["status"])
                    if status["status"] in ("completed", "failed", "cancelled"):
                        break
            if status["status"] == "failed":
                raise click.ClickException(f"Transcription failed: {status.get('message')} "
                                           f"({status.get('error_code')})")
            if status["status"] == "cancelled":
                raise click.ClickException("The transcription was cancelled.")
            response = client.get(f"/api/v1/sessions/{session['id']}/transcript", params={"format": fmt})
            if fmt == "json":
                click.echo(json.dumps(check(response), indent=2, ensure_ascii=False))
            else:
                if response.is_error:
                    check(response)
                click.echo(response.content, nl=False)  # bytes as sent: UTF-8 text, or a binary file
        except httpx.HTTPError as exc:
            raise click.ClickException(f"Cannot reach the server at {server}: {exc}") from exc


if __name__ == "__main__":
    main()
