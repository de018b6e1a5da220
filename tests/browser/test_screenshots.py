"""`make screenshots` (scripts/screenshots.py) saves each page at desktop and phone size."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from tests.conftest import ROOT, base_env

pytestmark = pytest.mark.browser


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_screenshots_of_each_page_at_each_size(chromium, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshots.py"), "--out", str(tmp_path)],
                            env=base_env(CHROMIUM_PATH=chromium), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    sizes = {path.name: png_size(path.read_bytes()) for path in tmp_path.glob("*.png")}
    assert sizes == {"docs-desktop.png": (1280, 800), "redoc-desktop.png": (1280, 800),
                     "docs-phone.png": (390, 844), "redoc-phone.png": (390, 844)}
