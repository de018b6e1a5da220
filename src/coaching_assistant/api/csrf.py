"""Cross-site request forgery: a browser sends the session cookie with requests other sites make.

So a write (POST, PUT, PATCH, DELETE) authenticated by the cookie must also carry X-CSRF-Token,
equal to its session's CSRF token (given by sign-in and GET /api/v1/me, which another site cannot
read), and when the browser says where the request comes from (Origin), that must be this server.
Sign-in checks the Origin too, so another site cannot sign a browser in to an account of its own.
A request with a Bearer key needs neither: no browser adds the key on another site's behalf.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import Scope

from coaching_assistant.api.proxy import is_https
from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import CoachingError, ErrorCode
from coaching_assistant.services.web_sessions import csrf_token

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _without_default_port(origin: str) -> str:
    origin = origin.lower()
    default_port = DEFAULT_PORTS.get(origin.partition("://")[0])
    return origin.removesuffix(default_port) if default_port else origin


def own_origin(scope: Scope, settings: Settings) -> str:
    scheme = "https" if is_https(scope, settings) else "http"
    return _without_default_port(f"{scheme}://{Headers(scope=scope).get('host', '')}")


def check_origin(scope: Scope, settings: Settings) -> None:
    """403 csrf_failed when the browser says the request comes from another origin."""
    origin = Headers(scope=scope).get("origin")
    if origin is not None and _without_default_port(origin) != own_origin(scope, settings):
        raise CoachingError("The request comes from another site (Origin); it was refused.", ErrorCode.CSRF_FAILED)


def check_write(scope: Scope, settings: Settings, session_token: str) -> None:
    """For a request authenticated by the session cookie: a write needs the session's CSRF token."""
    if scope["method"] in SAFE_METHODS:
        return
    check_origin(scope, settings)
    sent = Headers(scope=scope).get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(session_token).encode()):
        raise CoachingError("A write with the session cookie needs its CSRF token in X-CSRF-Token "
                            "(from sign-in or GET /api/v1/me).", ErrorCode.CSRF_FAILED)
