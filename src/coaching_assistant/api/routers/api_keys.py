"""/api/v1/me/api-key: the signed-in user issues or revokes their own API key (the settings page).

Thin adapters over services.users. Like every write, these take the Bearer key or the session
cookie with its X-CSRF-Token (api/guard.py). A new key is in the response body once, so the
response must not be kept by a browser or proxy cache.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from coaching_assistant.api.deps import CurrentUser, DbSession
from coaching_assistant.api.schemas import ApiKeyOut
from coaching_assistant.services import users

router = APIRouter(prefix="/api/v1/me", tags=["sign-in"])


@router.post("/api-key", response_model=ApiKeyOut)
def issue_api_key(user: CurrentUser, db: DbSession, response: Response) -> ApiKeyOut:
    """Issue a new API key, shown only in this response; the previous key stops working at once."""
    api_key = users.issue_key(db, user.id)
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyOut(api_key=api_key, prefix=users.key_prefix(api_key))


@router.delete("/api-key", status_code=204)
def revoke_api_key(user: CurrentUser, db: DbSession) -> Response:
    """Revoke the API key at once (204 also when there was none); signing in still works."""
    users.revoke_user_key(db, user.id)
    return Response(status_code=204)
