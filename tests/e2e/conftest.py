"""Start real API and worker processes for end-to-end tests."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, base_env, free_port, make_user

SEED_WORKER = ["celery", "-A", "coaching_assistant.core.celery_app", "worker", "--loglevel=info",
               "--concurrency=2", "--pool=threads"]


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, own_group: bool = False):
        self.log = log
        self.handle = log.open("wb")
        self.popen = subprocess.Popen(args, env=env, stdout=self.handle, stderr=subprocess.STDOUT,
                                      start_new_session=own_group)

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
        session = sessions.create_session(db, user=user, title="script", language="en-US")
        temp = storage.incoming_dir(settings) / f"{uuid.uuid4().hex}.part"
        temp.write_bytes(content)
        path = storage.store(settings, temp_path=temp, session_id=session.id, extension=name.rsplit(".")[-1])
        return str(session.id), path
