"""Which address a login is counted against, behind trusted proxies (pure)."""

from __future__ import annotations

import re

import pytest

from vellet.common.errors import ConfigError
from vellet.wallet.auth.addresses import budget_key, client_address
from vellet.wallet.settings import parse_networks

PROXIES = parse_networks("10.0.0.0/8, 127.0.0.1, fd00::/8")


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # No proxy in between: the peer, whatever the header claims.
        ("198.51.100.9", ["203.0.113.7"], "198.51.100.9"),
        # Our proxy appended the client.
        ("10.1.2.3", ["203.0.113.7"], "203.0.113.7"),
        # The client prepended a fake address: its real one is found first.
        ("10.1.2.3", ["1.2.3.4, 203.0.113.7"], "203.0.113.7"),
        # Two trusted hops (ingress, then a sidecar), across two headers.
        ("127.0.0.1", ["203.0.113.7, 10.9.9.9", "10.1.1.1"], "203.0.113.7"),
        # IPv6 client and proxies.
        ("fd00::1", ["2001:db8::42"], "2001:db8::/64"),
        # Every hop trusted: the leftmost one is the client.
        ("10.1.2.3", ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),
        # Garbage in the header: stop at the last hop that parsed.
        ("10.1.2.3", ["203.0.113.7, not-an-ip"], "10.1.2.3"),
        ("10.1.2.3", ["not-an-ip, 10.0.0.6"], "10.0.0.6"),
        # A trusted proxy that sent no header at all.
        ("10.1.2.3", [], "10.1.2.3"),
        # No peer (a Unix socket): one shared "unknown".
        (None, ["203.0.113.7"], "unknown"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str | None, headers: list[str], expected: str
) -> None:
    assert client_address(peer, headers, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"


def test_networks_are_parsed_and_a_bad_one_is_named() -> None:
    assert [str(n) for n in parse_networks(" 10.0.0.0/8,,::1 ")] == ["10.0.0.0/8", "::1/128"]
    assert parse_networks("") == ()
    with pytest.raises(ConfigError, match=re.escape("'10.0.0.300'")):
        parse_networks("10.0.0.0/8, 10.0.0.300")


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),  # IPv4: the address itself
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4-mapped: the same budget as IPv4
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same /64
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64: its own
        ("fe80::1%eth0", "fe80::/64"),  # a zone id changes nothing
        ("unknown", "unknown"),
    ],
)
def test_ipv6_is_counted_by_its_64_and_ipv4_mapped_as_ipv4(address: str, key: str) -> None:
    assert budget_key(address) == key
    assert client_address(address, [], ()) == key


def test_an_ipv4_mapped_peer_is_matched_against_ipv4_proxies() -> None:
    assert client_address("::ffff:10.1.2.3", ["203.0.113.7"], PROXIES) == "203.0.113.7"
