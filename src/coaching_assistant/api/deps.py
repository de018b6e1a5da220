"""Request dependencies: database session, settings, the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from coaching_assistant.core.config import Settings, get_settings
from coaching_assistant.core.database import get_db
from coaching_assistant.models import User
from coaching_assistant.services import users

_bearer = HTTPBearer(auto_error=False, description="API key from `coaching-assistant create-user`")

DbSession = Annotated[Session, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def current_user(db: DbSession,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, {"code": "unauthorized",
                                  "message": "Send your API key as 'Authorization: Bearer <key>'."},
                            headers={"WWW-Authenticate": "Bearer"})
    user = users.authenticate(db, api_key=credentials.credentials)
    if user is None:
        raise HTTPException(401, {"code": "invalid_api_key", "message": "The API key is not valid."},
                            headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(current_user)]
