"""Migrations and the seed's "Database Status Tracking" query."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.conftest import DATABASE_URL, base_env
from tests.helpers import wav_bytes

SEED_QUERY = """
SELECT 
    s.id,
    s.status,
    s.transcription_job_id,
    ps.progress,
    ps.message
FROM session s
LEFT JOIN processing_status ps ON s.id = ps.session_id
WHERE s.created_at > NOW() - INTERVAL '1 hour'
ORDER BY s.created_at DESC;
"""


@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"), reason="the seed's SQL is PostgreSQL")
def test_seed_status_query_runs_verbatim(client, user_headers, db, empty_queue):
    sid = client.post("/api/v1/sessions", json={"title": "t"}, headers=user_headers).json()["id"]
    queued = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": ("a.wav", wav_bytes())},
                         headers=user_headers).json()
    rows = {str(r.id): r for r in db.execute(text(SEED_QUERY))}
    assert rows[sid].status == "pending"
    assert rows[sid].transcription_job_id == queued["task_id"]
    assert rows[sid].progress == 0 and rows[sid].message == "Queued for transcription"


def test_migrations_apply_to_an_empty_sqlite_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = subprocess.run([sys.executable, "-m", "coaching_assistant.cli", "migrate"],
                            env=base_env(DATABASE_URL=url), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    from sqlalchemy import create_engine, inspect

    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"users", "session", "processing_status", "transcript_segment", "alembic_version"} <= tables


def test_migrations_match_the_models(tmp_path):
    """Every table and column the models declare is made by the migrations, and nothing else."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = subprocess.run([sys.executable, "-m", "coaching_assistant.cli", "migrate"],
                            env=base_env(DATABASE_URL=url), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from coaching_assistant.models import Base

    with create_engine(url).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # Only structural differences count: tables, columns, indexes and unique constraints.
    assert [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column",
                                        "add_index", "remove_index", "add_constraint", "remove_constraint")] == []
