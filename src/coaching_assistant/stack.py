"""`coaching-assistant run` (`make run`): the API, one worker and, unless REDIS_URL is set, an
embedded Redis, as one foreground command.

It prepares the data directory (one launcher per directory, stale servers stopped, migrations
applied), starts the children, and records where it serves in the run file (`run_file`) for
the CLI and scripts beside it. It prints one "Ready" line, then the next steps, only once
/api/health says `ok` (the database, the broker and a worker answer): before that an upload
would wait for a worker that is still loading its speech model. Then it watches: when any
child ends, the embedded Redis included, it stops the rest and exits non-zero; Ctrl-C or
SIGTERM stops everything and exits 0. How the children die with it: `launcher`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import httpx

from coaching_assistant import launcher, run_file
from coaching_assistant.core.config import Settings, default_data_dir, get_settings, redacted
from coaching_assistant.core.database import migrate
from coaching_assistant.run_file import RunningService

HEALTH_POLL_SECONDS = 1.0
WATCH_SECONDS = 0.2
API_GRACEFUL_SECONDS = 10
SAMPLE_RECORDING = Path("tests/fixtures/coaching_conversation.mp3")


def connectable(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server bound to `host`."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Stack:
    def __init__(self, settings: Settings, *, host: str, port: int, concurrency: int) -> None:
        self.settings, self.host, self.port, self.concurrency = settings, host, port, concurrency
        self.api_url = connectable(host, port)
        self.embedded = not (settings.redis_url or settings.celery_broker_url)
        self.lock = launcher.DataDirLock(settings.data_dir)
        self.broker: launcher.EmbeddedRedis | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.broker_lost = False

    def prepare(self) -> None:
        """Own the data directory (embedded Redis) or check the configured broker; migrate."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        if self.embedded:
            try:
                self.lock.acquire()
            except launcher.AlreadyRunning as exc:
                raise click.ClickException(str(exc)) from None
            for pid in launcher.stop_stale_redis(self.settings.data_dir):
                click.echo(f"Stopped a stale embedded Redis (pid {pid}) that an earlier launcher left running.",
                           err=True)
        else:
            variable = "CELERY_BROKER_URL" if self.settings.celery_broker_url else "REDIS_URL"
            reason = launcher.broker_unreachable(self.settings.broker_url)
            if reason is not None:
                raise click.ClickException(f"Cannot reach the broker at {redacted(self.settings.broker_url)}: "
                                           f"{reason}. Start Redis or unset {variable} to use the embedded one.")
        migrate(self.settings.sqlalchemy_url)
        click.echo(f"Database: {redacted(self.settings.sqlalchemy_url)}")

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": self.settings.sqlalchemy_url}
        broker_url, result_backend = self.settings.broker_url, self.settings.result_backend
        if self.embedded:
            try:
                self.broker = launcher.EmbeddedRedis.start(self.settings.data_dir)
            except RuntimeError as exc:
                raise click.ClickException(str(exc)) from None
            env["REDIS_URL"] = broker_url = result_backend = self.broker.url
            click.echo(f"Embedded Redis: {self.broker.url} (pid {self.broker.process.pid}, "
                       f"data in {self.broker.directory})")
        else:
            click.echo(f"Redis: {redacted(broker_url)}")
        run_file.write(self.settings.data_dir, RunningService(pid=os.getpid(), api_url=self.api_url,
                                                              broker_url=broker_url, result_backend=result_backend,
                                                              database_url=self.settings.sqlalchemy_url))
        self.worker = subprocess.Popen(
            [sys.executable, "-m", *launcher.worker_command(concurrency=self.concurrency, hostname="embedded@%h")],
            env=env,
            preexec_fn=launcher.die_with_launcher(launcher.WORKER_DEATH_SIGNAL))
        self.api = subprocess.Popen(  # SIGTERM, and open requests get API_GRACEFUL_SECONDS to finish
            [sys.executable, "-m", "uvicorn", "coaching_assistant.api.main:app", "--host", self.host,
             "--port", str(self.port), "--timeout-graceful-shutdown", str(API_GRACEFUL_SECONDS)],
            env=env, preexec_fn=launcher.die_with_launcher())
        click.echo(f"Starting the API on {self.api_url} and a worker (concurrency {self.concurrency}); "
                   "wait for the Ready line.")

    def watch(self, stop: threading.Event) -> int:
        """Until `stop` is set (0) or a child ends (1); announces readiness once on the way."""
        ready, next_check = False, 0.0
        while not stop.wait(WATCH_SECONDS):
            ended = self._ended()
            if ended is not None:
                click.echo(f"{ended}; stopping the rest.", err=True)
                return 1
            if not ready and time.monotonic() >= next_check:
                ready = self._healthy()
                if ready:
                    click.echo(self._next_steps())
                next_check = time.monotonic() + HEALTH_POLL_SECONDS
        return 0

    def _ended(self) -> str | None:
        if self.broker is not None and (reason := self.broker.exit_reason()) is not None:
            self.broker_lost = True
            return (f"The embedded Redis (pid {self.broker.process.pid}) exited ({reason}; its log: "
                    f"{self.broker.log})")
        for name, child in (("worker", self.worker), ("API", self.api)):
            if child is not None and child.poll() is not None:
                return f"The {name} (pid {child.pid}) exited with code {child.returncode}"
        return None

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/api/health", timeout=2).json().get("status") == "ok"
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    def _next_steps(self) -> str:
        cli = _command_path(Path(sys.executable).with_name("coaching-assistant"))
        if self.settings.data_dir.resolve() != default_data_dir().resolve():
            cli = f"DATA_DIR={self.settings.data_dir.resolve()} {cli}"
        recording = SAMPLE_RECORDING if SAMPLE_RECORDING.is_file() else Path("recording.m4a")
        return "\n".join([
            f"Ready: {self.api_url} (the API and a worker answer). Ctrl-C stops everything.",
            "Next, in another terminal:",
            f"  an account:              {cli} create-user you@example.com",
            f"  its password:            {cli} set-password you@example.com",
            f"  then sign in to the web app at {self.api_url}/",
            f"  or transcribe from here: {cli} transcribe {recording}",
            f"  API docs:                {self.api_url}/docs",
        ])

    def stop(self) -> None:
        """Children in reverse order of start, then the embedded Redis, which the worker
        acknowledges its messages to as it stops; then the run file and the lock."""
        children = [child for child in (self.api, self.worker) if child is not None]
        for child in children:
            if child.poll() is None:
                # without its broker the worker's warm shutdown would wait for tasks it cannot acknowledge
                lost = self.broker_lost and child is self.worker
                child.send_signal(launcher.WORKER_DEATH_SIGNAL if lost else signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.broker is not None:
            self.broker.stop()
        run_file.remove(self.settings.data_dir)
        self.lock.release()


def _command_path(path: Path) -> str:
    """`path` relative to the current directory when it is inside it (`.venv/bin/…`), else as is."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run(*, host: str, port: int, concurrency: int) -> int:
    """Run the stack in the foreground; the exit status for `coaching-assistant run`."""
    stack = Stack(get_settings(), host=host, port=port, concurrency=concurrency)
    try:
        stack.prepare()
    except KeyboardInterrupt:  # Ctrl-C while migrating or starting Redis (which dies with us)
        click.echo("Stopped.")
        return 130
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    try:
        stack.start()
        return stack.watch(stop)
    finally:
        stack.stop()
        click.echo("Stopped.")
