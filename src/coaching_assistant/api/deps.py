"""Request dependencies: database session, settings, the authenticated user and their web session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from coaching_assistant.api.auth import MISSING_CREDENTIALS
from coaching_assistant.core.config import Settings, get_settings
from coaching_assistant.core.database import get_db
from coaching_assistant.core.errors import Unauthorized
from coaching_assistant.models import User

# Documents the scheme in OpenAPI; the key (or session cookie) is checked by api/guard.py before the
# body is read.
_bearer = HTTPBearer(auto_error=False, description="API key from `coaching-assistant create-user`")

DbSession = Annotated[Session, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def current_user(request: Request, _scheme: Annotated[object, Depends(_bearer)]) -> User:
    user = getattr(request.state, "user", None)
    if not isinstance(user, User):  # a route outside /api/v1/ asked for a user: nothing checked it
        raise Unauthorized(MISSING_CREDENTIALS)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def current_web_session(request: Request) -> str | None:
    """The session token when a signed-in browser's cookie authenticated the request, else None."""
    token = getattr(request.state, "web_session", None)
    return token if isinstance(token, str) else None


WebSessionToken = Annotated[str | None, Depends(current_web_session)]
