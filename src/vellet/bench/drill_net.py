"""The drill's links that can fail, and its mail path: proxies, notifier, sink.

wallet-a reaches its database and Redis through a :class:`GateProxy` each,
so it can be cut off from either while wallet-b still reaches both (the
bank link is the stack's own ``proxy``, a GateProxy too). The notifier
reaches the SMTP sink through one, so the relay can go down. Kept apart from
``drill_stack`` so the stack's wiring stays as small as the other faults need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vellet.bench.drill_mail import SinkProcess
from vellet.bench.faults import ServiceProcess
from vellet.bench.faults_net import GateProxy, proxy_for
from vellet.common import keyfiles
from vellet.common.embedded import EmbeddedRedis, free_port

_NOTIFIER_SETTINGS = {
    "VELLET_STREAM_BLOCK_MS": "200",
    "VELLET_STREAM_CLAIM_IDLE_MS": "5000",
    "VELLET_LOG_LEVEL": "ERROR",
    # Short back-off: a relay that is back is used within about a second.
    "VELLET_NOTIFIER_RETRY_BASE_MS": "200",
    "VELLET_NOTIFIER_RETRY_MAX_MS": "1000",
    "VELLET_SMTP_TIMEOUT": "3",
    "VELLET_SMTP_FROM": "Vellet <no-reply@vellet.test>",
}


@dataclass
class Links:
    #: wallet-a -> its PostgreSQL.
    wallet_db: GateProxy
    #: wallet-a -> Redis.
    wallet_redis: GateProxy
    #: notifier -> the SMTP sink.
    smtp: GateProxy
    notifier: ServiceProcess
    sink: SinkProcess

    @property
    def maildir(self) -> Path:
        return self.sink.maildir

    async def stop(self) -> None:
        self.notifier.stop()
        self.sink.stop()
        for proxy in (self.wallet_db, self.wallet_redis, self.smtp):
            proxy.heal()
            await proxy.stop()


async def start_links(root: Path, wallet_db_url: str, redis: EmbeddedRedis,
                      keys_dir: Path) -> Links:  # fmt: skip
    """Proxies for wallet-a's links, a sink process, and the notifier (not yet started).

    The notifier connects as its own Redis ACL user and trusts the wallet's
    public key (the events it mails about are the wallet's, signed).
    """
    sink = SinkProcess(root / "notifier-mail", root / "sink.log").start()
    smtp = await GateProxy(sink.host, sink.smtp_port).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    port = free_port()
    env |= _NOTIFIER_SETTINGS | {
        "VELLET_REDIS_URL": redis.url_for("notifier"),
        **keyfiles.file_env(keys_dir, "notifier"),
        "VELLET_NOTIFIER_PORT": str(port),
        "VELLET_CONSUMER_NAME": "notifier-a",
        "VELLET_SMTP_HOST": smtp.host,
        "VELLET_SMTP_PORT": str(smtp.port),
    }
    notifier = ServiceProcess("notifier", env, port, root / "notifier.log")
    return Links(
        wallet_db=await proxy_for(wallet_db_url),
        wallet_redis=await proxy_for(redis.url),
        smtp=smtp,
        notifier=notifier,
        sink=sink,
    )
