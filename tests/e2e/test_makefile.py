"""The Makefile targets the README documents, run as a user would (after `make dev-setup`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, base_env, free_port
from tests.e2e.conftest import Process

pytestmark = pytest.mark.e2e


def stop_group(process: Process) -> None:
    # make runs the command in a child; signal the whole group like Ctrl-C in a terminal would
    os.killpg(process.popen.pid, signal.SIGINT)
    process.popen.wait(timeout=60)
    process.handle.close()


def make(target: str, log, **env: str) -> Process:
    return Process(["make", "--no-print-directory", "-C", str(ROOT), target], base_env(**env), log,
                   own_group=True)


@pytest.mark.parametrize("target, env, expected", [
    # CELERY_CONCURRENCY and WORKER_NAME are honoured, and the worker registers the seed's task
    ("run-celery", {"CELERY_CONCURRENCY": "3", "WORKER_NAME": f"named{os.getpid()}"},
     ["concurrency: 3 (thread)", "coaching_assistant.tasks.transcription_tasks.transcribe_audio",
      f"named{os.getpid()}@"]),
    # the debug target keeps the default concurrency and logs at debug level
    ("run-celery-debug", {}, ["concurrency: 2 (thread)", "DEBUG/MainProcess"]),
])
def test_worker_targets(tmp_path, target, env, expected):
    worker = make(target, tmp_path / f"{target}.log", STT_PROVIDER="fake", **env)
    try:
        worker.wait_for("ready.", timeout=90)
        for text in expected:
            assert text in worker.output()
    finally:
        stop_group(worker)
    # Ctrl-C is a warm shutdown, which Celery ends with status 1: make must not call that an error
    assert "Warm shutdown" in worker.output()
    assert not re.search(r"make: \*\*\*", worker.output()), worker.output()[-2000:]


def make_dry_run(target: str, **variables: str) -> str:
    env = {key: value for key, value in base_env().items()
           if key not in ("HOST", "PORT", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    args = [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(["make", "-n", "--no-print-directory", target, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True).stdout


def test_python_starts_the_worker_the_makefile_runs():
    from coaching_assistant.launcher import worker_command

    assert " ".join(worker_command(concurrency=2)[1:]) in make_dry_run("run-celery", CELERY_CONCURRENCY="2")


def test_load_test_names_a_server_only_when_host_or_port_is_given():
    assert "--server" not in make_dry_run("load-test")  # the script finds a running `make run` itself
    assert "--server http://127.0.0.1:9000" in make_dry_run("load-test", PORT="9000")
    assert "--server http://0.0.0.0:8000" in make_dry_run("load-test", HOST="0.0.0.0")


def test_test_fast_runs_unit_and_integration_without_the_slow_ones():
    assert re.search(r"pytest .*-m \"?not slow\"? tests/unit tests/integration\s*$", make_dry_run("test-fast"), re.M)


def test_unit_tests_need_no_database_or_broker():
    closed = free_port()  # nothing listens here: neither PostgreSQL nor Redis is reachable
    env = base_env(TEST_DATABASE_URL=f"postgresql://nobody@127.0.0.1:{closed}/none",
                   TEST_REDIS_URL=f"redis://127.0.0.1:{closed}/0", PYTEST_ADDOPTS="-p no:cacheprovider")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/unit"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\b\d{2,} passed", result.stdout) and "error" not in result.stdout.splitlines()[-1]


def test_run_api_honours_port(tmp_path):
    port = free_port()
    api = make("run-api", tmp_path / "api.log", PORT=str(port))
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError(api.output()[-2000:])
        assert response.status_code == 200 and response.json()["status"] in ("ok", "degraded")  # database and broker up
    finally:
        stop_group(api)
