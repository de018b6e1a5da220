"""Signed-in browsers: server-side sessions behind a cookie.

The cookie holds a random 256-bit token; the table keeps only its SHA-256, so reading the table
signs nobody in, and signing out (or a new password) ends a session at once. A session ends after
WEB_SESSION_IDLE_MINUTES without a request, and WEB_SESSION_MAX_DAYS after sign-in whatever
happens. Its CSRF token is derived from the session token, so it needs no column of its own and
only the holder of the cookie can know it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from coaching_assistant.core.config import get_settings
from coaching_assistant.models import User, WebSession, utcnow

TOUCH_INTERVAL = timedelta(seconds=60)  # last_seen_at is written at most this often per session


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The value a cookie-authenticated write must echo in X-CSRF-Token."""
    return hmac.new(token.encode(), b"csrf", hashlib.sha256).hexdigest()


def _idle_limit() -> timedelta:
    return timedelta(minutes=get_settings().web_session_idle_minutes)


def _expired(now: datetime) -> ColumnElement[bool]:
    return or_(WebSession.expires_at <= now, WebSession.last_seen_at <= now - _idle_limit())


def start(db: Session, user: User) -> str:
    """A new session for `user`; returns the token for its cookie (shown once, never stored)."""
    now = utcnow()
    db.execute(delete(WebSession).where(_expired(now)))  # sweep the sessions nobody came back to
    token = secrets.token_urlsafe(32)
    db.add(WebSession(token_hash=hash_token(token), user_id=user.id, created_at=now, last_seen_at=now,
                      expires_at=now + timedelta(days=get_settings().web_session_max_days)))
    db.commit()
    return token


def user_for(db: Session, token: str) -> User | None:
    """The user signed in with this token, None when it is unknown or has expired; counts as
    activity for the idle expiry."""
    now = utcnow()
    session = db.scalar(select(WebSession).where(WebSession.token_hash == hash_token(token)))
    if session is None:
        return None
    if session.expires_at <= now or session.last_seen_at <= now - _idle_limit():
        db.delete(session)
        db.commit()
        return None
    if now - session.last_seen_at >= min(TOUCH_INTERVAL, _idle_limit() / 4):
        session.last_seen_at = now
        db.commit()
    return db.get(User, session.user_id)


def end(db: Session, token: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))
    db.commit()


def end_all(db: Session, user_id: uuid.UUID) -> None:
    """Sign the user out everywhere (their password changed). The caller commits."""
    db.execute(delete(WebSession).where(WebSession.user_id == user_id))
