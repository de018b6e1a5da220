#!/usr/bin/env python3
"""Save a screenshot of each page the service serves, desktop and phone, for the README.

    python3 scripts/screenshots.py [--out docs/screenshots]      (make screenshots)

It starts its own `coaching-assistant run` (API, worker, embedded Redis and SQLite) in a fresh
data directory, so the pictures show no one's real sessions and need no server running, and
stops it at the end. Chromium is Debian's, found as the browser tests find it (CHROMIUM_PATH,
else chromium or chromium-browser on PATH). Files are named PAGE-VIEWPORT.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from project_python import ROOT, ensure_project_python

PAGES = {"docs": "/docs", "redoc": "/redoc"}
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# The launcher's own settings come from its data directory, not from this shell's servers.
FOREIGN_SETTINGS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "STORAGE_DIR",
                    "COACHING_SERVER")


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("No Chromium: apt-get install chromium, or set CHROMIUM_PATH.")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`coaching-assistant run` on a free port; returns once its API and a worker answer."""
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN_SETTINGS}
    env["DATA_DIR"] = str(data_dir)
    launcher = Path(sys.executable).parent / "coaching-assistant"
    with log.open("wb") as output:
        service = subprocess.Popen([str(launcher), "run", "--host", "127.0.0.1", "--port", str(free_port()),
                                    "--concurrency", "1"], env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and service.poll() is None:
        if "Ready:" in log.read_text(errors="replace"):
            return service, json.loads((data_dir / "run.json").read_text())["api_url"]
        time.sleep(0.2)
    service.kill()
    sys.exit(f"The service did not start:\n{log.read_text(errors='replace')[-3000:]}")


def stop_service(service: subprocess.Popen[bytes]) -> None:
    service.send_signal(signal.SIGINT)  # Ctrl-C: the launcher stops its API, worker and Redis
    try:
        service.wait(timeout=30)
    except subprocess.TimeoutExpired:
        service.kill()


def shoot(server_url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        for viewport_name, viewport in VIEWPORTS.items():
            context = browser.new_context(base_url=server_url, viewport=viewport,
                                          is_mobile=viewport_name == "phone", has_touch=viewport_name == "phone")
            page = context.new_page()
            for page_name, path in PAGES.items():
                page.goto(path, wait_until="networkidle")
                saved.append(out / f"{page_name}-{viewport_name}.png")
                page.screenshot(path=saved[-1])
            context.close()
        browser.close()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coaching-screenshots-") as data_dir:
        service, server_url = start_service(Path(data_dir), Path(data_dir) / "service.log")
        try:
            for saved in shoot(server_url, args.out):
                print(saved)
        finally:
            stop_service(service)
    return 0


if __name__ == "__main__":
    ensure_project_python()
    sys.exit(main())
