"""Who is calling: an API key, or the cookie of a signed-in browser, checked before anything else
happens to the request.

The check runs before the body is read (so an unauthenticated 700 MB body is refused after its
headers, not after it was buffered) and on a small thread limiter of its own with a database
session that is closed at once, so waiting for a free request thread never holds a database
connection, and a burst of requests cannot starve the checks of the requests behind it. A Bearer
key wins over a cookie sent with it: a request that carries one was not forged by another site.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from coaching_assistant.api.lanes import ThreadLane
from coaching_assistant.core.database import new_session
from coaching_assistant.core.errors import ErrorCode, Unauthorized
from coaching_assistant.models import User
from coaching_assistant.services import users, web_sessions

SESSION_COOKIE = "ca_session"
MISSING_CREDENTIALS = "Sign in, or send your API key as 'Authorization: Bearer <key>'."
key_checks = ThreadLane(4)


@dataclass(frozen=True)
class Caller:
    user: User
    web_session: str | None  # the session token when the cookie signed the request in; None for a key


def bearer_key(headers: Headers) -> str | None:
    scheme, _, key = headers.get("authorization", "").partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def session_cookie(headers: Headers) -> str | None:
    return cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE) or None


def _user_for_key(api_key: str) -> User | None:
    with new_session() as db:
        return users.authenticate(db, api_key=api_key)


def _user_for_session(token: str) -> User | None:
    with new_session() as db:
        return web_sessions.user_for(db, token)


async def authenticate(headers: Headers) -> Caller:
    """The user the request's Bearer key or session cookie belongs to; Unauthorized otherwise."""
    api_key = bearer_key(headers)
    if api_key is not None:
        user = await key_checks.run(_user_for_key, api_key)
        if user is None:
            raise Unauthorized("The API key is not valid.", code=ErrorCode.INVALID_API_KEY)
        return Caller(user, None)
    token = session_cookie(headers)
    if token is None:
        raise Unauthorized(MISSING_CREDENTIALS)
    user = await key_checks.run(_user_for_session, token)
    if user is None:
        raise Unauthorized("Your sign-in has ended or expired; sign in again.")
    return Caller(user, token)


async def user_from_headers(headers: Headers) -> User | None:
    """The caller when it sent a valid key or cookie, else None (never raises: for optional detail)."""
    if bearer_key(headers) is None and session_cookie(headers) is None:
        return None
    try:
        return (await authenticate(headers)).user
    except (Unauthorized, SQLAlchemyError):
        return None
