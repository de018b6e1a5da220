"""The README's quick start and the seed's Redis setup, as a user would run them."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import time

import httpx
import psutil
import pytest
import redis
import webvtt

from tests.conftest import BIN, base_env, free_port
from tests.e2e.conftest import Process, RedisServer, start_api, start_worker
from tests.helpers import CONVERSATION

pytestmark = pytest.mark.e2e


def cli(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "coaching-assistant"), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_run_starts_everything_on_embedded_defaults_and_ctrl_c_stops_it(tmp_path):
    env = base_env(DATA_DIR=str(tmp_path / "data"), PORT=str(free_port()), STT_PROVIDER="fake")
    for name in ("REDIS_URL", "DATABASE_URL"):
        env.pop(name)
    url = f"http://127.0.0.1:{env['PORT']}"
    launcher = Process([str(BIN / "coaching-assistant"), "run"], env, tmp_path / "run.log")
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{url}/api/health", timeout=5).json()
                if health["status"] == "ok":  # a worker answers
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(launcher.output()[-3000:])
        assert "Embedded Redis: redis://127.0.0.1:" in launcher.output()
        assert (tmp_path / "data" / "coaching_assistant.db").exists()
        children = psutil.Process(launcher.popen.pid).children(recursive=True)
        assert len(children) >= 3  # redis-server, worker and API: all stopped below
        redis_url = re.search(r"Embedded Redis: (redis://\S+)", launcher.output()).group(1)
        assert redis.Redis.from_url(redis_url).ping()

        created = cli("create-user", "coach@example.com", env=env)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("ca_")

        result = cli("transcribe", str(CONVERSATION), "--server", url, "--api-key", key, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[:2] == ["Speaker 1 [00:00:00]", "segment 1"]
        assert "100%" in result.stderr  # the progress bar ran to the end

        # without a key: a local CLI user in the same database
        as_json = cli("transcribe", str(CONVERSATION), "--server", url, "--format", "json", env=env)
        assert as_json.returncode == 0, as_json.stderr
        assert '"segments"' in as_json.stdout
        as_vtt = cli("transcribe", str(CONVERSATION), "--server", url, "--format", "vtt", env=env)
        assert as_vtt.returncode == 0, as_vtt.stderr
        captions = webvtt.from_buffer(io.StringIO(as_vtt.stdout), format="vtt").captions
        assert captions[0].voice == "Speaker 1" and captions[0].text == "segment 1"
    finally:
        launcher.popen.send_signal(signal.SIGINT)
        code = launcher.popen.wait(timeout=60)
    assert code == 0, launcher.output()[-2000:]
    assert "Stopped." in launcher.output()
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()


def test_transcribe_reports_a_clear_error_when_no_server(tmp_path):
    result = cli("transcribe", str(CONVERSATION), "--server", f"http://127.0.0.1:{free_port()}",
                 "--api-key", "ca_x", env=base_env())
    assert result.returncode == 1
    assert "Cannot reach the server" in result.stderr


@pytest.fixture
def password_redis(tmp_path):
    server = RedisServer(tmp_path, password="redis_pass_dev").start()
    yield server.port, server.url
    server.kill()


def test_password_protected_redis_end_to_end(tmp_path, password_redis):
    port, url = password_redis
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).ping()
    env = {"REDIS_URL": url}
    api, api_url = start_api(tmp_path, **env)
    from tests.conftest import make_user

    _, key = make_user()
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=api_url, headers=headers, timeout=60) as client:
            sid = client.post("/api/v1/sessions", json={"title": "pw"}).json()["id"]
            with CONVERSATION.open("rb") as handle:
                assert client.post(f"/api/v1/sessions/{sid}/audio",
                                   files={"file": ("c.mp3", handle)}).status_code == 202
            # no worker yet: the work waits in the seed's queue
            if shutil.which("redis-cli"):
                out = subprocess.run(["redis-cli", "-p", str(port), "-a", "redis_pass_dev",
                                      "--no-auth-warning", "LLEN", "celery"],
                                     capture_output=True, text=True, check=True)
                assert out.stdout.strip() == "1"
            assert redis.Redis.from_url(url).llen("celery") == 1
            worker = start_worker(tmp_path, STT_PROVIDER="fake", **env)
            try:
                assert "redis://:**@127.0.0.1" in worker.output()
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    status = client.get(f"/api/v1/sessions/{sid}/status").json()
                    if status["status"] in ("completed", "failed"):
                        break
                    time.sleep(0.1)
                assert status["status"] == "completed" and status["task_state"] == "SUCCESS"
            finally:
                worker.stop()
    finally:
        api.stop()


def test_celery_concurrency_flag_is_honoured(tmp_path):
    worker = start_worker(tmp_path, args=["-A", "coaching_assistant.core.celery_app", "worker",
                                          "--loglevel=debug", "--concurrency=1", "--pool=threads",
                                          f"--hostname=debug{os.getpid()}@%h"])
    try:
        assert "concurrency: 1 (thread)" in worker.output()
    finally:
        worker.stop()
