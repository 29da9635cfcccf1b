"""``vellet bench all --quick`` runs the drain and scale parts end to end, one table.

Smoke sizes only: this proves the commands work and check their books, never
how fast anything is (no timed assertion; the figures belong to the README).
P2P, mail and cache have their own tiny runs (test_p2p/mail/cache_command).
"""

from __future__ import annotations

import subprocess
import sys

from vellet.bench.report import Row, correct, table


def test_bench_all_quick_prints_one_table_with_drain_and_scale_checked() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vellet", "bench", "all", "--quick", "--only", "drain", "scale"],
        capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line.split("|")[2:5] for line in done.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| measure")}  # fmt: skip
    drain = rows["drain books"]
    assert drain[0].strip() == "lost 0, duplicated 0, 500s 0, ACL denials 0, books agree"
    assert drain[2].strip() == "met"
    # The notifier, back after the timed drain, mailed every party as the drill's books want.
    assert rows["drain mail (notifier restarted after the drain)"][2].strip() == "met"
    assert rows["big ledger: ledger invariant"][0].strip() == "holds"
    assert any(name.startswith("backlog drain after a bank outage") for name in rows)
    assert any(name.startswith("P2P rate, big ledger / empty ledger") for name in rows)
    assert "history, 100th page p99" in rows
    assert any(name.startswith("RSS bank, backlog drain") for name in rows)
    assert "whole run" in rows


def test_a_failed_check_fails_the_run_and_a_missed_speed_goal_does_not() -> None:
    slow = Row("throughput", "1/s", ">= 500/s", False)
    books = Row("books", "lost 1", "lost 0", False, check=True)
    assert correct([slow])
    assert not correct([slow, books])
    assert "| books | lost 1 | lost 0 | NOT met |" in table([books])
