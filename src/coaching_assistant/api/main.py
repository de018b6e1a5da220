"""The FastAPI application: `uvicorn coaching_assistant.api.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from coaching_assistant import __version__
from coaching_assistant.api import errors
from coaching_assistant.api.routers import health, metrics, sessions
from coaching_assistant.core.logging import configure_logging


def create_app() -> FastAPI:
    configure_logging()
    app = FastAPI(title="Coaching Transcript", version=__version__,
                  description="Offline, speaker-labelled transcripts of coaching conversations.")
    errors.install(app)
    app.include_router(health.router)
    app.include_router(sessions.router)
    app.include_router(metrics.router)
    return app


app = create_app()
