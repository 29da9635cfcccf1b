"""Which address a login came from, when proxies stand in between (pure).

Why: the per-address login limit counts failures by client address. Behind
an ingress or load balancer every request comes from the proxy, so without
this all clients would share one budget (and one attacker would lock
everyone out). ``X-Forwarded-For`` names the real client, but any client
can write that header, so it is believed only as far as it was written by
proxies we trust: walking it from the right (the entry our own proxy
appended), trusted proxies are skipped and the first address that is not
one of them is the client. A client that prepends a fake address gains
nothing: it is left of its own real address, which is found first.

With no trusted proxies configured the header is ignored entirely.

What is counted is not always one address. An IPv6 client is handed a
whole /64 (the smallest prefix a site gets, by RFC 6177 usually far more),
so counting each /128 would give one attacker 2**64 budgets: an IPv6
address is counted by its /64. An IPv4 address stays itself, and an
IPv4-mapped IPv6 address (``::ffff:203.0.113.7``, what a dual-stack socket
reports for an IPv4 peer) is that IPv4 address, so it shares its budget.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from vellet.wallet.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(address: str) -> Address | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # an IPv4 peer seen through a dual-stack socket
    return ip


def budget_key(address: str) -> str:
    """What one client's attempts are counted under: IPv4 as is, IPv6 by its /64."""
    ip = _ip(address)
    if ip is None:
        return address  # "unknown" (no peer): one shared budget
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    # From the integer, not ip_network(): a zone id ("fe80::1%eth0") must not
    # make two hosts of one /64 differ.
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


def _trusted(ip: Address, trusted: Sequence[Network]) -> bool:
    return any(ip in network for network in trusted)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The key to count a login or sign-up against (see :func:`budget_key`).

    ``peer`` is the TCP peer; ``forwarded_for`` the values of every
    ``X-Forwarded-For`` header in order (each may hold a comma-separated list).
    """
    return budget_key(_client(peer, forwarded_for, trusted))


def _client(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    client = peer or "unknown"
    peer_ip = _ip(client)
    if not trusted or peer_ip is None or not _trusted(peer_ip, trusted):
        return client
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:
            return client  # garbage where an address should be: stop at the last good hop
        client = hop
        if not _trusted(hop_ip, trusted):
            return client
    return client
