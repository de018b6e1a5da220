"""The FastAPI application: `uvicorn coaching_assistant.api.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from coaching_assistant import __version__
from coaching_assistant.api import errors
from coaching_assistant.api.guard import ApiGuard
from coaching_assistant.api.routers import (
    api_keys,
    auth,
    health,
    metrics,
    openai_audio,
    redoc,
    sessions,
    voice_profile,
    webhooks,
)
from coaching_assistant.core.config import get_settings
from coaching_assistant.core.logging import configure_logging
from coaching_assistant.core.task_queue import enqueue_webhook_delivery
from coaching_assistant.services import transcript_export, webhook_outbox
from coaching_assistant.web import pages


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Request threads and database connections are sized together (core/database.py), so a
    # handler never waits for a connection that another waiting handler holds.
    anyio.to_thread.current_default_thread_limiter().total_tokens = get_settings().api_threads
    yield


def create_app() -> FastAPI:
    configure_logging()
    # /docs and /redoc load Swagger UI and ReDoc from the package's own copy (under
    # /static-offline-docs), not from a CDN, so they work offline; Swagger UI's validator badge
    # would fetch from validator.swagger.io, so it is off. /redoc is routers/redoc.py's (its
    # bundle, as shipped, fetches a logo from cdn.redoc.ly).
    app = FastAPIOffline(title="Coaching Transcript", version=__version__, lifespan=_lifespan, redoc_url=None,
                         description="Offline, speaker-labelled transcripts of coaching conversations.",
                         swagger_ui_parameters={"validatorUrl": None})
    errors.install(app)
    # Cancelling and importing end sessions: their webhook deliveries are queued once committed.
    webhook_outbox.send_after_commit(enqueue_webhook_delivery)
    app.add_middleware(ApiGuard, settings=get_settings())
    # Pages, scripts and JSON (a transcript's words) shrink several times; audio, 206 ranges and
    # zip-based files (xlsx, docx) are left as they are.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6,
                       exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES,
                                              transcript_export.EXPORTS["xlsx"].media_type,
                                              transcript_export.EXPORTS["docx"].media_type))
    app.include_router(health.router)
    app.include_router(sessions.router)
    app.include_router(metrics.router)
    app.include_router(auth.router)
    app.include_router(api_keys.router)
    app.include_router(voice_profile.router)
    app.include_router(webhooks.router)
    app.include_router(openai_audio.router)
    app.include_router(redoc.router)
    app.include_router(pages.router)
    app.mount("/static", pages.assets(), name="static")
    return app


app = create_app()
