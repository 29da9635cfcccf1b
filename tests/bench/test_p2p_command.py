"""``vellet bench p2p`` runs end to end and says what it measured.

A tiny run (two clients, one second per phase, two rounds) against the
session's PostgreSQL and Redis: the figures themselves belong to the README,
measured on a quiet machine; this only keeps the command from rotting.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.servers import ServerSet


def test_the_p2p_benchmark_prints_every_round_their_median_and_the_invariant(
    servers: ServerSet,
) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "vellet", "bench", "p2p",
            "--clients", "2", "--seconds", "1", "--rounds", "2", "--users", "4",
            "--pgbench-clients", "2",
            "--postgres-url", servers.pg_admin_url, "--redis-url", servers.redis_url,
        ],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if re.match(r"\| (1|2|median) \|", line)]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2", "median"]
    for row in rows[:2]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        transfers, errors, rate, tps, ratio = (cells[3], cells[4], cells[5], cells[8], cells[9])
        assert int(transfers) > 0
        assert int(errors) == 0
        assert float(rate) > 0
        assert float(tps) > 0
        # The ratio is the two rates' quotient, printed to two decimals (on a loaded
        # machine a tiny run can round to 0.00, so check the arithmetic, not a floor).
        # (rate and TPS are printed rounded to whole numbers, hence the 0.5 / TPS.)
        assert abs(float(ratio) - float(rate) / float(tps)) <= 0.01 + 0.5 / float(tps)
    assert "ledger invariant after all rounds: holds" in done.stdout


def test_the_p2p_benchmark_can_profile_its_wallet(servers: ServerSet, tmp_path: Path) -> None:
    out = tmp_path / "wallet.prof"
    done = subprocess.run(
        [
            sys.executable, "-m", "vellet", "bench", "p2p",
            "--clients", "2", "--seconds", "1", "--rounds", "1", "--users", "4",
            "--pgbench-clients", "2", "--profile", str(out),
            "--postgres-url", servers.pg_admin_url, "--redis-url", servers.redis_url,
        ],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert out.stat().st_size > 0  # the wallet was stopped normally and wrote it
    stages = re.findall(r"(?m)^ +(.+?) +([0-9.]+) ms per transfer$", done.stdout)
    named = {name.strip(): float(ms) for name, ms in stages}
    assert named["HTTP request, all of it"] > 0
    assert named["ledger batch (SQL)"] > 0


def test_the_p2p_benchmark_compares_signed_and_unsigned_wallets_in_one_run(
    servers: ServerSet,
) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "vellet", "bench", "p2p", "--signing", "both",
            "--clients", "2", "--seconds", "1", "--rounds", "1", "--users", "4",
            "--pgbench-clients", "2",
            "--postgres-url", servers.pg_admin_url, "--redis-url", servers.redis_url,
        ],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert "signing on:" in done.stdout
    assert "signing off:" in done.stdout
    assert re.search(r"median ratio signed \d+\.\d\d, unsigned \d+\.\d\d: [+-]", done.stdout)


def test_the_unsigned_wallet_publishes_what_every_consumer_refuses() -> None:
    """The benchmark-only wallet really publishes unsigned messages (its own process only)."""
    probe = subprocess.run(
        [sys.executable, "-c",
         "from vellet.bench.unsigned_wallet import switch_off_signing; switch_off_signing(); "
         "from vellet.common import streams; from vellet.common.keys import PrivateKey; "
         "print(sorted(streams.message(PrivateKey.generate(), 's', {'a': 1})))"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert probe.stdout.strip() == "['payload']", probe.stderr


def test_the_p2p_benchmark_compares_a_setting_and_splits_the_cpu_and_the_statements() -> None:
    """An A/B in one run (the machine's noise hits both sides), the CPU of each
    process group per transfer, and PostgreSQL's own statement statistics."""
    done = subprocess.run(
        [
            sys.executable, "-m", "vellet", "bench", "p2p", "--no-fsync", "--pg-stats",
            "--compare", "VELLET_P2P_BATCH_MAX=1",
            "--clients", "2", "--seconds", "1", "--rounds", "1", "--users", "4",
            "--pgbench-clients", "2",
        ],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert "as deployed:" in done.stdout
    assert "with --compare:" in done.stdout
    assert re.search(r"with VELLET_P2P_BATCH_MAX=1 \d+\.\d\d: [+-]", done.stdout)
    # With batching off every batch is one transfer: the variant's table says so.
    variant = done.stdout.split("with --compare:")[1]
    assert re.search(r"\| 1\.0 \|\n", variant)
    groups = r"(?m)^  (wallet|postgresql \(all backends\)) +([0-9.]+) ms"
    cpu = dict(re.findall(groups, done.stdout))
    assert float(cpu["wallet"]) > 0
    assert float(cpu["postgresql (all backends)"]) > 0
    assert re.search(r"function wallet_p2p_batch: [1-9]\d* calls", done.stdout)
    assert "wallet_p2p_batch($1" in done.stdout


def test_a_compare_that_is_not_a_setting_is_a_readable_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vellet", "bench", "p2p", "--compare", "batch=2"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "VELLET_NAME=VALUE" in done.stderr
    assert "Traceback" not in done.stderr
