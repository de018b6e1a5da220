"""Engine and session lifecycle: a FastAPI dependency for requests, a context manager for tasks.

Migrations first check that the database takes a connection (`check_connection`), so a stopped
server or a wrong DATABASE_URL is one line naming the URL (password hidden) and the fix, not a
migration's hundred-line traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from coaching_assistant.core.config import get_settings, redacted

POSTGRES_CONNECT_TIMEOUT_SECONDS = 3


class DatabaseUnreachable(Exception):
    """The database at `url` refused or failed a connection; the message is one line for a person."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        fix = ("Start PostgreSQL, create the role and database (docs/development.md, step 3), "
               "or unset DATABASE_URL to use SQLite in DATA_DIR."
               if url.startswith("postgresql") else
               "Check that its directory can be written, or point DATA_DIR or DATABASE_URL elsewhere.")
        super().__init__(f"Cannot connect to the database at {redacted(url)}: {reason}. {fix}")


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    url = url or settings.sqlalchemy_url
    # Room for every request thread, the key checks (api/auth.py) and the health check, so load
    # alone never makes a handler wait for a connection; past the timeout the API answers 503.
    pool = {"pool_size": 5, "max_overflow": settings.api_threads + 6,
            "pool_timeout": settings.database_pool_timeout_seconds}
    if url.startswith("sqlite"):
        db_file = _sqlite_file(url)
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
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
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
                         **pool)


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


def check_connection(url: str) -> None:
    """Open and close one connection to `url` (creating a SQLite file's directory); raise
    DatabaseUnreachable, with the driver's first line as the reason, when that fails."""
    db_file = _sqlite_file(url)
    if db_file is not None:
        try:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnreachable(url, f"{exc.strerror}: {db_file.parent}") from exc
    connect_args = {} if url.startswith("sqlite") else {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise DatabaseUnreachable(url, str(cause).strip().splitlines()[0].rstrip(".")) from exc
    finally:
        engine.dispose()


def migrate(url: str | None = None) -> None:
    """Apply Alembic migrations up to head (used by `run`, `migrate` and the tests).

    Raises DatabaseUnreachable when the database takes no connection.
    """
    from alembic import command
    from alembic.config import Config

    url = url or get_settings().sqlalchemy_url
    check_connection(url)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")
