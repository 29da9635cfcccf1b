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
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from vellet.wallet.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(address: str) -> Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _trusted(ip: Address, trusted: Sequence[Network]) -> bool:
    return any(ip in network for network in trusted)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The address to count a login against.

    ``peer`` is the TCP peer; ``forwarded_for`` the values of every
    ``X-Forwarded-For`` header in order (each may hold a comma-separated list).
    """
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
