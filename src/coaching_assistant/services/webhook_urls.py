"""Where a webhook may point: an http(s) URL whose host resolves only to public addresses.

A user chooses the URL and a worker inside our network POSTs to it, so without these checks a
user could make the worker reach the cloud metadata service, a port on localhost or a machine on
the private network (server-side request forgery). Every address the host resolves to must be a
public unicast one, when the webhook is created and again at every delivery (the name may resolve
elsewhere by then: DNS rebinding), and a delivery connects to the address that was checked, not
to whatever a second lookup would return. Hosts named in WEBHOOK_ALLOWED_HOSTS skip the address
check (a receiver on the same machine or network) but are still pinned.

The URL is parsed once, by httpx, the client that sends to it, so the host we check is the host
we connect to.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx

from coaching_assistant.core.errors import CoachingError, ErrorCode

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048

# Cloud metadata services (AWS, GCP, Azure, OpenStack; ECS task metadata; AWS over IPv6; Alibaba;
# Oracle). Most fall in the ranges below too; named so a reader finds them, and refused with
# their own reason.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192"))

# Not reachable on the public internet (IANA's special-purpose registries), each with the reason
# a refusal gives. Python's own `is_global` misses some of these (192.0.0.0/24, multicast) in the
# versions we support, so the list is explicit; `is_global` is checked as well.
_REFUSED_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "an unspecified address"),
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("169.254.0.0/16", "a link-local address"),
    ("192.0.0.0/24", "a reserved address"),
    ("192.0.2.0/24", "a documentation address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("192.88.99.0/24", "a reserved address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("::/96", "a reserved address"),  # IPv4-compatible, deprecated
    ("::ffff:0:0:0/96", "a reserved address"),  # IPv4-translated (RFC 2765), for a translator to reach
    ("100::/64", "a reserved address"),
    ("2001::/32", "a reserved address"),  # Teredo: hides an IPv4 address we cannot check
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("64:ff9b:1::/48", "a private address"),
    ("fc00::/7", "a private address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a private address"),
    ("ff00::/8", "a multicast address"),
)
_NETWORKS = tuple((ipaddress.ip_network(net), reason) for net, reason in _REFUSED_NETWORKS)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Target:
    """A checked URL and the address a delivery connects to."""

    url: httpx.URL
    address: IPAddress


def refusal(address: IPAddress) -> str | None:
    """Why a webhook must not be sent to `address` ("a loopback address"…), or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket; 6to4 and NAT64 lead to their IPv4 address
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal(embedded)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for network, reason in _NETWORKS:
        if address in network:
            return reason
    if address.is_multicast:
        return "a multicast address"
    if not address.is_global or address.is_reserved or address.is_unspecified:
        return "a reserved address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped, 6to4, or NAT64's well-known prefix."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse(url: str) -> httpx.URL:
    """The URL, if it has the shape of a webhook target; else a 422 invalid_webhook_url."""
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        raise _invalid("The URL must not contain spaces or control characters.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise _invalid(f"The URL cannot be read: {exc}.") from exc
    if parsed.scheme not in ("http", "https"):
        raise _invalid("A webhook URL must start with http:// or https://.")
    if not parsed.host:
        raise _invalid("The URL has no host.")
    if parsed.userinfo:
        raise _invalid("The URL must not contain a user name or password; put a secret in the path instead.")
    return parsed


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal address: itself). Tests replace this to play
    DNS rebinding."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


def check(url: str | httpx.URL, *, allowed_hosts: frozenset[str]) -> Target:
    """Parse the URL, resolve its host and check every address: the target to connect to, or a
    422 (`invalid_webhook_url` when it cannot be parsed or resolved, `webhook_url_not_allowed`
    when it resolves to an address we do not send to)."""
    parsed = url if isinstance(url, httpx.URL) else parse(url)
    host = parsed.host.lower().rstrip(".")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = resolve(parsed.raw_host.decode("ascii"), port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise _invalid(f"The host {host!r} cannot be resolved ({exc}).") from exc
    if not addresses:
        raise _invalid(f"The host {host!r} resolves to no address.")
    if host not in allowed_hosts:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise CoachingError(
                    f"The host {host!r} resolves to {address}, {reason}; webhooks are only sent to public "
                    "addresses (an operator can allow the host with WEBHOOK_ALLOWED_HOSTS).",
                    ErrorCode.WEBHOOK_URL_NOT_ALLOWED)
    return Target(url=parsed, address=addresses[0])


def _invalid(message: str) -> CoachingError:
    return CoachingError(message, ErrorCode.INVALID_WEBHOOK_URL)
