"""Who is calling: the API key, checked before anything else happens to the request.

The check runs before the body is read (so an unauthenticated 700 MB body is refused after its
headers, not after it was buffered) and on a small thread limiter of its own with a database
session that is closed at once, so waiting for a free request thread never holds a database
connection, and a burst of requests cannot starve the key checks of the requests behind it.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers

from coaching_assistant.api.lanes import ThreadLane
from coaching_assistant.core.database import new_session
from coaching_assistant.core.errors import ErrorCode, Unauthorized
from coaching_assistant.models import User
from coaching_assistant.services import users

MISSING_KEY = "Send your API key as 'Authorization: Bearer <key>'."
key_checks = ThreadLane(4)


def bearer_key(headers: Headers) -> str | None:
    scheme, _, key = headers.get("authorization", "").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def _lookup(api_key: str) -> User | None:
    with new_session() as db:
        return users.authenticate(db, api_key=api_key)


async def authenticate(headers: Headers) -> User:
    """The user the request's Bearer key belongs to; Unauthorized otherwise."""
    api_key = bearer_key(headers)
    if api_key is None:
        raise Unauthorized(MISSING_KEY)
    user = await key_checks.run(_lookup, api_key)
    if user is None:
        raise Unauthorized("The API key is not valid.", code=ErrorCode.INVALID_API_KEY)
    return user


async def user_from_headers(headers: Headers) -> User | None:
    """The caller when it sent a valid key, else None (never raises: for optional detail)."""
    if bearer_key(headers) is None:
        return None
    try:
        return await authenticate(headers)
    except (Unauthorized, SQLAlchemyError):
        return None
