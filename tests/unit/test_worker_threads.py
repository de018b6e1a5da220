"""A worker process limits numpy's BLAS threads (WORKER_BLAS_THREADS), set when the worker starts."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_worker_init_limits_blas_threads(monkeypatch):
    from coaching_assistant.core.config import get_settings
    from coaching_assistant.tasks import worker_hooks

    before = threadpool_info()
    try:
        threadpool_limits(limits=2, user_api="blas")
        monkeypatch.setenv("WORKER_BLAS_THREADS", "1")
        get_settings.cache_clear()
        worker_hooks.preload_engine()
        assert blas_threads() == {1}
    finally:
        get_settings.cache_clear()
        for pool in before:
            if pool["user_api"] == "blas":
                threadpool_limits(limits=pool["num_threads"], user_api="blas")
