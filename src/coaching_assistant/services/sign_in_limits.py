"""How many failed sign-ins one account, and one client address, get per window.

Without a limit a password can be guessed at the speed of the server. Counters live in Redis
(shared by every API process) in fixed windows of SIGN_IN_FAILURE_WINDOW_MINUTES. An attempt is
counted before its password is checked, so a burst of parallel guesses cannot all slip under the
limit; a successful one is then taken back (and clears its account's counter). Emails are stored
hashed. Beyond a limit: 429 sign_in_rate_limited with Retry-After, the same for an email that
exists and one that does not.
"""

from __future__ import annotations

import hashlib
import math

import redis

from coaching_assistant.core.config import get_settings
from coaching_assistant.core.errors import CoachingError, ErrorCode

KEY_PREFIX = "coaching:sign-in-failures:"
# Take back one attempt: the account's counter goes; the address's goes down by one unless its
# window ended meanwhile (a DECR then would leave a counter with no expiry).
_TAKE_BACK = """
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DECR', KEYS[2]) end
return 0
"""


def _keys(email: str, address: str) -> tuple[str, str]:
    return (KEY_PREFIX + "email:" + hashlib.sha256(email.encode()).hexdigest(),
            KEY_PREFIX + "address:" + address)


def _unavailable() -> CoachingError:
    return CoachingError("Sign-in is unavailable for a moment (its attempt counter cannot be reached); "
                         "try again shortly.", ErrorCode.SERVICE_UNAVAILABLE, retry_after=5)


def reserve(client: redis.Redis, *, email: str, address: str) -> None:
    """Count one attempt against both limits; CoachingError (429) when either is used up."""
    settings = get_settings()
    window = math.ceil(settings.sign_in_failure_window_minutes * 60)
    limits = (settings.sign_in_failures_per_email, settings.sign_in_failures_per_address)
    try:
        pipe = client.pipeline()
        for key in _keys(email, address):
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
        replies = pipe.execute()
    except redis.RedisError as exc:
        raise _unavailable() from exc
    counts, ttls = replies[1::3], replies[2::3]
    waits = [ttl for count, limit, ttl in zip(counts, limits, ttls, strict=True) if count > limit]
    if waits:
        raise CoachingError("Too many failed sign-ins; wait before trying again.",
                            ErrorCode.SIGN_IN_RATE_LIMITED, retry_after=max(1, *waits))


def succeeded(client: redis.Redis, *, email: str, address: str) -> None:
    """The attempt reserved for a sign-in that succeeded is not a failure."""
    try:
        client.eval(_TAKE_BACK, 2, *_keys(email, address))
    except redis.RedisError as exc:
        raise _unavailable() from exc
