"""A throwaway `coaching-assistant run` and a browser signed in to it, for the scripts that look at
the web app (screenshots.py, web_bench.py).

The service runs in a fresh data directory (API, worker, embedded Redis and SQLite), so what the
scripts show and measure is no one's real data and needs no server running; Chromium is Debian's
(CHROMIUM_PATH, else chromium or chromium-browser on PATH), as in the browser tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from project_python import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "coaching_conversation.mp3"
# The launcher's own settings come from its data directory, not from this shell's servers.
FOREIGN_SETTINGS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "STORAGE_DIR",
                    "COACHING_SERVER")


@dataclass
class Service:
    url: str
    data_dir: Path
    env: dict[str, str]
    email: str = "coach@example.com"
    password: str = "a coach's long password"


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("No Chromium: apt-get install chromium, or set CHROMIUM_PATH.")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _launcher() -> str:
    return str(Path(sys.executable).parent / "coaching-assistant")


@contextmanager
def local_service(data_dir: Path) -> Iterator[Service]:
    """`coaching-assistant run` on a free port with one user who has a password; stopped at the end."""
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN_SETTINGS}
    env["DATA_DIR"] = str(data_dir)
    log = data_dir / "service.log"
    with log.open("wb") as output:
        process = subprocess.Popen([_launcher(), "run", "--host", "127.0.0.1", "--port", str(_free_port()),
                                    "--concurrency", "1"], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        service = Service(_wait_ready(process, data_dir, log), data_dir, env)
        subprocess.run([_launcher(), "create-user", service.email, "--password-stdin"], env=env, check=True,
                       input=f"{service.password}\n", text=True, capture_output=True)
        yield service
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: the launcher stops its API, worker and Redis
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(process: subprocess.Popen[bytes], data_dir: Path, log: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if "Ready:" in log.read_text(errors="replace"):
            return str(json.loads((data_dir / "run.json").read_text())["api_url"])
        time.sleep(0.2)
    process.kill()
    sys.exit(f"The service did not start:\n{log.read_text(errors='replace')[-3000:]}")


def sign_in(page: Any, service: Service) -> None:
    """Through the sign-in page, as a coach would; returns on the sessions list."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(service.email)
    page.get_by_label("Password").fill(service.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{service.url}/")


def upload_through_page(page: Any, title: str, audio: Path = FIXTURE) -> float:
    """Fill the new-session form and click Upload; returns the seconds from the click until the
    transcript page shows its segments."""
    page.goto("/sessions/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Audio file").set_input_files(str(audio))
    started = time.perf_counter()
    page.get_by_role("button", name="Upload").click()
    page.locator("[data-start]").first.wait_for(timeout=300_000)
    return time.perf_counter() - started
