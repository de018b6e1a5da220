"""Where a running `coaching-assistant run` serves, for the tools beside it: DATA_DIR/run.json.

`make run` takes its API port from PORT and, with the embedded Redis, a random broker port, so
the tools that talk to it cannot assume :8000 and :6379. The launcher records its pid, API URL
and broker in this file; the CLI's `transcribe`, `make status`, `make load-test` and
apps/web/test_transcription_flow.py read it when no flag or environment variable says otherwise
(flag > environment or .env > this file > default); commands that open the database
use the one recorded here when DATABASE_URL is unset. It is written atomically, readable by its
owner only (a broker URL may hold a password), removed when the launcher exits, and ignored when
its pid is dead (a launcher killed with SIGKILL leaves it behind).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from coaching_assistant.core import config

RUN_FILE = "run.json"
DEFAULT_SERVER = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class RunningService:
    pid: int
    api_url: str
    broker_url: str
    result_backend: str
    database_url: str


def write(data_dir: Path, service: RunningService) -> None:
    path = data_dir / RUN_FILE
    partial = data_dir / f".{RUN_FILE}.{os.getpid()}"
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(asdict(service), handle)
    os.replace(partial, path)


def remove(data_dir: Path) -> None:
    """Remove the file if this process wrote it (another launcher may have replaced it since)."""
    found = _load(data_dir / RUN_FILE)
    if found is not None and found.pid == os.getpid():
        (data_dir / RUN_FILE).unlink(missing_ok=True)


def read(data_dir: Path) -> RunningService | None:
    """The service recorded in `data_dir`, or None when there is none or its launcher is gone."""
    found = _load(data_dir / RUN_FILE)
    return found if found is not None and _alive(found.pid) else None


def _load(path: Path) -> RunningService | None:
    try:
        return RunningService(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def server_url() -> str:
    """The API to talk to when no --server flag names one: COACHING_SERVER, else the running
    service of this data directory, else http://127.0.0.1:8000."""
    settings = config.get_settings()
    if settings.coaching_server:
        return settings.coaching_server
    running = read(settings.data_dir)
    return running.api_url if running else DEFAULT_SERVER


def use_running_database() -> RunningService | None:
    """Point this process at the running service's database when DATABASE_URL is unset
    (environment or .env), so a command run from another directory (without the checkout's .env)
    creates its user where `make run` will look for it. Returns the service used, if any."""
    settings = config.get_settings()
    if settings.database_url:
        return None
    running = read(settings.data_dir)
    if running is None:
        return None
    os.environ["DATABASE_URL"] = running.database_url
    config.get_settings.cache_clear()
    return running


def use_running_broker() -> RunningService | None:
    """Point this process's Celery settings at the running service's broker when neither
    REDIS_URL nor CELERY_BROKER_URL is set (environment or .env). Call it before the Celery app
    is imported: the app reads its broker once. Returns the service used, if any."""
    settings = config.get_settings()
    if settings.redis_url or settings.celery_broker_url:
        return None
    running = read(settings.data_dir)
    if running is None:
        return None
    os.environ["CELERY_BROKER_URL"] = running.broker_url
    if not settings.celery_result_backend:
        os.environ["CELERY_RESULT_BACKEND"] = running.result_backend
    config.get_settings.cache_clear()
    return running
