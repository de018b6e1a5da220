"""What a new user meets in the first hour: `make run` says when it is ready and what to do next,
the tools in a second terminal find it wherever they run, and mistakes end in one clear line."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, ROOT, base_env, free_port, make_user
from tests.e2e.conftest import Process, start_api, start_worker
from tests.helpers import CONVERSATION

pytestmark = pytest.mark.e2e
PYTHON3 = shutil.which("python3") or "python3"


def cli(*args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 180):
    return subprocess.run([str(BIN / "coaching-assistant"), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def fresh_user_env(home: Path, **overrides: str) -> dict[str, str]:
    """A new user's environment: no DATA_DIR, REDIS_URL, DATABASE_URL or server settings, a HOME of its own."""
    env = base_env(HOME=str(home), STT_PROVIDER="fake", **overrides)
    for name in ("DATA_DIR", "XDG_DATA_HOME", "REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL",
                 "CELERY_RESULT_BACKEND", "COACHING_SERVER", "COACHING_API_KEY", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def test_run_says_when_it_is_ready_and_the_tools_find_it_from_any_directory(tmp_path):
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    checkout.mkdir()
    elsewhere.mkdir()
    port = free_port()
    env = fresh_user_env(tmp_path / "home", PORT=str(port))
    data_dir = tmp_path / "home" / ".local" / "share" / "coaching-transcript"
    launcher = Process([str(BIN / "coaching-assistant"), "run"], env, tmp_path / "run.log", cwd=checkout)
    try:
        launcher.wait_for("Next, in another terminal:", timeout=120)
        # printed once, after the worker's own "ready." and only when health says a worker answers
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).json()["status"] == "ok"
        output = launcher.output()
        assert output.count("Ready: ") == 1 and f"Ready: http://127.0.0.1:{port}" in output
        assert re.search(r"embedded@\S+ ready\.", output).start() < output.index("Ready: ")
        for step in ("coaching-assistant transcribe ", "coaching-assistant create-user ",
                     f"http://127.0.0.1:{port}/docs"):
            assert step in output[output.index("Ready: "):], output[-2000:]
        assert (data_dir / "coaching_assistant.db").exists() and (data_dir / "run.json").exists()

        # a user created from another directory is in the database the API serves
        created = cli("create-user", "coach@example.com", env=env, cwd=elsewhere)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        listed = httpx.get(f"http://127.0.0.1:{port}/api/v1/sessions", headers={"Authorization": f"Bearer {key}"})
        assert listed.status_code == 200

        # no --server, no key: the running server from the run file, the local CLI user of its database
        transcribed = cli("transcribe", str(CONVERSATION), env=env, cwd=elsewhere)
        assert transcribed.returncode == 0, transcribed.stderr
        assert transcribed.stdout.splitlines()[:2] == ["Speaker 1 [00:00:00]", "segment 1"]

        # `make status`'s script finds the embedded Redis on its random port
        status = subprocess.run([PYTHON3, "apps/web/check_celery_status.py"], cwd=ROOT,
                                env={**env, "CHECK_TIMEOUT_SECONDS": "3"}, capture_output=True, text=True,
                                timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert f"(of `make run`, pid {launcher.popen.pid})" in status.stdout and "embedded@" in status.stdout
    finally:
        launcher.popen.send_signal(signal.SIGINT)
        code = launcher.popen.wait(timeout=60)
        launcher.handle.close()
    assert code == 0, launcher.output()[-2000:]
    assert not (data_dir / "run.json").exists()


@pytest.mark.parametrize("command", [["migrate"], ["create-user", "x@example.com"], ["run"]],
                         ids=["migrate", "create-user", "run"])
def test_an_unreachable_database_is_one_line_naming_it_without_its_password(tmp_path, command):
    port = free_port()  # nothing listens here
    env = base_env(DATABASE_URL=f"postgresql://coach_user:s3cret-pass@127.0.0.1:{port}/coaching_assistant_dev",
                   DATA_DIR=str(tmp_path / "data"), PORT=str(free_port()))
    result = cli(*command, env=env, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: Cannot connect to the database at postgresql+psycopg://***@127.0.0.1:{port}/")
    assert "Connection refused" in lines[0] and "DATABASE_URL" in lines[0]
    assert "s3cret-pass" not in result.stdout + result.stderr and "Traceback" not in result.stdout + result.stderr


def test_transcribe_leaves_no_session_behind_when_the_file_is_refused(tmp_path):
    api, url = start_api(tmp_path)
    _, key = make_user()
    text = tmp_path / "notes.txt"
    text.write_text("meeting notes, not a recording")
    disguised = tmp_path / "notes.mp3"
    disguised.write_text("meeting notes with an audio extension")
    try:
        refused = cli("transcribe", str(text), "--server", url, "--api-key", key, env=base_env())
        undecodable = cli("transcribe", str(disguised), "--server", url, "--api-key", key, env=base_env())
        sessions = httpx.get(f"{url}/api/v1/sessions", headers={"Authorization": f"Bearer {key}"}).json()
    finally:
        api.stop()
    assert refused.returncode == 2 and "notes.txt is not a recording the server takes" in refused.stderr
    assert undecodable.returncode == 1 and "undecodable_audio" in undecodable.stderr, undecodable.stderr
    assert sessions["items"] == []  # neither left an empty session in `uploading`


def test_the_documented_database_setup_works_with_the_documented_url(tmp_path, private_postgres):
    guide = (ROOT / "docs" / "development.md").read_text()
    block = re.search(r"```bash\n(sudo -u postgres psql[^`]*)```", guide).group(1)
    command = block.replace("sudo -u postgres psql", f"psql -h 127.0.0.1 -p {private_postgres.port} -U postgres")
    subprocess.run(["bash", "-c", command], check=True, capture_output=True, timeout=60)

    url = re.search(r"^DATABASE_URL=(\S+)$", (ROOT / ".env.example").read_text(), re.M).group(1)
    assert url == "postgresql://coach_user:coach_pass_dev@localhost:5432/coaching_assistant_dev"
    assert f"export DATABASE_URL={url}" in guide and f"export DATABASE_URL={url}" in (ROOT / "README.md").read_text()
    migrated = cli("migrate", env=base_env(DATABASE_URL=url.replace("localhost:5432",
                                                                    f"127.0.0.1:{private_postgres.port}")))
    assert migrated.returncode == 0, migrated.stderr


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the README's example uses curl and jq")
def test_the_readmes_long_poll_loop_waits_for_progress(tmp_path):
    loop = re.search(r"^(P=0; while :; do\n.*?^done)$", (ROOT / "README.md").read_text(), re.M | re.S).group(1)
    slow = {"STT_PROVIDER": "fake", "FAKE_STT_SECONDS_PER_CHUNK": "0.3"}
    api, url = start_api(tmp_path, **slow)
    worker = start_worker(tmp_path, **slow)
    _, key = make_user()
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            sid = http.post("/api/v1/sessions", json={"title": "long-poll"}).json()["id"]
            with CONVERSATION.open("rb") as handle:
                assert http.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("c.mp3", handle)}).status_code == 202
        polled = subprocess.run(["bash", "-c", loop], capture_output=True, text=True, timeout=120,
                                env={**base_env(), "API": f"{url}/api/v1", "SID": sid,
                                     "AUTH": f"Authorization: Bearer {key}"})
    finally:
        worker.stop()
        api.stop()
    lines = polled.stdout.strip().splitlines()
    assert polled.returncode == 0 and '"status":"completed"' in lines[-1], polled.stdout + polled.stderr
    # one answer per progress step (about a dozen), not a request loop spinning for seconds
    assert len(lines) <= 25, polled.stdout
