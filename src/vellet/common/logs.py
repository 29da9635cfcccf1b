"""Logging set-up for every entry point: one line per record, to stderr.

Records never carry secrets: settings hold them in ``Secret`` objects and
errors are logged by type, not by the text a driver put into them (which
can contain a connection string).
"""

from __future__ import annotations

import logging
import os


def setup(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("VELLET_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiohttp's access log is replaced by our metrics; asyncpg/redis are chatty.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
