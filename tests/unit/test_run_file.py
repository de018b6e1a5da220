"""DATA_DIR/run.json: how the CLI and scripts find a running `make run` (flag > env > file > default)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from coaching_assistant import run_file
from coaching_assistant.core.config import get_settings
from coaching_assistant.run_file import RunningService


def service(pid: int, port: int = 9000) -> RunningService:
    return RunningService(pid=pid, api_url=f"http://127.0.0.1:{port}", broker_url="redis://127.0.0.1:41000/0",
                          result_backend="redis://127.0.0.1:41000/0", database_url="postgresql://app@db.example/app")


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """This test's own data directory, as the settings of the process see it."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COACHING_SERVER", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()  # the test run's settings again, once monkeypatch restores DATA_DIR


def test_a_live_launchers_file_is_read_back_and_only_its_owner_sees_it(data_dir):
    run_file.write(data_dir, service(os.getpid()))
    assert run_file.read(data_dir) == service(os.getpid())
    assert stat.S_IMODE((data_dir / run_file.RUN_FILE).stat().st_mode) == 0o600  # a broker URL may hold a password
    assert [path.name for path in data_dir.iterdir()] == [run_file.RUN_FILE]  # no partial file left
    run_file.remove(data_dir)
    assert not (data_dir / run_file.RUN_FILE).exists()


def test_a_file_whose_launcher_died_is_ignored(data_dir):
    run_file.write(data_dir, service(dead_pid()))
    assert run_file.read(data_dir) is None
    assert run_file.server_url() == run_file.DEFAULT_SERVER


def test_a_launcher_removes_only_its_own_file(data_dir):
    run_file.write(data_dir, service(os.getppid()))  # another live process's
    run_file.remove(data_dir)
    assert run_file.read(data_dir) == service(os.getppid())


@pytest.mark.parametrize("content", ["", "{", '{"pid": 1}', "[]"])
def test_a_damaged_file_is_no_service(data_dir, content):
    (data_dir / run_file.RUN_FILE).write_text(content)
    assert run_file.read(data_dir) is None


def test_the_server_is_the_environments_then_the_running_ones_then_the_default(data_dir, monkeypatch):
    assert run_file.server_url() == "http://127.0.0.1:8000"
    run_file.write(data_dir, service(os.getpid(), port=9123))
    assert run_file.server_url() == "http://127.0.0.1:9123"
    monkeypatch.setenv("COACHING_SERVER", "http://api.example:8000")
    get_settings.cache_clear()
    assert run_file.server_url() == "http://api.example:8000"


def test_the_server_may_come_from_dot_env(data_dir, monkeypatch):
    (data_dir / ".env").write_text("COACHING_SERVER=http://from-dotenv.example:8000\n")
    monkeypatch.chdir(data_dir)
    get_settings.cache_clear()
    assert run_file.server_url() == "http://from-dotenv.example:8000"


def test_the_running_database_is_used_only_when_none_is_configured(data_dir, monkeypatch):
    run_file.write(data_dir, service(os.getpid()))
    assert run_file.use_running_database() is None  # the test run's DATABASE_URL says otherwise
    monkeypatch.delenv("DATABASE_URL")
    get_settings.cache_clear()
    try:
        assert run_file.use_running_database() == service(os.getpid())
        assert get_settings().database_url == "postgresql://app@db.example/app"
    finally:
        os.environ.pop("DATABASE_URL", None)  # set by use_running_database; monkeypatch restores the run's


def test_the_running_broker_is_used_only_when_none_is_configured(data_dir, monkeypatch):
    run_file.write(data_dir, service(os.getpid()))
    assert run_file.use_running_broker() is None  # the test run's REDIS_URL says otherwise

    monkeypatch.delenv("REDIS_URL")
    get_settings.cache_clear()
    try:
        assert run_file.use_running_broker() == service(os.getpid())
        assert os.environ["CELERY_BROKER_URL"] == os.environ["CELERY_RESULT_BACKEND"] == "redis://127.0.0.1:41000/0"
    finally:
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):  # set by use_running_broker
            os.environ.pop(name, None)
