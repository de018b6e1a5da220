"""Let a repository script run with the system `python3`, as the README writes them (`python3 apps/web/…`).

When the checkout has a `.venv` (made by `make dev-setup`) and this is another interpreter,
re-run the script with the `.venv` one: a system python3 may find `coaching_assistant` (on
PYTHONPATH, say) without its dependencies. Without a `.venv`, go on if `coaching_assistant`
imports (an image that installed it), else exit with a message saying what to run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_project_python() -> None:
    venv_python = ROOT / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    try:
        import coaching_assistant  # noqa: F401
    except ImportError:
        sys.exit("coaching_assistant is not installed: run `make dev-setup` first.")
