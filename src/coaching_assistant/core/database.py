"""Engine and session lifecycle: a FastAPI dependency for requests, a context manager for tasks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from coaching_assistant.core.config import get_settings


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    url = url or settings.sqlalchemy_url
    # Room for every request thread, the key checks (api/auth.py) and the health check, so load
    # alone never makes a handler wait for a connection; past the timeout the API answers 503.
    pool = {"pool_size": 5, "max_overflow": settings.api_threads + 6,
            "pool_timeout": settings.database_pool_timeout_seconds}
    if url.startswith("sqlite"):
        db_path = url.split(":///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool = {}  # an in-memory database has one connection per thread, no queue to size
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the API read while a worker writes; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3}, **pool)


@lru_cache
def _session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


def new_session() -> Session:
    return _session_factory(get_settings().sqlalchemy_url)()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work for tasks and scripts: commit on success, roll back on error."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def rows_changed(db: Session, statement: Executable) -> int:
    """Execute an UPDATE/DELETE and return how many rows it changed (for compare-and-set)."""
    result = db.execute(statement)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def get_db() -> Iterator[Session]:
    """FastAPI dependency; routes commit explicitly where they change state."""
    session = new_session()
    try:
        yield session
    finally:
        session.close()


def migrate(url: str | None = None) -> None:
    """Apply Alembic migrations up to head (used by `run`, `migrate` and the tests)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "migrations"))
    config.set_main_option("sqlalchemy.url", (url or get_settings().sqlalchemy_url).replace("%", "%%"))
    command.upgrade(config, "head")
