"""The API sends work by task name: importing it loads neither the task nor the pipeline, the
speech engine or the speaker encoder (only a worker needs those)."""

from __future__ import annotations

import subprocess
import sys

WORKER_ONLY = ("coaching_assistant.tasks", "coaching_assistant.services.transcription",
               "coaching_assistant.diarization", "coaching_assistant.stt")


def modules_loaded_by(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_importing_the_api_loads_nothing_only_a_worker_needs():
    loaded = modules_loaded_by("coaching_assistant.api.main")
    assert sorted(name for name in loaded
                  if any(name == prefix or name.startswith(prefix + ".") for prefix in WORKER_ONLY)) == []
    assert "coaching_assistant.api.routers.sessions" in loaded
