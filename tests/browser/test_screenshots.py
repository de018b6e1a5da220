"""`make screenshots` (scripts/screenshots.py) and `make bench-web` (scripts/web_bench.py) run
against a service of their own and produce what they promise."""

from __future__ import annotations

import re
import struct
import subprocess
import sys

import pytest

from tests.conftest import ROOT, base_env

pytestmark = pytest.mark.browser

PAGES = ("sign-in", "sessions", "new-session", "transcript", "settings")
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_screenshots_of_each_page_in_each_language_at_each_size(chromium, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshots.py"), "--out", str(tmp_path)],
                            env=base_env(CHROMIUM_PATH=chromium), capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    sizes = {path.name: png_size(path.read_bytes()) for path in tmp_path.glob("*.png")}
    expected = {f"{page}-{language}-{viewport}.png": size for page in PAGES for language in ("en", "zh-TW")
                for viewport, size in SIZES.items()}
    expected |= {f"{page}-en-{viewport}.png": size for page in ("docs", "redoc") for viewport, size in SIZES.items()}
    assert sizes == expected


def test_the_web_bench_prints_its_table(chromium, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "web_bench.py"), "--runs", "1"],
                            env=base_env(CHROMIUM_PATH=chromium), capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("sign-in", "sessions", "transcript"):
        row = re.search(rf"^{page} +(\d+) +([\d.]+) KB +([\d.]+) KB$", result.stdout, re.MULTILINE)
        assert row, result.stdout
        assert int(row[1]) > 0 and float(row[2]) > float(row[3]) > 0  # a warm cache sends less
    assert re.search(r"Upload click to transcript shown .*: [\d.]+ s; median [\d.]+ s", result.stdout), result.stdout
