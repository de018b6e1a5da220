"""Where a webhook may point: the address rules (IPv4, IPv6, IPv4 inside IPv6, cloud metadata) and
the URL checks, with a stubbed resolver (no network)."""

from __future__ import annotations

import ipaddress

import pytest

from coaching_assistant.core.errors import CoachingError
from coaching_assistant.services import webhook_urls
from coaching_assistant.services.webhook_urls import refusal


def ip(text: str):
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.255", "a private address"),
    ("192.168.1.1", "a private address"),
    ("169.254.169.254", "a cloud metadata address"),
    ("169.254.170.2", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"),
    ("192.0.0.192", "a cloud metadata address"),
    ("169.254.1.1", "a link-local address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("100.127.255.254", "a shared (carrier-grade NAT) address"),
    ("0.0.0.0", "an unspecified address"),
    ("0.1.2.3", "an unspecified address"),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("192.0.2.10", "a documentation address"),
    ("198.18.0.1", "a benchmarking address"),
    ("::1", "a loopback address"),
    ("::", "an unspecified address"),
    ("fe80::1", "a link-local address"),
    ("fc00::1", "a private address"),
    ("fd12:3456::1", "a private address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("ff02::1", "a multicast address"),
    ("2001:db8::1", "a documentation address"),
    ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
    ("::ffff:10.0.0.1", "a private address"),
    ("::ffff:169.254.169.254", "a cloud metadata address"),
    ("::ffff:0.0.0.0", "an unspecified address"),
    ("::ffff:0:7f00:1", "a reserved address"),  # IPv4-translated
    ("::127.0.0.1", "a reserved address"),  # IPv4-compatible (deprecated)
    ("2002:7f00:1::1", "a loopback address"),  # 6to4 around 127.0.0.1
    ("2002:a9fe:a9fe::", "a cloud metadata address"),  # 6to4 around 169.254.169.254
    ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 around 127.0.0.1
    ("64:ff9b::a00:1", "a private address"),  # NAT64 around 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a reserved address"),  # Teredo
])
def test_internal_addresses_are_refused_with_their_reason(address, reason):
    assert refusal(ip(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:93.184.216.34", "2002:5db8:d822::1", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address):
    assert refusal(ip(address)) is None


@pytest.fixture
def dns(monkeypatch):
    """A resolver that answers from this table (host -> addresses), as a test sets it."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int):
        host = host.rstrip(".").lower()
        if host not in table:
            raise OSError(-2, "Name or service not known")
        return [ip(a) for a in table[host]]

    monkeypatch.setattr(webhook_urls, "resolve", resolve)
    return table


def refused(url: str, allowed: frozenset[str] = frozenset()) -> CoachingError:
    with pytest.raises(CoachingError) as caught:
        webhook_urls.check(url, allowed_hosts=allowed)
    return caught.value


def test_a_public_host_is_pinned_to_the_address_that_was_checked(dns):
    dns["hooks.example.com"] = ["93.184.216.34", "2606:2800:220:1::1"]
    target = webhook_urls.check("https://hooks.example.com/in?x=1", allowed_hosts=frozenset())
    assert target.address == ip("93.184.216.34")
    assert str(target.url) == "https://hooks.example.com/in?x=1"


@pytest.mark.parametrize(("url", "answer"), [
    ("http://localhost:8000/hook", ["127.0.0.1"]),
    ("http://127.0.0.1/hook", ["127.0.0.1"]),
    ("http://[::1]:9000/hook", ["::1"]),
    ("http://intranet.example.com/hook", ["10.0.0.5"]),
    ("http://metadata.google.internal/computeMetadata/v1/", ["169.254.169.254"]),
    ("http://mapped.example.com/", ["::ffff:192.168.0.1"]),
])
def test_internal_targets_are_refused(dns, url, answer):
    import httpx

    dns[httpx.URL(url).host] = answer
    error = refused(url)
    assert error.code == "webhook_url_not_allowed" and error.status_code == 422
    assert str(ip(answer[0])) in error.message and "WEBHOOK_ALLOWED_HOSTS" in error.message


def test_one_internal_address_among_public_ones_is_enough_to_refuse(dns):
    dns["mixed.example.com"] = ["93.184.216.34", "10.0.0.1"]
    assert refused("https://mixed.example.com/").code == "webhook_url_not_allowed"


def test_the_allow_list_lets_an_internal_host_through(dns):
    dns["receiver.internal"] = ["10.0.0.7"]
    dns["127.0.0.1"] = ["127.0.0.1"]
    allowed = frozenset({"receiver.internal", "127.0.0.1"})
    assert webhook_urls.check("http://Receiver.Internal./hook", allowed_hosts=allowed).address == ip("10.0.0.7")
    assert webhook_urls.check("http://127.0.0.1:9/hook", allowed_hosts=allowed).address == ip("127.0.0.1")
    dns["other.internal"] = ["10.0.0.8"]
    assert refused("http://other.internal/", allowed).code == "webhook_url_not_allowed"


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://example.com/file", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://example.com/", "http:// or https://"),
    ("https://user:secret@example.com/", "user name or password"),
    ("https://exa mple.com/", "spaces"),
    ("http:///path-only", "no host"),
    ("https://example.com/" + "a" * 2100, "longer than"),
])
def test_urls_of_the_wrong_shape_are_invalid(dns, url, words):
    error = refused(url)
    assert error.code == "invalid_webhook_url" and error.status_code == 422
    assert words in error.message


def test_a_host_that_does_not_resolve_is_invalid(dns):
    error = refused("https://no-such-host.example/")
    assert error.code == "invalid_webhook_url" and "cannot be resolved" in error.message


def test_the_system_resolver_reads_numeric_hosts_as_the_kernel_does():
    # getaddrinfo takes 2130706433 and 0x7f.1 as 127.0.0.1; the check sees what it resolved to
    assert webhook_urls.resolve("2130706433", 80) == [ip("127.0.0.1")]
    assert refused("http://2130706433/").code == "webhook_url_not_allowed"
