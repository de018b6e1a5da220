"""One delivery attempt: sign the payload (Standard Webhooks) and POST it to the checked address.

The receiver verifies `webhook-signature` = `v1,` + base64 HMAC-SHA256, keyed with the webhook's
secret, of `{webhook-id}.{webhook-timestamp}.{body}`; `standardwebhooks` computes it here and
checks it there. `webhook-id` is the delivery's id, the same on every attempt, so a receiver can
drop repeats; `webhook-timestamp` is the attempt's time (receivers refuse signatures older than
five minutes, so each attempt is signed afresh).

The attempt resolves the host and checks its addresses again (services/webhook_urls.py), then
connects to the checked address while the Host header and TLS (SNI, certificate) name the host.
No redirect is followed, no proxy from the environment is used, the whole exchange has one
deadline, and at most RESPONSE_BODY_LIMIT bytes of the answer are read.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from standardwebhooks import Webhook as Signer

from coaching_assistant import __version__
from coaching_assistant.core.errors import CoachingError
from coaching_assistant.services import webhook_urls

MAX_BODY_BYTES = 64 * 1024  # a payload is a few hundred bytes; anything near this is a bug
RESPONSE_BODY_LIMIT = 1024  # enough for an error message in the delivery log
LOGGED_BODY_CHARS = 200
USER_AGENT = f"coaching-transcript-webhooks/{__version__}"


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status (None when no answer came) and, unless 2xx, why it failed."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(payload: dict[str, Any]) -> str:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if len(body.encode()) > MAX_BODY_BYTES:
        raise ValueError(f"a webhook payload of {len(body.encode())} bytes is over {MAX_BODY_BYTES}")
    return body


def signed_headers(*, secret: str, message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Signer(secret).sign(message_id, timestamp, body),
    }


def send(*, url: str, secret: str, message_id: str, payload: dict[str, Any], timestamp: datetime,
         allowed_hosts: frozenset[str], timeout: float) -> Outcome:
    """One attempt; never raises for what the network or the receiver did."""
    body = body_of(payload)
    try:
        target = webhook_urls.check(url, allowed_hosts=allowed_hosts)
    except CoachingError as exc:
        return Outcome(None, exc.message)
    headers = {**signed_headers(secret=secret, message_id=message_id, timestamp=timestamp, body=body),
               "content-type": "application/json", "user-agent": USER_AGENT, "accept-encoding": "identity"}
    return asyncio.run(_post(target, headers, body.encode(), timeout))


async def _post(target: webhook_urls.Target, headers: dict[str, str], body: bytes, timeout: float) -> Outcome:
    url, extensions = _pinned(target)
    headers = {**headers, "host": target.url.netloc.decode("ascii")}
    try:
        async with asyncio.timeout(timeout), httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=timeout,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=0)) as client:
            async with client.stream("POST", url, content=body, headers=headers, extensions=extensions) as response:
                answer = await _read_capped(response)
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout:g} s")
    except httpx.TimeoutException:
        return Outcome(None, f"timed out ({target.address})")
    except httpx.HTTPError as exc:
        return Outcome(None, f"{exc.__class__.__name__}: {exc or 'connection failed'} ({target.address})")
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(code, None)
    if response.is_redirect:
        location = response.headers.get("location", "")[:LOGGED_BODY_CHARS]
        return Outcome(code, f"HTTP {code}: redirect to {location!r} not followed")
    return Outcome(code, f"HTTP {code}: {answer}" if answer else f"HTTP {code}")


def _pinned(target: webhook_urls.Target) -> tuple[httpx.URL, dict[str, Any]]:
    """The URL with the checked address as its host, and the TLS server name it must present."""
    url = target.url.copy_with(host=str(target.address))
    if target.url.scheme == "https" and target.url.host != str(target.address):
        return url, {"sni_hostname": target.url.raw_host.decode("ascii")}
    return url, {}


async def _read_capped(response: httpx.Response) -> str:
    """The start of the answer, as printable text for the delivery log."""
    read = bytearray()
    async for chunk in response.aiter_raw():
        read += chunk
        if len(read) >= RESPONSE_BODY_LIMIT:
            break
    text = bytes(read[:RESPONSE_BODY_LIMIT]).decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()[:LOGGED_BODY_CHARS]
