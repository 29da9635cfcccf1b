"""Where a P2P transfer's time goes, outside the wallet's own Python.

Two views the cProfile of :mod:`vellet.bench.profiled` cannot give:

* **CPU per process group** (:func:`cpu_groups`): on two cores the wallet,
  PostgreSQL, Redis and the load generator share the machine, so the first
  question is who burns it. Read from ``/proc`` around each measured phase
  and divided by the transfers made in it: milliseconds of CPU per transfer.
* **PostgreSQL's own statistics** (``--pg-stats``): ``pg_stat_statements``
  preloaded in the embedded server, tracking statements inside functions too
  (``track=all``), so the batch function's time is split by statement. The
  top-level rows add up to the database's time; nested rows are inside them.
"""

from __future__ import annotations

import os

import asyncpg

from vellet.bench.memory import CpuShare

#: Server settings that make the statement statistics available.
PG_STATS_OPTIONS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "track_functions": "pl",
}


#: The bench's own process: its children (wallets, embedded servers) are not its CPU.
LOAD = "load generator (this process)"


def cpu_groups(wallets: list[int], postgres: int | None, redis: int | None) -> dict[str, list[int]]:
    """The process groups whose CPU a P2P phase is split into."""
    groups = {"wallet": wallets, LOAD: [os.getpid()]}
    if postgres is not None:
        groups["postgresql (all backends)"] = [postgres]
    if redis is not None:
        groups["redis"] = [redis]
    return groups


def cpu_per_transfer(shares: list[CpuShare], transfers: int) -> dict[str, float]:
    """CPU milliseconds per transfer of each group, over all phases."""
    names = sorted({n for share in shares for n in share.used})
    return {n: sum(share.used.get(n, 0.0) for share in shares) * 1000 / transfers
            for n in names} if transfers else {}  # fmt: skip


def describe_cpu(shares: list[CpuShare], transfers: int, seconds: float) -> str:
    """CPU milliseconds per transfer and cores used, per group, over all phases."""
    if not shares or not transfers:
        return "CPU per transfer: nothing measured"
    names = sorted({n for share in shares for n in share.used})
    lines = [f"CPU per P2P transfer over the measured phases ({transfers} transfers, "
             f"{seconds:.0f} s; 2 cores = 2.0 cores busy):"]  # fmt: skip
    total = 0.0
    for name in names:
        used = sum(share.used.get(name, 0.0) for share in shares)
        total += used
        lines.append(f"  {name:<32} {used * 1000 / transfers:6.3f} ms   "
                     f"{used / seconds:4.2f} cores")  # fmt: skip
    lines.append(f"  {'all of them':<32} {total * 1000 / transfers:6.3f} ms   "
                 f"{total / seconds:4.2f} cores")  # fmt: skip
    return "\n".join(lines)


async def reset_statements(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("SELECT pg_stat_statements_reset()")
        await conn.execute("SELECT pg_stat_reset()")
    finally:
        await conn.close()


async def top_statements(url: str, transfers: int, whose: str = "wallet's",
                         limit: int = 14) -> str:  # fmt: skip
    """A database's statements by total time since the reset, per transfer."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT toplevel, calls, total_exec_time, rows, "
            "regexp_replace(left(query, 90), '\\s+', ' ', 'g') AS query "
            "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT $1",
            limit,
        )
        functions = await conn.fetch(
            "SELECT funcname, calls, total_time, self_time FROM pg_stat_user_functions "
            "ORDER BY total_time DESC LIMIT 5"
        )
    finally:
        await conn.close()
    per = 1.0 / transfers if transfers else 0.0
    lines = [f"The {whose} PostgreSQL statements by time ({transfers} transfers; nested = "
             "inside a function; ms per transfer):"]  # fmt: skip
    for r in rows:
        where = "top" if r["toplevel"] else "nested"
        lines.append(f"  {r['total_exec_time'] * per:6.3f} ms  {r['calls']:>8} calls  "
                     f"{where:<6} {r['query']}")  # fmt: skip
    for f in functions:
        lines.append(f"  function {f['funcname']}: {f['calls']} calls, "
                     f"{f['total_time'] * per:.3f} ms per transfer "
                     f"(self {f['self_time'] * per:.3f})")  # fmt: skip
    return "\n".join(lines)
