"""Let a repository script run with the system `python3`, as the seed's commands do.

If `coaching_assistant` cannot be imported, re-run the script with the project's `.venv`
interpreter (made by `make dev-setup`); without one, exit with a message saying so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_project_python() -> None:
    try:
        import coaching_assistant  # noqa: F401
    except ImportError:
        venv_python = ROOT / ".venv" / "bin" / "python"
        if venv_python.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
            os.execv(str(venv_python), [str(venv_python), *sys.argv])
        sys.exit("coaching_assistant is not installed: run `make dev-setup` first.")
