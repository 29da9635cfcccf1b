"""Real ``vellet bank serve`` / ``vellet wallet serve`` processes for fault tests.

Built on :class:`vellet.bench.faults.ServiceProcess` (the drill uses the same
class). Environments use the test keys (each process its own and those
it trusts), cheap argon2, fast streams and short reconciliation thresholds;
``extra`` overrides any variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.bank import bank_env
from tests.support.keys import key_env
from vellet.bench.faults import ServiceProcess
from vellet.common.embedded import free_port

SESSION_SECRET = "wallet-session-test-secret-0123456789abcdef"


def wallet_env(database_url: str, redis_url: str, bank_url: str, port: int,
               **extra: str) -> dict[str, str]:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELLET_")}
    env.update(
        VELLET_WALLET_DATABASE_URL=database_url,
        VELLET_REDIS_URL=redis_url,
        VELLET_BANK_URL=bank_url,
        VELLET_SESSION_SECRET=SESSION_SECRET,
        VELLET_WALLET_PORT=str(port),
        VELLET_WALLET_INTERNAL_PORT=str(free_port()),
        VELLET_ARGON2_MEMORY_KIB="1024",
        VELLET_ARGON2_TIME_COST="1",
        VELLET_ARGON2_PARALLELISM="1",
        VELLET_STREAM_BLOCK_MS="100",
        VELLET_STREAM_CLAIM_IDLE_MS="1000",
        VELLET_STREAM_MAX_DELIVERIES="20",
        VELLET_BANK_TRANSFER_TIMEOUT="1.0",
        VELLET_BANK_BREAKER_FAILURES="3",
        VELLET_BANK_BREAKER_RESET="0.5",
        VELLET_BANK_RELAY_INTERVAL="0.1",
        VELLET_OUTBOX_INTERVAL="0.2",
        VELLET_WALLET_RECONCILER="false",
        VELLET_RECONCILE_INTERVAL="0.3",
        VELLET_STUCK_AFTER="2",
        VELLET_CONSUMER_NAME="wallet-proc",
        VELLET_SIGNUP_MAX_PER_ADDRESS="1000000",  # every test user signs up from loopback
        VELLET_LOG_LEVEL="WARNING",
    )
    env.update(key_env("wallet", ("bank", "operator")))
    env.update(extra)
    return env


def wallet_process(tmp: Path, database_url: str, redis_url: str, bank_url: str,
                   **extra: str) -> ServiceProcess:  # fmt: skip
    port = free_port()
    env = wallet_env(database_url, redis_url, bank_url, port, **extra)
    name = env["VELLET_CONSUMER_NAME"]
    internal = int(env["VELLET_WALLET_INTERNAL_PORT"])
    return ServiceProcess("wallet", env, port, tmp / f"{name}-{port}.log", internal_port=internal)


def bank_process(tmp: Path, database_url: str, redis_url: str, *, port: int | None = None,
                 **extra: str) -> ServiceProcess:  # fmt: skip
    port = port or free_port()
    env = bank_env(
        database_url,
        redis_url,
        port,
        VELLET_CONSUMER_NAME="bank-proc",
        VELLET_STREAM_CLAIM_IDLE_MS="1000",
        VELLET_STREAM_MAX_DELIVERIES="20",
    )
    env.update(extra)
    log = tmp / f"{env['VELLET_CONSUMER_NAME']}-{port}.log"
    return ServiceProcess(
        "bank", env, port, log, internal_port=int(env["VELLET_BANK_INTERNAL_PORT"])
    )
