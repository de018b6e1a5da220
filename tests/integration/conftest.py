"""Integration tests use the run's database and Redis, through fixtures or directly."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _backends(backends) -> None:
    """Created, migrated and emptied once, before the first integration test (tests/conftest.py)."""
