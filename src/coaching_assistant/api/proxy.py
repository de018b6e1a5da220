"""What the client's connection is: https or not, and its address, directly or through a proxy.

Behind a reverse proxy the server sees the proxy's address and plain http. X-Forwarded-Proto and
X-Forwarded-For say what the client used, but any client can send them too: they count only with
TRUST_PROXY_HEADERS=true, for a server that only the proxy can reach.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Scope

from coaching_assistant.core.config import Settings


def is_https(scope: Scope, settings: Settings) -> bool:
    if settings.trust_proxy_headers:
        forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
        if forwarded:
            return forwarded.split(",")[0].strip().lower() == "https"
    return scope.get("scheme") == "https"


def client_address(scope: Scope, settings: Settings) -> str:
    if settings.trust_proxy_headers:
        forwarded = Headers(scope=scope).get("x-forwarded-for", "")
        if forwarded:  # the last hop is the one our proxy added; earlier ones the client may have made up
            return forwarded.split(",")[-1].strip()
    client = scope.get("client")
    return client[0] if client else "unknown"
