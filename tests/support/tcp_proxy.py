"""A TCP proxy that loses answers, for "the bank did it but we never heard".

The implementation is :class:`vellet.bench.faults.LossyProxy`, shared with
``vellet bench drill`` so a test and the drill inject the same fault.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from vellet.bench.faults import LossyProxy


async def lossy_proxy_to(url: str) -> LossyProxy:
    """A started proxy in front of ``url`` (forwarding both ways until told otherwise)."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return await LossyProxy(parts.hostname, parts.port).start()
