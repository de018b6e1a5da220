#!/usr/bin/env python3
"""What the web app costs a coach: bytes on the first load of its pages, and the time from the
Upload click to the transcript on screen.

    python3 scripts/web_bench.py [--runs 3]      (make bench-web)

It starts its own `coaching-assistant run` (scripts/local_service.py) with one worker, and drives
Debian's Chromium. Bytes are what crossed the wire (request and response headers, bodies as sent,
per Chromium) until the network is idle, for a browser with an empty cache (signed in through the
API, so no page was loaded before) and again with a warm one. Not counted: the recording, which
the transcript page's player streams as it plays. The upload is the test fixture (46 s, 2
speakers) through the new-session page, each run a new session.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from local_service import Service, chromium_path, local_service, sign_in, upload_through_page
from project_python import ensure_project_python


def page_bytes(page: Any, path: str) -> dict[str, int]:
    """Bytes of every request the page made while loading `path`, until the network went quiet."""
    finished: list[Any] = []

    def record(request: Any) -> None:
        finished.append(request)

    page.on("requestfinished", record)
    page.goto(path, wait_until="networkidle")
    page.remove_listener("requestfinished", record)
    total = {"requests": 0, "bytes": 0}
    for request in finished:
        sizes = request.sizes()
        total["requests"] += 1
        total["bytes"] += sizes["requestHeadersSize"] + sizes["responseHeadersSize"] + sizes["responseBodySize"]
    return total


def measure(service: Service, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        context = browser.new_context(base_url=service.url, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        sign_in(page, service)
        times = [upload_through_page(page, f"Bench run {run + 1}") for run in range(runs)]
        transcript_path = page.url.removeprefix(service.url)
        context.close()

        rows = []
        for name, path in (("sign-in", "/sign-in"), ("sessions", "/"), ("transcript", transcript_path)):
            context = browser.new_context(base_url=service.url, viewport={"width": 1280, "height": 800})
            if name != "sign-in":  # the cookie, without loading a page into the cache
                context.request.post("/api/v1/auth/sign-in", data={"email": service.email,
                                                                   "password": service.password})
            page = context.new_page()
            cold, warm = page_bytes(page, path), page_bytes(page, path)
            rows.append((name, cold, warm))
            context.close()
        browser.close()

    print(f"{'page':<12} {'requests':>8} {'first load':>12} {'warm cache':>12}")
    for name, cold, warm in rows:
        print(f"{name:<12} {cold['requests']:>8} {cold['bytes'] / 1024:>9.1f} KB {warm['bytes'] / 1024:>9.1f} KB")
    print()
    print(f"Upload click to transcript shown (46 s fixture, {runs} runs): "
          + ", ".join(f"{seconds:.1f} s" for seconds in times) + f"; median {statistics.median(times):.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coaching-web-bench-") as data_dir, \
            local_service(Path(data_dir)) as service:
        measure(service, args.runs)
    return 0


if __name__ == "__main__":
    ensure_project_python()
    sys.exit(main())
