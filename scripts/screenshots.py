#!/usr/bin/env python3
"""Save a screenshot of each page, in English and Traditional Chinese, desktop and phone.

    python3 scripts/screenshots.py [--out docs/screenshots]      (make screenshots)

It starts its own `coaching-assistant run` in a fresh data directory (scripts/local_service.py),
uploads the test fixture through the new-session page, and saves PAGE-LANGUAGE-VIEWPORT.png for
the sign-in page, the sessions list, the new-session form, the transcript and the settings, plus
the API's /docs and /redoc (English only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from local_service import Service, chromium_path, local_service, sign_in, upload_through_page
from project_python import ROOT, ensure_project_python

LANGUAGES = ("en", "zh-TW")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def save(page: Any, path: Path, url: str) -> Path:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=path)
    return path


def shoot(service: Service, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        transcript_path = ""
        for language in LANGUAGES:
            for viewport_name, viewport in VIEWPORTS.items():
                phone = viewport_name == "phone"
                context = browser.new_context(base_url=service.url, viewport=viewport, locale=language,
                                              is_mobile=phone, has_touch=phone)
                page = context.new_page()
                saved.append(save(page, out / f"sign-in-{language}-{viewport_name}.png", "/sign-in"))
                sign_in(page, service)
                if not transcript_path:  # one upload, seen by every later screenshot
                    upload_through_page(page, "Maria, week 3: career change")
                    transcript_path = page.url.removeprefix(service.url)
                shots = [("sessions", "/"), ("new-session", "/sessions/new"), ("transcript", transcript_path),
                          ("settings", "/settings")]
                if language == "en":
                    shots += [("docs", "/docs"), ("redoc", "/redoc")]
                for name, path in shots:
                    saved.append(save(page, out / f"{name}-{language}-{viewport_name}.png", path))
                context.close()
        browser.close()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coaching-screenshots-") as data_dir, \
            local_service(Path(data_dir)) as service:
        for saved in shoot(service, args.out):
            print(saved)
    return 0


if __name__ == "__main__":
    ensure_project_python()
    sys.exit(main())
