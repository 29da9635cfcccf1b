"""The real wallet with stream signing switched off, for ``vellet bench p2p --signing`` only.

Why it exists: issue 10 asks that the P2P benchmark's ratio be measured
with and without signing in one run. No service has a setting or variable
that turns signing off (one that an operator, or an attacker who can edit a
pod's environment, could flip); instead the benchmark runs this module,
``python -m vellet.bench.unsigned_wallet``, which replaces the signing step
in its own process and then serves the wallet exactly as ``vellet wallet
serve`` does. Consumers are not touched: a bank or a notifier would refuse
(``unsigned``) everything this wallet publishes; the P2P benchmark runs
neither.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Mapping

from vellet.common import logs
from vellet.common.keys import PrivateKey
from vellet.common.web import serve_forever
from vellet.wallet import database
from vellet.wallet.app import create_app
from vellet.wallet.settings import WalletSettings


def _unsigned(key: PrivateKey, stream: str, fields: Mapping[str, str]) -> dict[str, str]:
    """What the wallet published before issue 10: the fields, nothing added."""
    del key, stream
    return dict(fields)


def switch_off_signing() -> None:
    """In this process only: publish as the wallet did before messages were signed."""
    # The one name the publishing functions look up when they sign.
    client = importlib.import_module("vellet.common.streams._client")
    client.__dict__["sign"] = _unsigned


def main() -> int:
    switch_off_signing()
    logs.setup()
    settings = WalletSettings.from_env(os.environ)
    asyncio.run(database.migrate(settings.database_url))
    asyncio.run(serve_forever("wallet", create_app(settings), settings.http))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
