"""docker-compose.yml, the Dockerfiles and the docker Make targets, checked without a Docker engine.

The compose file is parsed, names real modules and files, runs the Makefile's commands, and its
services' commands are run here on the host: Redis with the compose flags and health check, then
the API, a worker and Flower, which transcribe a real upload together.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from coaching_assistant.services.users import create_user
from tests.conftest import BIN, base_env, free_port
from tests.e2e.conftest import Process, db_session
from tests.helpers import CONVERSATION

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = [ROOT / "apps/worker/Dockerfile", ROOT / "apps/worker/Dockerfile.cloudrun",
               ROOT / "apps/api-server/Dockerfile"]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's own interpolation: ${VAR:-default}, ${VAR}, and $$ for a literal $."""
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(3)
        return env.get(name) or (default if default is not None else "")
    return re.sub(r"\$\$|\$\{(\w+)(:-([^}]*))?\}", one, value)


# The Makefile's worker targets wrap the worker in CTRL_C_IS_A_STOP: `trap …; <command> || { … }`.
CTRL_C_GUARD = re.compile(r"trap '\w+=1' INT; (.*) \|\| \{.*\}$")


def make_commands(*targets: str, **variables: str) -> list[list[str]]:
    """The commands `make` would run for the targets, with the venv prefix and Ctrl-C guard removed."""
    args = [f"{name}={value}" for name, value in variables.items()]
    env = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    printed = subprocess.run(["make", "-n", "--no-print-directory", *targets, *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout
    lines = [line for line in printed.splitlines() if line and not re.match(r"(test -x|touch|\S+/pip )", line)]
    lines = [guarded.group(1) if (guarded := CTRL_C_GUARD.match(line)) else line for line in lines]
    return [[word.removeprefix(".venv/bin/") for word in shlex.split(line)] for line in lines]


def test_compose_declares_the_stack_with_real_modules_and_files():
    services = compose()["services"]
    assert set(services) == {"redis", "postgres", "api", "worker", "flower"}

    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    assert "--requirepass" in redis["command"] and "/data" in redis["volumes"][0]
    assert "redis-cli" in redis["healthcheck"]["test"][-1] and redis["environment"]["REDISCLI_AUTH"]
    postgres = services["postgres"]
    assert postgres["volumes"] and "pg_isready" in postgres["healthcheck"]["test"][-1]

    for name in ("api", "worker", "flower"):
        service = services[name]
        assert (ROOT / service["build"]["dockerfile"]).is_file()
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert interpolate(service["environment"]["REDIS_URL"], {}).startswith("redis://:redis_pass_dev@redis:")
        command = " ".join(service["command"])
        for module in re.findall(r"-A (\S+)", command):
            assert hasattr(importlib.import_module(module), "app"), module
        for module, attribute in re.findall(r"uvicorn (\S+):(\w+)", command):
            assert hasattr(importlib.import_module(module), attribute)
    assert set(compose()["volumes"]) == {"redis-data", "postgres-data", "audio"}


def test_compose_uses_the_database_of_env_example():
    url = re.search(r"^DATABASE_URL=(\S+)$", (ROOT / ".env.example").read_text(), re.M).group(1)
    app_env, postgres = compose()["x-app"]["environment"], compose()["services"]["postgres"]["environment"]
    assert interpolate(app_env["DATABASE_URL"], {}) == url.replace("@localhost:", "@postgres:")
    user, password, database = re.match(r"postgresql://(\w+):(\w+)@[^/]+/(\w+)$", url).groups()
    assert (postgres["POSTGRES_USER"], interpolate(postgres["POSTGRES_PASSWORD"], {}), postgres["POSTGRES_DB"]) == \
        (user, password, database)


def test_compose_runs_the_makefiles_commands():
    services = compose()["services"]
    worker, flower = make_commands("run-celery", "run-flower")[-2:]
    assert interpolate(" ".join(services["worker"]["command"]), {}).split() == worker
    assert interpolate(" ".join(services["flower"]["command"]), {}).split() == flower

    api = services["api"]
    shell = interpolate(api["command"][-1], {})
    expanded = shell.replace('"$HOST"', api["environment"]["HOST"]).replace('"$PORT"', api["environment"]["PORT"])
    migrate, serve = (part.replace("exec ", "").split() for part in expanded.split(" && "))
    assert [migrate, serve] == make_commands("run-api", HOST="0.0.0.0", PORT="8000")[-2:]


def test_dockerfiles_lint_clean_and_copy_files_that_exist():
    lint = subprocess.run([str(BIN / "hadolint"), "--failure-threshold", "warning", *map(str, DOCKERFILES)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for path in DOCKERFILES:
        parser = parsed(path)
        assert parser.baseimage.startswith("python:3.11")
        for instruction in parser.structure:
            if instruction["instruction"] == "COPY":
                *sources, _ = instruction["value"].split()
                assert all((ROOT / source).exists() for source in sources), (path, sources)
        assert any(i["instruction"] == "USER" for i in parser.structure), f"{path} runs as root"

    services = compose()["services"]
    worker_cmd = " ".join(eval_cmd(ROOT / "apps/worker/Dockerfile")[-1].split())
    assert interpolate(worker_cmd, {"CELERY_CONCURRENCY": "3"}) == "exec " + \
        interpolate(" ".join(services["worker"]["command"]), {"CELERY_CONCURRENCY": "3"})
    assert eval_cmd(ROOT / "apps/api-server/Dockerfile")[-1].replace("$HOST", "$$HOST").replace("$PORT", "$$PORT") \
        == services["api"]["command"][-1]
    cloudrun = eval_cmd(ROOT / "apps/worker/Dockerfile.cloudrun")
    assert cloudrun == ["python", "apps/worker/health_server.py"] and (ROOT / cloudrun[1]).is_file()


def parsed(path: Path) -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))


def eval_cmd(path: Path) -> list[str]:
    """The exec-form CMD of a Dockerfile (its last instruction)."""
    last = parsed(path).structure[-1]
    assert last["instruction"] == "CMD"
    return json.loads(last["value"])


def test_docker_make_targets_build_the_images(tmp_path):
    """No engine here: a `docker` on PATH records what the targets run, and checks the files."""
    record = tmp_path / "calls"
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {record}\n'
                    'while [ $# -gt 0 ]; do [ "$1" = -f ] && { test -f "$2" || exit 3; }; shift; done\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "WORKER_IMAGE": "ct-worker",
           "API_IMAGE": "ct-api"}
    subprocess.run(["make", "docker-worker", "docker-worker-cloudrun", "docker-api"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    assert record.read_text().splitlines() == ["build -f apps/worker/Dockerfile -t ct-worker .",
                                               "build -f apps/worker/Dockerfile.cloudrun -t ct-worker-cloudrun .",
                                               "build -f apps/api-server/Dockerfile -t ct-api ."]


def test_compose_services_run_on_the_host(tmp_path, private_database):
    services = compose()["services"]
    redis_port, api_port, flower_port = free_port(), free_port(), free_port()

    # Redis with the compose command (on a free port, in a scratch directory), then its health check.
    redis_service = services["redis"]
    redis_args = [interpolate(arg, {}) for arg in redis_service["command"]]
    redis = Process([*redis_args, "--port", str(redis_port), "--dir", str(tmp_path), "--save", ""],
                    dict(os.environ), tmp_path / "redis.log")
    started: list[Process] = [redis]
    try:
        redis.wait_for("Ready to accept connections", timeout=30)
        check = redis_service["healthcheck"]["test"][-1].replace("redis-cli", f"redis-cli -p {redis_port}")
        auth = interpolate(redis_service["environment"]["REDISCLI_AUTH"], {})
        assert subprocess.run(["sh", "-c", check], env={**os.environ, "REDISCLI_AUTH": auth}).returncode == 0
        assert subprocess.run(["sh", "-c", check], env={**os.environ, "REDISCLI_AUTH": "wrong"}).returncode != 0

        def service_env(name: str, **extra: str) -> dict[str, str]:
            env = {key: interpolate(str(value), {}) for key, value in services[name]["environment"].items()}
            env["REDIS_URL"] = env["REDIS_URL"].replace("@redis:6379", f"@127.0.0.1:{redis_port}")
            env.update(DATABASE_URL=private_database, DATA_DIR=str(tmp_path / "data"), **extra)
            env["PATH"] = f"{BIN}:{os.environ['PATH']}"
            return base_env(**env)

        def command(name: str, **values: str) -> list[str]:
            return [interpolate(arg, values) for arg in services[name]["command"]]

        api = Process(command("api"), service_env("api", HOST="127.0.0.1", PORT=str(api_port)),
                      tmp_path / "api.log")
        worker = Process(command("worker"), service_env("worker"), tmp_path / "worker.log")
        flower_args = [arg.replace("--port=5555", f"--port={flower_port}") for arg in command("flower")]
        flower = Process(flower_args, service_env("flower"), tmp_path / "flower.log")
        started += [api, worker, flower]
        worker.wait_for("ready.", timeout=120)
        assert "task events: ON" in worker.output()

        url = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, api.output()[-3000:]
            time.sleep(0.3)
        with db_session(private_database) as db:  # the API migrated this database itself
            _, key = create_user(db, email="compose@example.com")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
            sid = client.post("/api/v1/sessions", json={"title": "compose"}).json()["id"]
            with CONVERSATION.open("rb") as handle:
                assert client.post(f"/api/v1/sessions/{sid}/audio",
                                   files={"file": ("c.mp3", handle)}).status_code == 202
            status, deadline = {"status": "pending", "progress": 0}, time.monotonic() + 180
            while status["status"] not in ("completed", "failed"):
                assert time.monotonic() < deadline, status
                status = client.get(f"/api/v1/sessions/{sid}/status",
                                    params={"wait": 30, "after": status["progress"]}).json()
            assert status["status"] == "completed", status
            assert client.get(f"/api/v1/sessions/{sid}/transcript").json()["segments"]

        user, password = interpolate(services["flower"]["environment"]["FLOWER_BASIC_AUTH"], {}).split(":")
        flower_url = f"http://127.0.0.1:{flower_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                workers = httpx.get(f"{flower_url}/api/workers", params={"refresh": "1"}, auth=(user, password),
                                    timeout=30)
                if workers.status_code == 200 and workers.json():
                    assert any("transcribe_audio" in " ".join(info.get("registered", []))
                               for info in workers.json().values()), workers.json()
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, flower.output()[-3000:]
            time.sleep(0.5)
        assert httpx.get(f"{flower_url}/api/workers", timeout=10).status_code == 401
    finally:
        for process in reversed(started):
            process.stop()
