"""``vellet bench p2p``: P2P transfers over HTTP, measured against pgbench.

One run, one PostgreSQL, in rounds: N concurrent clients send P2P transfers
between random pairs of funded wallets through a real wallet process for
the given seconds (the first round after a short warm-up); then pgbench's
built-in simple-update script (``-N``) runs with 32 clients against the same
server for as long. Alternating the two, and printing each round and their
median, keeps a busy moment of a shared machine from deciding the ratio.
The ratio tells how close a full transfer (HTTP, session check, JSON, its
share of a ledger transaction with its entries, idempotency record and
outbox row) gets to the database's raw small-transaction rate on this
machine. ``--batch-max 1`` turns group commit off, for comparison.
``--signing both`` runs a second set of wallets that publish their events
unsigned (``vellet.bench.unsigned_wallet``) and alternates the two in every
round, so the cost of signing stream messages is read from one run.

Embedded PostgreSQL and Redis are started unless URLs are given. Users are
written straight into the ledger with settled deposits and sessions minted
with the wallet's session key (the bench measures P2P, not sign-up or the
bank), and the ledger invariant is checked at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import secrets
import statistics
import tempfile
from pathlib import Path
from typing import Any

from vellet.bench import p2p_profile, profiled
from vellet.bench.memory import CpuShare, sampling
from vellet.bench.p2p_load import drive, setup_users
from vellet.bench.p2p_result import Result
from vellet.bench.p2p_servers import (
    Servers,
    drain_outbox,
    fresh_database,
    invariant_holds,
    p2p_count,
    pgbench_init,
    pgbench_run,
    servers,
    spawn,
    stop,
    wait_healthy,
    wallet_env,
)
from vellet.common.commands import command
from vellet.common.embedded import free_port
from vellet.common.errors import ConfigError
from vellet.common.settings import Secret
from vellet.wallet.settings import SessionSettings


def add_parser(sub: Any) -> None:
    parser = command(
        sub,
        "p2p",
        "P2P transfers/s over HTTP vs pgbench on the same PostgreSQL",
        "vellet bench p2p --clients 32 --seconds 15 --rounds 3",
        description="Measure P2P transfers per second over HTTP against pgbench -N on the "
        "same PostgreSQL, in alternated rounds, and print each round, the median ratio, the "
        "p99 latency and whether the ledger invariant holds.",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument(
        "--users", type=int, default=1000, help="wallets that send to each other at random"
    )
    parser.add_argument("--rounds", type=int, default=3, help="P2P and pgbench phases, alternated")
    parser.add_argument("--pgbench-clients", type=int, default=32)
    parser.add_argument(
        "--wallets", type=int, default=1, help="wallet processes (replicas); clients spread"
    )
    parser.add_argument("--pool-size", type=int, default=20, help="the wallet's DB pool")
    parser.add_argument(
        "--batch-max", type=int, default=32, help="VELLET_P2P_BATCH_MAX (1: no batching)"
    )
    parser.add_argument(
        "--batch-concurrency", type=int, default=1, help="VELLET_P2P_BATCH_CONCURRENCY"
    )
    parser.add_argument(
        "--signing", choices=("on", "off", "both"), default="on",
        help="sign stream messages (on, as deployed), not (off), or alternate both",
    )  # fmt: skip
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="VELLET_X=VALUE",
        help="also run wallets with this setting changed, alternated with the others in "
        "every round (repeatable; an A/B on one machine at one time)",
    )
    parser.add_argument("--postgres-url", help="a superuser URL (default: embedded)")
    parser.add_argument("--redis-url", help="default: embedded")
    parser.add_argument("--no-fsync", action="store_true", help="embedded PG without fsync")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the wallet under cProfile, write FILE, print ms per transfer by stage "
        "(one wallet only; the figures are then not comparable)",
    )
    parser.add_argument(
        "--pg-stats", action="store_true",
        help="embedded PG with pg_stat_statements: print the statements by time per transfer",
    )  # fmt: skip
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if args.clients < 1 or args.seconds <= 0 or args.users < 2 or args.rounds < 1:
        raise ConfigError("--clients and --rounds must be >= 1, --seconds > 0 and --users >= 2")
    if any("=" not in c or not c.startswith("VELLET_") for c in args.compare):
        raise ConfigError("--compare takes VELLET_NAME=VALUE")
    if args.compare and args.signing == "both":
        raise ConfigError("--compare and --signing both are two comparisons: pick one")
    if args.profile and (args.wallets != 1 or args.signing != "on" or args.compare):
        # The unsigned wallet is its own module, not ``vellet wallet serve``.
        raise ConfigError("--profile profiles one signing wallet: use --wallets 1 --signing on")
    with (
        tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp,
        servers(args, Path(tmp)) as found,
    ):
        results = asyncio.run(_run(args, found))
    for mode, result in results.items():
        if len(results) > 1:
            print(f"{_LABELS[mode]}:" if "variant" in results else f"signing {mode}:")
        print(result.table(args))
        print(f"RSS per wallet process under load: {result.memory.describe()}")
    if "variant" in results:
        base, variant = (statistics.median(r.ratio for r in results[m].rounds)
                         for m in ("on", "variant"))  # fmt: skip
        print(f"median ratio as deployed {base:.2f}, with {' '.join(args.compare)} "
              f"{variant:.2f}: {(variant / base - 1) * 100:+.1f} %")  # fmt: skip
    elif len(results) > 1:
        on, off = (statistics.median(r.ratio for r in results[m].rounds) for m in ("on", "off"))
        print(f"median ratio signed {on:.2f}, unsigned {off:.2f}: {(on / off - 1) * 100:+.1f} %")
    for result in results.values():
        print(result.profile)
    if args.profile:
        print(profiled.summary(args.profile, results[args.signing].p2p_total))
    return 0 if all(r.invariant_ok for r in results.values()) else 1


_LABELS = {"variant": "with --compare", "on": "as deployed"}


def measure(args: argparse.Namespace) -> Result:
    """One whole run (for ``vellet bench all``): the signing wallets' result if both ran."""
    with (
        tempfile.TemporaryDirectory(prefix="vellet-bench-") as tmp,
        servers(args, Path(tmp)) as found,
    ):
        results = asyncio.run(_run(args, found))
    return results.get("on") or results["off"]


async def _run(args: argparse.Namespace, found: Servers) -> dict[str, Result]:
    wallet_db = await fresh_database(found.admin_url, "bench_wallet")
    sessions = SessionSettings(secret=Secret(secrets.token_urlsafe(32)), ttl_seconds=3600)
    env = wallet_env(args, found, wallet_db, sessions)
    modes = ["on", "off"] if args.signing == "both" else [args.signing]
    compare = dict(c.split("=", 1) for c in getattr(args, "compare", []))
    if compare:
        modes = [args.signing, "variant"]
    ports = {mode: [(free_port(), free_port()) for _ in range(args.wallets)] for mode in modes}
    profile = getattr(args, "profile", None)
    runner = ("-m", "vellet.bench.profiled", profile) if profile else ("-m", "vellet")
    by_mode = {
        mode: [
            spawn(
                "wallet",
                env
                | (compare if mode == "variant" else {})
                | {"VELLET_WALLET_PORT": str(pub), "VELLET_WALLET_INTERNAL_PORT": str(inner)},
                runner,
                signing="on" if mode == "variant" else mode,
            )
            for pub, inner in ports[mode]
        ]
        for mode in modes
    }
    wallets = [wallet for mode in modes for wallet in by_mode[mode]]
    results = {mode: Result() for mode in modes}
    try:
        urls = {mode: [f"http://127.0.0.1:{pub}" for pub, _ in ports[mode]] for mode in modes}
        metrics_urls = {
            mode: [f"http://127.0.0.1:{inner}" for _, inner in ports[mode]] for mode in modes
        }
        for url, wallet in zip([u for m in modes for u in urls[m]], wallets, strict=True):
            await wait_healthy(url, wallet)
        users = await setup_users(args.users, wallet_db, sessions)
        pgbench_db = await pgbench_init(found)
        pg_stats = getattr(args, "pg_stats", False) and found.postgres_pid is not None
        if pg_stats:
            await p2p_profile.reset_statements(wallet_db)
        shares: dict[str, list[CpuShare]] = {mode: [] for mode in modes}
        # Rounds alternate the loads, so each sees the machine as it is then.
        for n in range(args.rounds):
            for mode in modes:
                pids: dict[str, list[int | None]] = {"wallet": [w.pid for w in by_mode[mode]]}
                groups = p2p_profile.cpu_groups([w.pid for w in by_mode[mode]],
                                                found.postgres_pid, found.redis_pid)  # fmt: skip
                cpu = CpuShare(alone=frozenset({p2p_profile.LOAD}))
                async with sampling(results[mode].memory, functools.partial(dict, pids)):
                    round_ = await drive(args, urls[mode], users, n, metrics_urls[mode],
                                         on_start=functools.partial(cpu.start, groups))  # fmt: skip
                    cpu.stop(groups)
                shares[mode].append(cpu)
                await drain_outbox(wallet_db)
                round_.pgbench_tps = await pgbench_run(found, args, pgbench_db)
                results[mode].rounds.append(round_)
        ok = await invariant_holds(wallet_db)
        total = await p2p_count(wallet_db)
        for mode, result in results.items():
            result.invariant_ok = ok
            result.p2p_total = total
            measured = sum(r.transfers for r in result.rounds)
            seconds = sum(r.seconds for r in result.rounds)
            result.profile = p2p_profile.describe_cpu(shares[mode], measured, seconds)
            result.cpu_ms = p2p_profile.cpu_per_transfer(shares[mode], measured)
        if pg_stats:
            for result in results.values():
                result.profile += "\n" + await p2p_profile.top_statements(wallet_db, total)
    finally:
        for wallet in wallets:
            stop(wallet)
    return results
